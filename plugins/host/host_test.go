package host

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/usmhub/usmhub/plugins/sdk"
)

func launch(t *testing.T, h *Host, pin string) *Instance {
	t.Helper()
	i, err := h.Launch(context.Background(), "test", "main", pin)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	return i
}

func TestLaunchDescribe(t *testing.T) {
	h := newHost(t, Options{})
	i := launch(t, h, "")
	d, err := i.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "test" || d.ProtocolVersion != sdk.ProtocolVersion || !d.Capability(sdk.KindRisk).Pull {
		t.Errorf("Describe = %+v", d)
	}
	if i.Pid() == 0 {
		t.Error("Pid() = 0 for a running plugin")
	}
	if i.Binary().Path != filepath.Join(binDir, "usmhub-connector-test") {
		t.Errorf("Binary().Path = %q", i.Binary().Path)
	}
	configure(t, i, map[string]any{"batches": 2, "records": 3})
	if err := i.Check(context.Background()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestLaunchPinnedSHA256(t *testing.T) {
	h := newHost(t, Options{})
	sum, err := FileSHA256(filepath.Join(binDir, "usmhub-connector-test"))
	if err != nil {
		t.Fatal(err)
	}
	i := launch(t, h, strings.ToUpper(sum))
	if got := i.Binary().SHA256; got != sum {
		t.Errorf("Binary().SHA256 = %s, want %s", got, sum)
	}
}

func TestLaunchWrongSHA256Refused(t *testing.T) {
	h := newHost(t, Options{})
	path := filepath.Join(binDir, "usmhub-connector-test")
	actual, err := FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	pin := strings.Repeat("ab", 32)
	_, err = h.Launch(context.Background(), "test", "main", pin)
	want := "connector test.main: plugin sha256 mismatch: expected " + pin + ", got " + actual + " (binary " + path + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("Launch with a wrong pin = %v\nwant %s", err, want)
	}
	if n := len(h.Instances()); n != 0 {
		t.Errorf("%d instances after a refused launch", n)
	}

	_, err = h.Launch(context.Background(), "test", "main", "not-a-digest")
	if err == nil || !strings.Contains(err.Error(), `plugin_sha256 "not-a-digest" is not a sha256 digest`) {
		t.Errorf("Launch with a malformed pin = %v", err)
	}
}

func TestLaunchHandshakeVersionMismatch(t *testing.T) {
	h := newHost(t, Options{Env: []string{"USMHUB_TESTCONNECTOR_HANDSHAKE_VERSION=99"}})
	_, err := h.Launch(context.Background(), "test", "main", "")
	want := "connector test.main: plugin speaks connector protocol version 99, this hub speaks version " + strconv.Itoa(sdk.ProtocolVersion) + " (binary " +
		filepath.Join(binDir, "usmhub-connector-test") + "): rebuild the connector against this hub's SDK"
	if err == nil || err.Error() != want {
		t.Fatalf("Launch = %v\nwant %s", err, want)
	}
}

func TestLaunchDescribeVersionMismatch(t *testing.T) {
	h := newHost(t, Options{Env: []string{"USMHUB_TESTCONNECTOR_DESCRIBE_VERSION=99"}})
	_, err := h.Launch(context.Background(), "test", "main", "")
	want := "connector test.main: plugin describes connector protocol version 99, this hub speaks version " + strconv.Itoa(sdk.ProtocolVersion) + " (binary " +
		filepath.Join(binDir, "usmhub-connector-test") + "): rebuild the connector against this hub's SDK"
	if err == nil || err.Error() != want {
		t.Fatalf("Launch = %v\nwant %s", err, want)
	}
}

func TestLaunchUnknownType(t *testing.T) {
	h := newHost(t, Options{})
	_, err := h.Launch(context.Background(), "nosuch", "x", "")
	if err == nil || !strings.Contains(err.Error(), "connector nosuch.x: no plugin binary usmhub-connector-nosuch in "+binDir) {
		t.Errorf("Launch = %v", err)
	}
}

func TestConfigureErrorCrossesTheWire(t *testing.T) {
	h := newHost(t, Options{})
	i := launch(t, h, "")
	cfg, _ := sdk.ConfigFromMap(map[string]any{"project": "", "records": -1})
	err := i.Configure(context.Background(), cfg)
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Configure = %v, want an *sdk.ConfigError in the chain", err)
	}
	got := map[string]string{}
	for _, p := range ce.Problems {
		got[p.Attribute] = p.Summary
	}
	if diff := cmp.Diff(map[string]string{"project": "project is empty", "records": "must not be negative"}, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// pullAll pulls and returns the batches delivered.
func pullAll(c sdk.Connector, cursor string, onBatch func(n int)) ([]sdk.Batch, error) {
	var got []sdk.Batch
	err := c.Pull(context.Background(), sdk.PullRequest{Kind: sdk.KindRisk, Cursor: cursor}, func(b sdk.Batch) error {
		got = append(got, b)
		if onBatch != nil {
			onBatch(len(got))
		}
		return nil
	})
	return got, err
}

func TestPluginKilledMidStream(t *testing.T) {
	h := newHost(t, Options{})
	i := launch(t, h, "")
	// 2000 records of ~1 KiB: each batch spans several gRPC messages.
	configure(t, i, map[string]any{"batches": 6, "records": 2000, "record_bytes": 1000, "sleep_ms": 300})
	pid := i.Pid()
	got, err := pullAll(i, "", func(n int) {
		if n == 1 {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Errorf("kill plugin: %v", err)
			}
		}
	})
	if !errors.Is(err, ErrPluginExited) {
		t.Fatalf("Pull after the plugin was killed = %v, want ErrPluginExited", err)
	}
	if sdk.ClassOf(err) != sdk.ClassTransient {
		t.Errorf("ClassOf(%v) = %s, want transient", err, sdk.ClassOf(err))
	}
	if len(got) == 0 || len(got) >= 6 {
		t.Fatalf("%d batches delivered, want at least the first and not all", len(got))
	}
	for n, b := range got {
		if len(b.Records) != 2000 || b.Cursor != strconv.Itoa(n+1) {
			t.Errorf("batch %d: %d records, cursor %q: a batch was delivered incomplete", n+1, len(b.Records), b.Cursor)
		}
	}

	// The next call relaunches the plugin and sends it its config again:
	// pulling from the last cursor gets the remaining batches.
	cursor := got[len(got)-1].Cursor
	rest, err := pullAll(i, cursor, nil)
	if err != nil {
		t.Fatalf("Pull after the crash: %v", err)
	}
	if len(got)+len(rest) != 6 {
		t.Errorf("pulled %d + %d batches, want 6", len(got), len(rest))
	}
	if p := i.Pid(); p == pid || p == 0 {
		t.Errorf("Pid() = %d after relaunch, was %d", p, pid)
	}
}

func TestCrashedPluginRelaunchedWithBackoff(t *testing.T) {
	h := newHost(t, Options{})
	i := launch(t, h, "")
	configure(t, i, map[string]any{"batches": 3, "records": 5, "crash_after": 1})
	pids := map[int]bool{}
	for round := range 3 {
		pids[i.Pid()] = true
		got, err := pullAll(i, "", nil)
		if !errors.Is(err, ErrPluginExited) {
			t.Fatalf("round %d: Pull = %v, want ErrPluginExited", round, err)
		}
		for _, b := range got {
			if len(b.Records) != 5 {
				t.Errorf("round %d: a batch of %d records, want 5", round, len(b.Records))
			}
		}
		// The next call relaunches (after a backoff) with the same config,
		// so it crashes again after one batch.
		if _, err := i.Describe(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := i.Check(context.Background()); err != nil {
			t.Fatalf("round %d: Check after the crash: %v", round, err)
		}
	}
	if len(pids) != 3 {
		t.Errorf("%d distinct plugin pids over 3 crashes, want 3", len(pids))
	}
	i.mu.Lock()
	launches := i.launches
	i.mu.Unlock()
	if launches != 4 {
		t.Errorf("launches in a row = %d, want 4 (the backoff count)", launches)
	}
}

func TestRelaunchDelay(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 9; n++ {
		got = append(got, relaunchDelay(n))
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("relaunchDelay (-want +got):\n%s", diff)
	}
}

func TestPullIdleTimeout(t *testing.T) {
	h := newHost(t, Options{CallTimeout: 300 * time.Millisecond})
	i := launch(t, h, "")
	configure(t, i, map[string]any{"batches": 3, "records": 1, "sleep_ms": 2000})
	got, err := pullAll(i, "", nil)
	var te *TimeoutError
	if !errors.As(err, &te) || !te.Idle || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pull = %v, want an idle *TimeoutError", err)
	}
	if len(got) != 1 {
		t.Errorf("%d batches before the timeout, want 1", len(got))
	}
	// A slow hub is not a slow plugin: time in send does not count.
	configure(t, i, map[string]any{"batches": 2, "records": 1})
	err = i.Pull(context.Background(), sdk.PullRequest{Kind: sdk.KindRisk}, func(sdk.Batch) error {
		time.Sleep(500 * time.Millisecond)
		return nil
	})
	if err != nil {
		t.Errorf("Pull with a slow send: %v", err)
	}
}

func TestSendErrorEndsPull(t *testing.T) {
	h := newHost(t, Options{})
	i := launch(t, h, "")
	configure(t, i, map[string]any{"batches": 5, "records": 1})
	stop := errors.New("store full")
	n := 0
	err := i.Pull(context.Background(), sdk.PullRequest{Kind: sdk.KindRisk}, func(sdk.Batch) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("Pull = %v after %d batches, want the send error after 1", err, n)
	}
	if err := i.Check(context.Background()); err != nil {
		t.Errorf("Check after an aborted pull: %v", err)
	}
}

func TestClosedInstance(t *testing.T) {
	h := newHost(t, Options{})
	i := launch(t, h, "")
	pid := i.Pid()
	if err := i.Close(); err != nil {
		t.Fatal(err)
	}
	if err := i.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "connector test.main: connector instance is closed") {
		t.Errorf("Check on a closed instance = %v", err)
	}
	waitGone(t, pid)
}

