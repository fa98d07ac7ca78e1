package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	digestA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	digestB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

func TestParseSHA256(t *testing.T) {
	for in, want := range map[string]string{
		digestA:                               digestA,
		"sha256:" + digestA:                   digestA,
		" SHA256:" + strings.ToUpper(digestA): digestA,
		"sha256:" + digestA[:62]:              "",
		"md5:" + digestA:                      "",
		"sha256:sha256:" + digestA:            "",
		strings.Replace(digestA, "9", "g", 1): "",
	} {
		got, ok := ParseSHA256(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseSHA256(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// TestLockRoundTrip: what WriteLock writes, LoadLock reads back, and Load
// finds it beside the config; require_plugin_pins is read from the hub.
func TestLockRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "usmhub.hcl")
	if err := os.WriteFile(cfgPath, []byte("hub {\n  require_plugin_pins = true\n}\nconnector \"file\" \"a\" {\n  plugin_sha256 = \"sha256:"+strings.ToUpper(digestB)+"\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"file": digestA, "github": digestB}
	if err := WriteLock(filepath.Join(dir, LockFileName), want); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, LockFileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `sha256 = "sha256:`+digestA+`"`) || !strings.Contains(string(b), "usmhub plugins lock") {
		t.Errorf("lock file:\n%s", b)
	}
	cfg, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, cfg.Lock.Digests); diff != "" {
		t.Errorf("lock digests (-want +got):\n%s", diff)
	}
	if !cfg.Hub.RequirePluginPins || cfg.Connectors[0].PluginSHA256 != digestB {
		t.Errorf("require_plugin_pins %v, plugin_sha256 %q", cfg.Hub.RequirePluginPins, cfg.Connectors[0].PluginSHA256)
	}
}

func TestLockErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LockFileName)
	src := "connector \"file\" {\n  sha256 = \"sha256:abc\"\n}\nconnector \"git\" {\n  sha256 = \"" + digestA + "\"\n}\nconnector \"git\" {\n  sha256 = \"" + digestB + "\"\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadLock(path)
	var de *DiagError
	if !errors.As(err, &de) {
		t.Fatalf("LoadLock = %v, want a *DiagError", err)
	}
	got := err.Error()
	for _, want := range []string{
		path + `:2,12: Invalid sha256 in the lock file: "sha256:abc" is not a SHA-256 digest`,
		path + `:7,1: Duplicate connector "git" in the lock file: Connector type "git" is already locked at ` + path + `:4,1`,
		"run `usmhub plugins lock`",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("error lacks %q:\n%s", want, got)
		}
	}
	// Load refuses a config whose lock file is broken.
	if err := os.WriteFile(filepath.Join(dir, "usmhub.hcl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, "usmhub.hcl")); err == nil || !strings.Contains(err.Error(), "Invalid sha256 in the lock file") {
		t.Errorf("Load with a broken lock file = %v", err)
	}
}
