package readiness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/config"
)

// The tests in this file pin bugs that were reported and fixed: they state
// the behaviour we want and failed on the code as it was.

// A configured connector the caller says nothing about was not checked;
// today it counts as healthy. The daemon's scheduled readiness reports pass
// no health at all (then cmd/usmhub/serve.go, now core/app reportJob), so they tell the stakeholders
// that the connectors are healthy without having tried one.
func TestFixedBugConnectorWithoutHealthIsUnchecked(t *testing.T) {
	checks := evaluate(t, "ready.hcl", nil, nil)
	want := Check{Precondition: 5, Name: "coordination tools", Status: Warn,
		Reason: "strategy erp with file.local; not checked: file.local",
		Next:   "run usmhub readiness without -offline to reach the tools"}
	if diff := cmp.Diff(want, checks[4]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// The next steps of checks 8 and 9 show config to paste; it must load. The
// priority example quotes the expression, which makes it a string (refused:
// a policy must yield a number), and the report example puts several
// attributes on one line, which HCL does not allow.
func TestFixedBugNextStepsAreValidConfig(t *testing.T) {
	checks := evaluate(t, "bare.hcl", nil, nil)
	for _, c := range []Check{checks[7], checks[8]} {
		_, example, ok := strings.Cut(c.Next, "e.g. ")
		if !ok {
			t.Fatalf("check %d: no example in %q", c.Precondition, c.Next)
		}
		example = strings.TrimSuffix(example, ", before the first sprint")
		path := filepath.Join(t.TempDir(), "usmhub.hcl")
		cfg := "initiative \"sd\" {\n  name = \"x\"\n}\n\nconnector \"file\" \"local\" {\n  path = \"sheet\"\n}\n\n" + example + "\n"
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := config.Load(path); err != nil {
			t.Errorf("check %d's example %s does not load:\n%v", c.Precondition, example, err)
		}
	}
}