func TestHostCloseKillsPlugins(t *testing.T) {
	h := newHost(t, Options{})
	a := launch(t, h, "")
	b, err := h.Launch(context.Background(), "test", "other", "")
	if err != nil {
		t.Fatal(err)
	}
	pids := []int{a.Pid(), b.Pid()}
	sockets := h.sockets.path
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
	if _, err := os.Stat(sockets); !os.IsNotExist(err) {
		t.Errorf("socket folder %s still there after Close: %v", sockets, err)
	}
	if _, err := h.Launch(context.Background(), "test", "late", ""); err == nil {
		t.Error("Launch after Close succeeded")
	}
}

// waitGone waits (a bound, not a speed assertion) for pid to disappear.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for pidAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin process %d still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHubKilledLeavesNoPlugin(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("requires Linux: the parent-death signal is Linux only")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	hub := exec.Command(exe, "-test.run=^$")
	hub.Env = append(os.Environ(), helperHubEnv+"="+binDir)
	out, err := hub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	hub.Stderr = testWriter{t}
	if err := hub.Start(); err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, bufio.NewScanner(out))
	if !pidAlive(pid) {
		t.Fatalf("plugin %d not running while its hub runs", pid)
	}
	if err := hub.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = hub.Wait()
	waitGone(t, pid)
}

