package host

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// binDir holds the connector binaries TestMain builds.
var binDir string

// helperHubEnv makes the test binary act as a tiny hub (see runHelperHub).
const helperHubEnv = "USMHUB_HOSTTEST_HELPER_HUB"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperHubEnv); dir != "" {
		runHelperHub(dir)
		return
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "usmhub-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	if err := buildConnector(filepath.Join(dir, "usmhub-connector-test"), "../internal/testconnector/cmd/usmhub-connector-test"); err != nil {
		fmt.Fprintln(os.Stderr, "build test connector:", err)
		return 1
	}
	defer plugin.CleanupClients()
	return m.Run()
}

// buildConnector builds the plugin main package pkg into path the way
// `make build` builds connectors (the Makefile's CONNECTOR_GOENV and
// CONNECTOR_GOFLAGS; connectortest.BuildBinary does the same), so that the
// benchmarks launch what ships.
func buildConnector(path, pkg string) error {
	cmd := exec.Command("go", "build", "-tags", "grpcnotrace", "-ldflags", "-s -w", "-o", path, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// runHelperHub launches the test connector from binDir and prints the
// plugin's pid, then waits to be killed.
func runHelperHub(dir string) {
	h, err := New(Options{Dirs: []string{dir}, Logger: hclog.NewNullLogger()})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	i, err := h.Launch(context.Background(), "test", "helper", "")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pid", i.Pid())
	time.Sleep(time.Hour)
}

// newHost returns a Host over binDir, closed when the test ends, logging
// into the test log.
func newHost(t testing.TB, opts Options) *Host {
	t.Helper()
	if opts.Dirs == nil {
		opts.Dirs = []string{binDir}
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "hub", Level: hclog.Info, Output: testWriter{t}})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// configure configures c with the test connector's settings.
func configure(t testing.TB, c sdk.Connector, settings map[string]any) {
	t.Helper()
	m := map[string]any{"project": "p"}
	for k, v := range settings {
		m[k] = v
	}
	cfg, err := sdk.ConfigFromMap(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Configure(context.Background(), cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
}

// pidAlive says whether pid runs (a zombie does not count).
func pidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// readPid reads "pid N" from the helper hub's stdout.
func readPid(t *testing.T, sc *bufio.Scanner) int {
	t.Helper()
	for sc.Scan() {
		var pid int
		if _, err := fmt.Sscanf(sc.Text(), "pid %d", &pid); err == nil {
			return pid
		}
		t.Logf("helper hub: %s", sc.Text())
	}
	t.Fatalf("helper hub printed no pid: %v", sc.Err())
	return 0
}
