package github_test

import (
	"strings"
	"testing"

	"github.com/usmhub/usmhub/connectors/github/fakegithub"
)

// `usmhub validate` reaches GitHub through the connector's Check and says
// what is wrong, at the attribute: a bad token, a classic token without
// the repo scope, a fine-grained one without the Issues permission, an
// unknown repository. Missing labels are a warning: the first sync
// creates them.
func TestValidate(t *testing.T) {
	f := newFake(t)
	f.AddToken("classic-no-repo", fakegithub.Token{Login: "usmhub-bot", Scopes: []string{"read:org"}})
	f.AddToken("fine-no-issues", fakegithub.Token{Login: "usmhub-bot", Issues: "none"})
	h := newHub(t, f.BaseURL())
	out, errs, code := h.Run("validate")
	if code != 0 || !strings.Contains(errs, `label \"usm-risk\" does not exist`) && !strings.Contains(errs, `label "usm-risk" does not exist`) || !strings.Contains(errs, "the first sync creates it") {
		t.Errorf("validate of a good config without labels: exit %d\nstdout: %s\nstderr: %s\nwant exit 0 and a warning that the first sync creates the label", code, out, errs)
	}
	for _, tc := range []struct {
		token, repo string
		want        []string
	}{
		{"wrong-token", repo, []string{"token", "401"}},
		{"classic-no-repo", repo, []string{"token", "scope repo"}},
		{"fine-no-issues", repo, []string{"token", "issues=read", "Issues: Read and write"}},
		{token, "no-such-repo", []string{"repo", "no repository acme/no-such-repo"}},
	} {
		h := newHub(t, f.BaseURL())
		if tc.repo != repo {
			h.Write("usmhub.hcl", strings.Replace(hubConfigFor(f.BaseURL()), `repo              = "`+repo+`"`, `repo              = "`+tc.repo+`"`, 1))
		}
		cmd := h.Command("validate")
		for i, e := range cmd.Env {
			if strings.HasPrefix(e, "USMHUB_E2E_GITHUB_TOKEN=") {
				cmd.Env[i] = "USMHUB_E2E_GITHUB_TOKEN=" + tc.token
			}
		}
		b, err := cmd.CombinedOutput()
		text := string(b)
		t.Logf("validate with token %s, repo %s:\n%s", tc.token, tc.repo, text)
		if err == nil {
			t.Errorf("validate with token %s, repo %s: exit 0, want an error\n%s", tc.token, tc.repo, text)
		}
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("validate with token %s, repo %s does not say %q:\n%s", tc.token, tc.repo, w, text)
			}
		}
		if strings.Contains(text, tc.token) && tc.token != token {
			t.Errorf("validate showed the token %q:\n%s", tc.token, text)
		}
	}
}
