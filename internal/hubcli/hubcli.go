// Package hubcli runs the built usmhub binary as a user does, for the
// tests that drive it from outside (the CLI tests and the end-to-end
// suites): in a folder of its own holding its usmhub.hcl, with
// USMHUB_CONFIG cleared so that only that config counts, reporting
// stdout, stderr and the exit code.
package hubcli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Hub is a usmhub folder of one test and the binary that runs in it.
type Hub struct {
	T   testing.TB
	Dir string
	// Bin is the usmhub binary.
	Bin string
	// Env is added to the test's environment for every run (e.g. the
	// variable an env() of the config reads).
	Env []string
	// Secret, when set, must never show in a run's output: Run fails the
	// test if it does.
	Secret string
}

// New makes a Hub in a fresh temporary folder with config as its
// usmhub.hcl.
func New(t testing.TB, bin, config string, env ...string) *Hub {
	t.Helper()
	h := At(t, bin, t.TempDir(), env...)
	h.Write("usmhub.hcl", config)
	return h
}

// At is a Hub in the folder dir as it is (no config is written).
func At(t testing.TB, bin, dir string, env ...string) *Hub {
	return &Hub{T: t, Dir: dir, Bin: bin, Env: env}
}

// Write writes a file (and its folders) in the hub's folder and returns
// its path.
func (h *Hub) Write(name, content string) string {
	h.T.Helper()
	p := filepath.Join(h.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.T.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.T.Fatal(err)
	}
	return p
}

// Command returns usmhub with args, to run in the hub's folder.
func (h *Hub) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(h.Bin, args...)
	cmd.Dir = h.Dir
	cmd.Env = append(append(os.Environ(), "USMHUB_CONFIG="), h.Env...)
	return cmd
}

// Run runs usmhub and returns stdout, stderr and the exit code.
func (h *Hub) Run(args ...string) (string, string, int) {
	h.T.Helper()
	cmd := h.Command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		h.T.Fatalf("run usmhub %v: %v", args, err)
	}
	if h.Secret != "" && strings.Contains(out.String()+errb.String(), h.Secret) {
		h.T.Errorf("usmhub %v showed the secret", args)
	}
	return out.String(), errb.String(), code
}

// OK runs usmhub and fails the test unless it exits 0.
func (h *Hub) OK(args ...string) string {
	h.T.Helper()
	out, errs, code := h.Run(args...)
	if code != 0 {
		h.T.Fatalf("usmhub %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// JSONOf runs usmhub with -json and decodes its output into v.
func (h *Hub) JSONOf(v any, args ...string) {
	h.T.Helper()
	out := h.OK(append(args, "-json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		h.T.Fatalf("usmhub %s -json: %v\n%s", strings.Join(args, " "), err, out)
	}
}