func TestStaleSocketFoldersRemoved(t *testing.T) {
	base := t.TempDir()
	stale := filepath.Join(base, "host-1-dead")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{lockName, "plugin123456"} {
		if err := os.WriteFile(filepath.Join(stale, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	live := newHost(t, Options{SocketBase: base})
	h := newHost(t, Options{SocketBase: base})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale folder still there: %v", err)
	}
	if _, err := os.Stat(live.sockets.path); err != nil {
		t.Errorf("a live host's folder was removed: %v", err)
	}
	// Plugins create their sockets in the host's folder.
	i := launch(t, h, "")
	rc := i.client.ReattachConfig()
	if rc == nil || filepath.Dir(rc.Addr.String()) != h.sockets.path {
		t.Errorf("plugin socket %v not in %s", rc, h.sockets.path)
	}
}

func TestDiscover(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	write := func(dir, name string, mode os.FileMode, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "usmhub-connector-redmine", 0o755, "a")
	write(b, "usmhub-connector-redmine", 0o755, "b")
	write(b, "usmhub-connector-file", 0o755, "f")
	write(b, "usmhub-connector-notexec", 0o644, "n")
	write(b, "usmhub-connector-Bad.Name", 0o755, "x")
	write(b, "other-tool", 0o755, "o")
	got, err := Discover(a, filepath.Join(a, "missing"), b)
	if err != nil {
		t.Fatal(err)
	}
	want := []Binary{
		{Type: "file", Path: filepath.Join(b, "usmhub-connector-file"), SHA256: "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"},
		{Type: "redmine", Path: filepath.Join(a, "usmhub-connector-redmine"), SHA256: "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Discover (-want +got):\n%s", diff)
	}
}

func TestInProcess(t *testing.T) {
	c, stop, err := InProcess(func() sdk.Connector { return newMemConnector() })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()

	d, err := c.Describe(ctx)
	if err != nil || d.Name != "mem" || d.SearchLag != 2*time.Second || d.Schema.Attributes[0].Type != sdk.TypeListString {
		t.Fatalf("Describe = %+v, %v", d, err)
	}
	err = c.Configure(ctx, sdk.NewConfig([]byte(`{"bad": true}`)))
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || ce.Problems[0].Attribute != "bad" || err.Error() != "configure: bad: no good: fix it" {
		t.Errorf("Configure = %#v (%v), want the wrapped *sdk.ConfigError", err, err)
	}
	if err := c.Configure(ctx, sdk.NewConfig([]byte(`{}`))); err != nil {
		t.Fatal(err)
	}

	res, err := c.Push(ctx, sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{
		{Op: sdk.OpCreate, Marker: sdk.Marker("h1"), Fields: map[string]string{"title": "a"}},
		{Op: sdk.OpUpdate, ExternalID: "nope"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantRes := []sdk.Result{
		{ExternalID: "1", Version: "1", Fields: map[string]string{"title": "a"}},
		{Err: &sdk.Error{Class: sdk.ClassConflict, Message: "no nope", RetryAfter: time.Second}},
	}
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Errorf("Push (-want +got):\n%s", diff)
	}

	rec, err := c.Find(ctx, sdk.KindRisk, sdk.Marker("h1"))
	if err != nil || rec == nil || rec.ExternalID != "1" || !rec.UpdatedAt.Equal(memTime) {
		t.Errorf("Find = %+v, %v", rec, err)
	}
	if rec, err := c.Find(ctx, sdk.KindRisk, sdk.Marker("h2")); rec != nil || err != nil {
		t.Errorf("Find(missing) = %+v, %v", rec, err)
	}

	batches, err := pullAll(c, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantBatches := []sdk.Batch{
		{Records: []sdk.Record{{ExternalID: "1", Version: "1", UpdatedAt: memTime, Marker: sdk.Marker("h1"), Fields: map[string]string{"title": "a"}}}, Cursor: "c1"},
		{Records: []sdk.Record{}, Cursor: "c2"},
	}
	if diff := cmp.Diff(wantBatches, batches); diff != "" {
		t.Errorf("Pull (-want +got):\n%s", diff)
	}
	_, err = pullAll(c, "bogus", nil)
	if sdk.ClassOf(err) != sdk.ClassInvalid || err.Error() != "invalid: bad cursor" {
		t.Errorf("Pull(bogus) = %v", err)
	}

	if _, err := c.Publish(ctx, sdk.Report{Key: "k"}); !errors.Is(err, sdk.ErrUnsupported) || err != sdk.ErrUnsupported {
		t.Errorf("Publish = %v, want sdk.ErrUnsupported", err)
	}
	if err := c.Check(ctx); !errors.Is(err, sdk.ErrUnsupported) || sdk.ClassOf(err) != sdk.ClassTransient || err.Error() != "check: transient: later: not supported by this connector" {
		t.Errorf("Check = %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the relaying goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestPluginLogsRelayedUnderInstanceName(t *testing.T) {
	var out syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Name: "hub", Level: hclog.Debug, Output: &out})
	h := newHost(t, Options{Logger: log})
	i := launch(t, h, "")
	configure(t, i, map[string]any{"batches": 1, "records": 1, "token": "tok-secret"})
	if err := i.Close(); err != nil {
		t.Fatal(err)
	}
	logs := out.String()
	// go-plugin relays a plugin's stderr under the instance's logger,
	// named after the binary, at the level each line was logged at.
	if !regexp.MustCompile(`\[DEBUG\] hub\.connector\.test\.main\.usmhub-connector-test: configured: .*project=p`).MatchString(logs) {
		t.Errorf("the plugin's log line was not relayed under hub.connector.test.main:\n%s", logs)
	}
	if !strings.Contains(logs, "[INFO]  hub.connector.test.main: plugin started:") {
		t.Errorf("no start line under hub.connector.test.main:\n%s", logs)
	}
	if strings.Contains(logs, "tok-secret") {
		t.Errorf("a sensitive value reached the log:\n%s", logs)
	}
}

// The hub's environment (where secrets such as API keys often live) does
// not reach plugins: only what Options.Env names.
func TestPluginsDoNotInheritTheHubsEnvironment(t *testing.T) {
	t.Setenv("USMHUB_TESTCONNECTOR_DESCRIBE_VERSION", "99")
	h := newHost(t, Options{})
	if _, err := h.Launch(context.Background(), "test", "main", ""); err != nil {
		t.Fatalf("the hub's environment reached the plugin: %v", err)
	}
}

// killStartsEnv makes the test connector's next starts die before their
// handshake, as a plugin killed while it starts: as many as the file it
// names holds (see the command's doc).
func killStartsEnv(t *testing.T, n int) (env, file string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "kill-starts")
	armKills(t, file, n)
	return "USMHUB_TESTCONNECTOR_KILL_STARTS=" + file, file
}

func armKills(t *testing.T, file string, n int) {
	t.Helper()
	if err := os.WriteFile(file, []byte(strconv.Itoa(n)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func killsLeft(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A plugin killed while it starts is launched again, with the relaunch
// backoff, by Launch and by the relaunch of a call.
func TestPluginKilledWhileStartingIsRelaunched(t *testing.T) {
	env, file := killStartsEnv(t, 1)
	h := newHost(t, Options{Env: []string{env}})
	i, err := h.Launch(context.Background(), "test", "main", "")
	if err != nil {
		t.Fatalf("Launch of a plugin killed once while it started = %v, want it launched again", err)
	}
	if n := killsLeft(t, file); n != 0 {
		t.Fatalf("%d kills left, want 0: the first start was not killed", n)
	}
	configure(t, i, nil)

	// Killed while it runs, and once more while it starts again: the next
	// call relaunches it until it runs.
	pid := i.Pid()
	armKills(t, file, 1)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); i.Pid() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the host did not notice the plugin's death")
		}
	}
	if err := i.Check(context.Background()); err != nil {
		t.Fatalf("Check after the plugin died, and was killed again while it restarted = %v, want it relaunched", err)
	}
	if n := killsLeft(t, file); n != 0 {
		t.Errorf("%d kills left, want 0: the relaunch was not killed", n)
	}
	if p := i.Pid(); p == 0 || p == pid {
		t.Errorf("Pid() = %d after the relaunch, was %d", p, pid)
	}
}

// A plugin that dies at every start fails Launch, after four launches, with
// an error that names the connector and says what happened, not go-plugin's
// guesses (architecture, libraries, permissions).
func TestPluginThatKeepsDyingWhileStarting(t *testing.T) {
	env, file := killStartsEnv(t, 100)
	h := newHost(t, Options{Env: []string{env}})
	_, err := h.Launch(context.Background(), "test", "main", "")
	want := "connector test.main: the plugin process exited during its handshake (signal: killed), at each of 4 launches in a row (binary " +
		filepath.Join(binDir, "usmhub-connector-test") + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("Launch of a plugin killed at every start = %v\nwant %s", err, want)
	}
	var se *StartExitError
	if !errors.As(err, &se) || !errors.Is(err, ErrPluginExited) || sdk.ClassOf(err) != sdk.ClassTransient {
		t.Errorf("the error is not a transient *StartExitError wrapping ErrPluginExited: %#v", err)
	}
	if n := killsLeft(t, file); n != 96 {
		t.Errorf("%d kills left of 100, want 96: four launches", n)
	}
	if n := len(h.Instances()); n != 0 {
		t.Errorf("%d instances after a failed launch", n)
	}
}

// A connector that echoes its secret in every error, refused change and
// log line (a tool echoing the API key in a 400 body) reaches the hub
// scrubbed: the Instance is the boundary. The errors keep their class and
// what errors.As finds holds no secret either.
func TestConnectorTextIsScrubbedAtTheBoundary(t *testing.T) {
	const secret = "tok-3f9c1d-planted"
	var out syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Name: "hub", Level: hclog.Trace, Output: &out})
	h := newHost(t, Options{Logger: log})
	ctx := context.Background()

	i := launch(t, h, "")
	cfg, err := sdk.ConfigFromMap(map[string]any{"project": "leaky-config", "token": secret})
	if err != nil {
		t.Fatal(err)
	}
	err = i.Configure(ctx, cfg)
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Attribute != "token" {
		t.Fatalf("Configure = %#v, want a ConfigError on token", err)
	}
	var texts []string
	texts = append(texts, err.Error(), ce.Problems[0].Summary, ce.Problems[0].Detail)

	configure(t, i, map[string]any{"project": "leaky", "token": secret})
	errs := map[string]error{}
	errs["check"] = i.Check(ctx)
	errs["pull"] = i.Pull(ctx, sdk.PullRequest{Kind: sdk.KindRisk}, func(sdk.Batch) error { return nil })
	_, errs["find"] = i.Find(ctx, sdk.KindRisk, "usmhub-x")
	_, errs["publish"] = i.Publish(ctx, sdk.Report{Key: "k", Title: "t"})
	results, err := i.Push(ctx, sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{{Op: sdk.OpCreate, Marker: "usmhub-x", Fields: map[string]string{"title": "t"}}}})
	if err != nil || len(results) != 1 || results[0].Err == nil {
		t.Fatalf("Push = %v, %v; want one refused change", results, err)
	}
	if results[0].Err.Class != sdk.ClassInvalid {
		t.Errorf("refused change's class = %s, want invalid", results[0].Err.Class)
	}
	texts = append(texts, results[0].Err.Error())
	for call, err := range errs {
		if err == nil {
			t.Fatalf("%s: no error from the leaky connector", call)
		}
		if sdk.ClassOf(err) != sdk.ClassPermanent {
			t.Errorf("%s: class %s, want permanent: %v", call, sdk.ClassOf(err), err)
		}
		var se *sdk.Error
		if !errors.As(err, &se) {
			t.Fatalf("%s: no *sdk.Error in %v", call, err)
		}
		if !strings.Contains(err.Error(), RedactedValue) {
			t.Errorf("%s: %q does not say a value was hidden", call, err)
		}
		texts = append(texts, err.Error(), se.Message)
	}
	if err := i.Close(); err != nil {
		t.Fatal(err)
	}
	texts = append(texts, out.String())
	if !strings.Contains(out.String(), "the tool refused the key") {
		t.Errorf("the plugin's log line was not relayed:\n%s", out.String())
	}
	for _, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("the secret reached the hub: %s", s)
		}
	}
}

func TestScrubErrorKeepsTheChain(t *testing.T) {
	const secret = "hunter2-hunter2"
	base := &sdk.Error{Class: sdk.ClassTransient, Message: "bad key " + secret, RetryAfter: time.Second}
	err := ScrubError(fmt.Errorf("connector x.y: pull: %w: %w", ErrPluginExited, base), []string{secret})
	if strings.Contains(err.Error(), secret) {
		t.Errorf("not scrubbed: %v", err)
	}
	if !errors.Is(err, ErrPluginExited) {
		t.Error("lost ErrPluginExited")
	}
	err = ScrubError(fmt.Errorf("connector x.y: pull: %w", base), []string{secret})
	var se *sdk.Error
	if !errors.As(err, &se) || se.Class != sdk.ClassTransient || se.RetryAfter != time.Second || strings.Contains(se.Message, secret) {
		t.Errorf("errors.As *sdk.Error = %+v", se)
	}
	plain := errors.New("nothing secret here")
	if ScrubError(plain, []string{secret}) != plain {
		t.Error("an error without a secret was rebuilt")
	}
}
