package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usmhub/usmhub/plugins/connectortest"
)

var (
	testConnOnce sync.Once
	testConnErr  error
)

// testConnector builds plugins/internal/testconnector next to usmhub: a
// connector whose project "leaky" echoes its token in every error, refused
// change and log line, as a tool echoing the API key in a 400 body would.
func testConnector(t *testing.T) {
	t.Helper()
	testConnOnce.Do(func() {
		_, testConnErr = connectortest.BuildBinary("github.com/usmhub/usmhub/plugins/internal/testconnector/cmd/usmhub-connector-test", "test", filepath.Dir(usmhubBin))
	})
	if testConnErr != nil {
		t.Fatal(testConnErr)
	}
}

// leakyConfig plants a secret in every secret-bearing place: the API token
// from file(), the connector's token from env().
const leakyConfig = `
hub {
  data_dir  = "data"
  strategy  = "erp"
  log_level = "trace"
  api_token = file("api-token.txt")
}

initiative "t" {
  name = "Leaks"
}

connector "test" "leaky" {
  project = "leaky"
  token   = env("USMHUB_TEST_LEAKY_TOKEN")
}

sync "risks" {
  kind      = "risk"
  connector = "test.leaky"
  direction = "both"
  schedule  = "@every 1h"
}

report "register" {
  kind       = "register"
  initiative = "t"
  publish_to = ["test.leaky"]
  schedule   = "@every 1h"
}
`

// TestSecretsNeverLeak plants distinct secrets (the connector's token from
// env(), the API token from file()), drives the commands and the daemon's
// endpoints through failures in which the connector echoes its token, and
// greps every output, log, and the store's files: zero hits. The failures
// must still be reported (with the secret hidden), or the test proves
// nothing.
func TestSecretsNeverLeak(t *testing.T) {
	testConnector(t)
	const connSecret = "conn-9d1f4e7a-planted"
	const apiSecret = "api-5b2c8e0f-planted"
	t.Setenv("USMHUB_TEST_LEAKY_TOKEN", connSecret)
	h := newHub(t, leakyConfig)
	h.Write("api-token.txt", apiSecret+"\n")
	h.OK("risk", "add", "-title", "A risk to push")

	var outputs []string
	record := func(args ...string) (string, string, int) {
		out, errs, code := h.Run(args...)
		outputs = append(outputs, "usmhub "+strings.Join(args, " ")+"\n"+out+errs)
		return out, errs, code
	}
	for _, args := range [][]string{
		{"validate"}, {"validate", "-json"}, {"plan"}, {"plan", "-json"},
		{"sync"}, {"sync", "-json"}, {"sync", "-full", "-force"},
		{"status"}, {"status", "-json"},
		{"report", "register", "-publish", "test.leaky"},
		{"readiness"}, {"readiness", "-json"}, {"log"},
	} {
		record(args...)
	}
	if _, _, code := record("sync"); code == 0 {
		t.Error("usmhub sync exited 0 against a connector that refuses everything")
	}
	out, _, _ := record("status")
	if !strings.Contains(out, "(sensitive value)") {
		t.Errorf("usmhub status does not show the failure with the secret hidden:\n%s", out)
	}

	s := startServe(t, h)
	var healthz string
	eventually(t, 60*time.Second, "the start-up runs fail", func() bool {
		s.alive()
		healthz = get(t, s, "/healthz", "Bearer "+apiSecret)
		return strings.Count(healthz, `"last_error"`) == 2
	}, s.logs.String)
	outputs = append(outputs, "GET /healthz with the token\n"+healthz)
	if !strings.Contains(healthz, "(sensitive value)") {
		t.Errorf("/healthz with the token does not show the error with the secret hidden: %s", healthz)
	}
	anon := get(t, s, "/healthz", "")
	if strings.Contains(anon, "last_error") || !strings.Contains(anon, `"ok":false`) {
		t.Errorf("/healthz without the token shows details, or no state: %s", anon)
	}
	outputs = append(outputs, "GET /healthz\n"+anon, "GET /metrics\n"+get(t, s, "/metrics", ""))
	for _, auth := range []string{"Bearer " + apiSecret, "Bearer " + connSecret, ""} {
		req, _ := http.NewRequest("POST", s.base+"/v1/sync/risks", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if resp, err := s.client.Do(req); err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			outputs = append(outputs, "POST /v1/sync/risks\n"+b.String())
		}
	}
	time.Sleep(time.Second) // let the triggered run fail and log
	s.signal(15)
	s.exited(15 * time.Second)
	outputs = append(outputs, "usmhub serve log\n"+s.logs.String())

	// The store, byte by byte, and every other file the hub wrote.
	err := filepath.Walk(filepath.Join(h.Dir, "data"), func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		outputs = append(outputs, path+"\n"+string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outputs {
		for _, secret := range []string{connSecret, apiSecret} {
			if i := strings.Index(o, secret); i >= 0 {
				head, _, _ := strings.Cut(o, "\n")
				t.Errorf("%s leaked in %s: …%s…", secret, head, o[max(0, i-200):min(len(o), i+100)])
			}
		}
	}
}

// get returns the body of GET path sent with that Authorization header.
func get(t *testing.T, s *serving, path, authorization string) string {
	t.Helper()
	req, err := http.NewRequest("GET", s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

// A value read with env() or file() is never shown in a diagnostic, also
// where a connector's attribute is not sensitive and the connector echoes
// it in its refusal.
func TestValidateHidesFunctionValues(t *testing.T) {
	fileConnector(t)
	const planted = "planted-folder-4e1b"
	t.Setenv("USMHUB_TEST_SHEET_DIR", planted)
	h := newHub(t, `
hub {
  data_dir = "data"
}

connector "file" "sheet" {
  dir = env("USMHUB_TEST_SHEET_DIR")
}
`)
	out, errs, code := h.Run("validate")
	if code != 1 || !strings.Contains(errs, "dir: folder ") || !strings.Contains(errs, "(sensitive value)") {
		t.Errorf("validate: exit %d, want 1 and the missing folder, its name hidden\n%s%s", code, out, errs)
	}
	if strings.Contains(out+errs, planted) {
		t.Errorf("validate shows the value env() read:\n%s%s", out, errs)
	}
}
