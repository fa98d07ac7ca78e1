package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/schedule"
)

// deadline bounds every wait in these tests. It is a deadline for a test
// that would otherwise hang, not a speed requirement.
const deadline = 20 * time.Second

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is one daemon Run in the background, listening on loopback.
type harness struct {
	t       *testing.T
	logs    *logBuffer
	signals chan os.Signal
	addrs   chan string // "http://host:port" each time the daemon listens
	base    string      // the latest of addrs
	cancel  context.CancelFunc
	done    chan error // Run's result
}

// start runs a daemon with load, and waits until it listens. The test's
// cleanup stops it.
func start(t *testing.T, load Loader, opts Options) *harness {
	t.Helper()
	h := &harness{
		t:       t,
		logs:    &logBuffer{},
		signals: make(chan os.Signal, 1),
		addrs:   make(chan string, 10),
		done:    make(chan error, 1),
	}
	opts.Signals = h.signals
	onListen := opts.OnListen
	opts.OnListen = func(a net.Addr) {
		if onListen != nil {
			onListen(a)
		}
		h.addrs <- "http://" + a.String()
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "usmhub", Level: hclog.Debug, Output: h.logs})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- Run(ctx, logger, load, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(deadline):
			t.Error("Run did not return after cancel")
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", h.logs.String())
		}
	})
	select {
	case h.base = <-h.addrs:
	case err := <-h.done:
		t.Fatalf("Run returned before listening: %v", err)
	case <-time.After(deadline):
		t.Fatal("timed out waiting for the daemon to listen")
	}
	return h
}

// stop cancels Run's context and returns Run's result.
func (h *harness) stop() error {
	h.t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(deadline):
		h.t.Fatal("Run did not return after cancel")
		return nil
	}
}

// do sends a request to the daemon and returns the status, headers and body.
func (h *harness) do(method, path, authorization string) (int, http.Header, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// health returns GET /healthz, decoded.
func (h *harness) health() Health {
	h.t.Helper()
	return h.healthAs("")
}

// healthAs returns GET /healthz sent with that Authorization header, decoded.
func (h *harness) healthAs(authorization string) Health {
	h.t.Helper()
	code, hdr, body := h.do("GET", "/healthz", authorization)
	if code != http.StatusOK || hdr.Get("Content-Type") != "application/json" {
		h.t.Fatalf("GET /healthz = %d %q %s", code, hdr.Get("Content-Type"), body)
	}
	var out Health
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		h.t.Fatalf("decoding /healthz %s: %v", body, err)
	}
	return out
}

// jobNames returns the names of the jobs in /healthz.
func (h *harness) jobNames() string {
	h.t.Helper()
	var names []string
	for _, j := range h.health().Jobs {
		names = append(names, j.Name)
	}
	return strings.Join(names, ",")
}

// job returns the named job from /healthz.
func (h *harness) job(name string) JobHealth {
	h.t.Helper()
	for _, j := range h.health().Jobs {
		if j.Name == name {
			return j
		}
	}
	h.t.Fatalf("job %q not in /healthz", name)
	return JobHealth{}
}

// trigger starts a run of job with the token and expects 202.
func (h *harness) trigger(job, token string) {
	h.t.Helper()
	if code, _, body := h.do("POST", "/v1/sync/"+job, "Bearer "+token); code != http.StatusAccepted {
		h.t.Fatalf("POST /v1/sync/%s = %d %s, want 202", job, code, body)
	}
}

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receive waits for a value on ch, failing the test at the deadline.
func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deadline):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// fixed returns a loader that always returns rt.
func fixed(rt *Runtime) Loader {
	return func(context.Context, *Metrics) (*Runtime, error) { return rt, nil }
}

// sequence returns a loader that returns the results of steps in turn,
// repeating the last one, and reports each call's number on calls.
func sequence(calls chan<- int, steps ...func(*Metrics) (*Runtime, error)) Loader {
	var n atomic.Int32
	return func(_ context.Context, m *Metrics) (*Runtime, error) {
		i := int(n.Add(1)) - 1
		if calls != nil {
			calls <- i + 1
		}
		return steps[min(i, len(steps)-1)](m)
	}
}

// noop is a job body that succeeds at once.
func noop(context.Context) error { return nil }

// blocker is a job that, once running, waits for release.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan struct{}, 10), release: make(chan struct{})}
}

func (b *blocker) run(ctx context.Context) error {
	b.entered <- struct{}{}
	<-b.release
	return nil
}

const loopback = "127.0.0.1:0"

func TestHealthz(t *testing.T) {
	h := start(t, fixed(&Runtime{
		Listen: loopback,
		Jobs: []schedule.Job{
			{Name: "risks-redmine", Spec: "@every 1h", Run: noop},
			{Name: "register-report", Spec: "0 6 * * 1", Run: noop},
		},
	}), Options{})

	got := h.health()
	if got.Status != "ok" || len(got.Jobs) != 2 {
		t.Fatalf("/healthz = %+v, want status ok and two jobs", got)
	}
	j := got.Jobs[0]
	if j.Name != "register-report" || j.Spec != "0 6 * * 1" || j.Running || j.LastRun != nil ||
		j.LastError != nil || j.LastSuccess != nil || j.NextRun == nil {
		t.Errorf("/healthz job = %+v, want register-report, not run yet, with a next run", j)
	}
	if got.Jobs[1].Name != "risks-redmine" {
		t.Errorf("/healthz jobs are not sorted by name: %+v", got.Jobs)
	}
	// Every documented field is present, as null before the first run
	// (last_error is shown only to callers with the API token).
	_, _, body := h.do("GET", "/healthz", "")
	for _, want := range []string{`"name":`, `"spec":`, `"running":false`, `"last_run":null`, `"last_success":null`} {
		if !strings.Contains(body, want) {
			t.Errorf("/healthz body lacks %s: %s", want, body)
		}
	}
}

func TestSyncEndpoint(t *testing.T) {
	const token = "s3cret-t0ken"
	held := newBlocker()
	runIDs := make(chan string, 1)
	h := start(t, fixed(&Runtime{
		Listen:   loopback,
		APIToken: token,
		Jobs: []schedule.Job{{Name: "held", Spec: "@yearly", Run: held.run},
			{Name: "told", Spec: "@yearly", Run: func(ctx context.Context) error { runIDs <- schedule.RunID(ctx); return nil }}},
	}), Options{})

	cases := []struct {
		name, authorization string
		job                 string
		code                int
		body                string
		challenge           string
	}{
		{"no token", "", "held", 401, "authorization required", `Bearer realm="usmhub"`},
		{"basic auth", "Basic dXNlcjpwYXNz", "held", 401, "authorization required", `Bearer realm="usmhub"`},
		{"empty bearer", "Bearer ", "held", 401, "authorization required", `Bearer realm="usmhub"`},
		{"wrong token", "Bearer nope", "held", 401, "invalid API token", `Bearer realm="usmhub", error="invalid_token"`},
		{"token prefix", "Bearer " + token[:5], "held", 401, "invalid API token", `Bearer realm="usmhub", error="invalid_token"`},
		{"unknown job", "Bearer " + token, "nope", 404, `{"error":"no job named \"nope\"; the jobs are held, told","known":["held","told"]}`, ""},
		{"started", "Bearer " + token, "held", 202, `{"started":true,"run_id":"`, ""},
		{"running", "bearer " + token, "held", 409, `{"started":false,"error":"job \"held\" is already running"}`, ""},
	}
	for _, tc := range cases {
		code, hdr, body := h.do("POST", "/v1/sync/"+tc.job, tc.authorization)
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s: POST /v1/sync/%s = %d %s, want %d with %s", tc.name, tc.job, code, body, tc.code, tc.body)
		}
		if got := hdr.Get("WWW-Authenticate"); got != tc.challenge {
			t.Errorf("%s: WWW-Authenticate = %q, want %q", tc.name, got, tc.challenge)
		}
		if tc.name == "started" {
			receive(t, "the triggered run", held.entered)
		}
	}
	// The answer's run id is the run's: the job reads it from its context.
	code, _, body := h.do("POST", "/v1/sync/told", "Bearer "+token)
	var answer struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal([]byte(body), &answer); code != 202 || err != nil || answer.RunID == "" {
		t.Fatalf("POST /v1/sync/told = %d %s", code, body)
	}
	if got := receive(t, "the run's id", runIDs); got != answer.RunID {
		t.Errorf("the run got id %q, the answer said %q", got, answer.RunID)
	}
	if code, _, _ := h.do("GET", "/v1/sync/held", "Bearer "+token); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/sync/held = %d, want 405", code)
	}
	if !h.job("held").Running {
		t.Error("/healthz does not show the triggered job running")
	}
	close(held.release)
	waitFor(t, "the run to finish", func() bool { return h.job("held").LastSuccess != nil })
	h.trigger("held", token) // not running any more
	receive(t, "the second run", held.entered)

	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if logs := h.logs.String(); strings.Contains(logs, token) || strings.Contains(logs, token[:5]) {
		t.Errorf("the log shows the API token:\n%s", logs)
	}
}

func TestSyncEndpointWithoutToken(t *testing.T) {
	h := start(t, fixed(&Runtime{
		Listen: loopback,
		Jobs:   []schedule.Job{{Name: "a", Spec: "@yearly", Run: noop}},
	}), Options{})
	for _, auth := range []string{"", "Bearer anything"} {
		code, _, body := h.do("POST", "/v1/sync/a", auth)
		if code != http.StatusForbidden || !strings.Contains(body, "set hub.api_token") {
			t.Errorf("POST with %q and no configured token = %d %s, want 403 saying to set hub.api_token", auth, code, body)
		}
	}
	if j := h.job("a"); j.Running || j.LastRun != nil {
		t.Errorf("a refused request ran the job: %+v", j)
	}
}

func TestMetrics(t *testing.T) {
	const token = "t"
	load := func(_ context.Context, m *Metrics) (*Runtime, error) {
		return &Runtime{
			Listen:   loopback,
			APIToken: token,
			Jobs: []schedule.Job{
				{Name: "risks", Spec: "@yearly", Run: func(context.Context) error {
					// What the sync engine will record.
					m.AddRecords("risks", DirectionPull, 3)
					m.AddRecords("risks", DirectionPush, 0) // nothing
					m.AddConflicts("risks", 2)
					m.AddErrors("risks", 1)
					return nil
				}},
				{Name: "broken", Spec: "@yearly", Run: func(context.Context) error { return errors.New("boom") }},
				{Name: "idle", Spec: "@yearly", Run: noop},
			},
		}, nil
	}
	h := start(t, load, Options{})
	h.trigger("risks", token)
	h.trigger("broken", token)
	waitFor(t, "both runs", func() bool { return h.job("risks").LastRun != nil && h.job("broken").LastRun != nil })

	// Error texts name paths and hosts: only a caller with the token sees them.
	for _, auth := range []string{"", "Bearer wrong", "Basic dDp0"} {
		for _, j := range h.healthAs(auth).Jobs {
			if j.LastError != nil || j.Name == "broken" && (j.OK || j.LastRun == nil) {
				t.Errorf("/healthz with %q: %+v, want the state without the error", auth, j)
			}
		}
	}
	var broken JobHealth
	for _, j := range h.healthAs("Bearer " + token).Jobs {
		if j.Name == "broken" {
			broken = j
		}
	}
	if j := broken; j.LastError == nil || *j.LastError != "boom" || j.LastSuccess != nil || j.OK {
		t.Errorf("/healthz broken with the token = %+v, want last_error boom, no success, not ok", j)
	}
	if j := h.job("risks"); j.LastError != nil || j.LastSuccess == nil || j.LastDurationSeconds == nil || !j.OK {
		t.Errorf("/healthz risks = %+v, want a success", j)
	}
	if got := h.health().Status; got != "degraded" {
		t.Errorf("/healthz status = %q with a failed job, want degraded", got)
	}

	code, hdr, body := h.do("GET", "/metrics", "")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{
		"# TYPE usmhub_runs_total counter",
		`usmhub_runs_total{result="success",task="risks"} 1`,
		`usmhub_runs_total{result="error",task="risks"} 0`,
		`usmhub_runs_total{result="error",task="broken"} 1`,
		"# TYPE usmhub_run_duration_seconds histogram",
		`usmhub_run_duration_seconds_count{task="risks"} 1`,
		`usmhub_run_duration_seconds_count{task="broken"} 1`,
		`usmhub_run_duration_seconds_count{task="idle"} 0`,
		`usmhub_records_total{direction="pull",task="risks"} 3`,
		`usmhub_records_total{direction="push",task="risks"} 0`,
		`usmhub_records_total{direction="pull",task="idle"} 0`,
		`usmhub_conflicts_total{task="risks"} 2`,
		`usmhub_errors_total{task="risks"} 1`,
		`usmhub_errors_total{task="broken"} 0`,
		"# TYPE usmhub_last_success_timestamp_seconds gauge",
		`usmhub_last_success_timestamp_seconds{task="risks"} `,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `usmhub_last_success_timestamp_seconds{task="broken"}`) {
		t.Error("/metrics shows a last success for a job that never succeeded")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

func TestMetricsNil(t *testing.T) {
	var m *Metrics // the CLI's engine has no daemon
	m.RecordRun("x", time.Second, nil)
	m.AddRecords("x", DirectionPull, 1)
	m.AddErrors("x", 1)
	m.AddConflicts("x", 1)
	if m.Registry() != nil {
		t.Error("nil Metrics has a registry")
	}
}

func TestReloadFailureKeepsRunning(t *testing.T) {
	const token = "t"
	const diags = "usmhub.hcl:7,3-11: Unsupported argument; An argument named \"shedule\" is not expected here. Did you mean \"schedule\"?"
	var closed atomic.Int32
	calls := make(chan int, 10)
	load := sequence(calls,
		func(*Metrics) (*Runtime, error) {
			return &Runtime{
				Listen: loopback, APIToken: token,
				Jobs:  []schedule.Job{{Name: "a", Spec: "@yearly", Run: noop}},
				Close: func() { closed.Add(1) },
			}, nil
		},
		func(*Metrics) (*Runtime, error) { return nil, errors.New(diags) },
	)
	h := start(t, load, Options{})
	receive(t, "the first load", calls)

	h.signals <- syscall.SIGUSR1 // not a reload
	h.signals <- syscall.SIGHUP
	if n := receive(t, "the reload", calls); n != 2 {
		t.Fatalf("SIGUSR1 caused a load; load call %d on SIGHUP", n)
	}
	waitFor(t, "the failed reload to be logged", func() bool { return strings.Contains(h.logs.String(), "diagnostics=") })
	logs := h.logs.String()
	if !strings.Contains(logs, "[ERROR] usmhub: reloading the configuration failed; the running configuration stays in force: diagnostics=") ||
		!strings.Contains(logs, "usmhub.hcl:7,3-11: Unsupported argument") {
		t.Errorf("the failed reload was not logged with its diagnostics:\n%s", logs)
	}

	if got := h.jobNames(); got != "a" {
		t.Errorf("jobs after a failed reload = %q, want a", got)
	}
	h.trigger("a", token) // the old scheduler still runs
	waitFor(t, "the run", func() bool { return h.job("a").LastSuccess != nil })
	if n := closed.Load(); n != 0 {
		t.Errorf("the running runtime was closed %d times by a failed reload", n)
	}
	if _, _, body := h.do("GET", "/metrics", ""); !strings.Contains(body, `usmhub_reloads_total{result="error"} 1`) {
		t.Error("/metrics does not count the failed reload")
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if n := closed.Load(); n != 1 {
		t.Errorf("runtime closed %d times, want 1", n)
	}
}

func TestReloadSwapsJobs(t *testing.T) {
	var closedOld, closedNew atomic.Int32
	oldJob := newBlocker()
	var closedWhileRunning, cancelled atomic.Bool
	calls := make(chan int, 10)
	load := sequence(calls,
		func(*Metrics) (*Runtime, error) {
			return &Runtime{
				Listen: loopback, APIToken: "one",
				Jobs: []schedule.Job{{Name: "a", Spec: "@yearly", Run: func(ctx context.Context) error {
					err := oldJob.run(ctx)
					closedWhileRunning.Store(closedOld.Load() != 0)
					cancelled.Store(ctx.Err() != nil)
					return err
				}}},
				Close: func() { closedOld.Add(1) },
			}, nil
		},
		func(*Metrics) (*Runtime, error) {
			return &Runtime{
				Listen: loopback, APIToken: "two",
				Jobs:  []schedule.Job{{Name: "b", Spec: "@every 1h", Run: noop}},
				Close: func() { closedNew.Add(1) },
			}, nil
		},
	)
	h := start(t, load, Options{StopTimeout: deadline})
	receive(t, "the first load", calls)
	firstBase := h.base

	h.trigger("a", "one")
	receive(t, "a's run", oldJob.entered)
	h.signals <- syscall.SIGHUP
	receive(t, "the reload", calls)
	// The old job is still running, so the old runtime is still in force.
	if got := h.jobNames(); got != "a" {
		t.Errorf("jobs during the reload = %q, want a until its run ends", got)
	}
	close(oldJob.release)
	waitFor(t, "the new jobs", func() bool { return h.jobNames() == "b" })

	if closedWhileRunning.Load() {
		t.Error("the old runtime was closed while its job ran")
	}
	if cancelled.Load() {
		t.Error("the old job was cancelled although it finished within the stop timeout")
	}
	if n := closedOld.Load(); n != 1 {
		t.Errorf("old runtime closed %d times, want 1", n)
	}
	if n := closedNew.Load(); n != 0 {
		t.Errorf("new runtime closed %d times, want 0", n)
	}
	if h.base != firstBase {
		t.Errorf("the daemon moved from %s to %s although Listen did not change", firstBase, h.base)
	}
	select {
	case a := <-h.addrs:
		t.Errorf("the daemon listened again (%s) although Listen did not change", a)
	default:
	}

	// The new token and jobs are in force.
	if code, _, _ := h.do("POST", "/v1/sync/b", "Bearer one"); code != http.StatusUnauthorized {
		t.Errorf("POST with the old token = %d, want 401", code)
	}
	if code, _, _ := h.do("POST", "/v1/sync/a", "Bearer two"); code != http.StatusNotFound {
		t.Errorf("POST for the removed job = %d, want 404", code)
	}
	h.trigger("b", "two")
	waitFor(t, "b's run", func() bool { return h.job("b").LastSuccess != nil })

	_, _, body := h.do("GET", "/metrics", "")
	if strings.Contains(body, `job="a"`) {
		t.Error("/metrics still shows the removed job a")
	}
	for _, want := range []string{`usmhub_runs_total{result="success",task="b"} 1`, `usmhub_reloads_total{result="success"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if n := closedNew.Load(); n != 1 {
		t.Errorf("new runtime closed %d times at shutdown, want 1", n)
	}
	if n := closedOld.Load(); n != 1 {
		t.Errorf("old runtime closed %d times in all, want 1", n)
	}
}

func TestReloadMovesListener(t *testing.T) {
	calls := make(chan int, 10)
	load := sequence(calls,
		func(*Metrics) (*Runtime, error) {
			return &Runtime{Listen: loopback, Jobs: []schedule.Job{{Name: "a", Spec: "@yearly", Run: noop}}}, nil
		},
		func(*Metrics) (*Runtime, error) {
			return &Runtime{Listen: "localhost:0", Jobs: []schedule.Job{{Name: "b", Spec: "@yearly", Run: noop}}}, nil
		},
	)
	h := start(t, load, Options{})
	receive(t, "the first load", calls)
	oldBase := h.base

	h.signals <- syscall.SIGHUP
	h.base = receive(t, "the new listener", h.addrs)
	waitFor(t, "the new jobs on the new address", func() bool { return h.jobNames() == "b" })
	waitFor(t, "the old address to close", func() bool {
		resp, err := http.Get(oldBase + "/healthz")
		if err != nil {
			return true
		}
		resp.Body.Close()
		return false
	})
}

func TestReloadRejectsBadRuntime(t *testing.T) {
	// A taken port and a bad job: both refused, the old runtime stays.
	taken, err := net.Listen("tcp", loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var closedBad atomic.Int32
	calls := make(chan int, 10)
	load := sequence(calls,
		func(*Metrics) (*Runtime, error) {
			return &Runtime{Listen: loopback, Jobs: []schedule.Job{{Name: "a", Spec: "@yearly", Run: noop}}}, nil
		},
		func(*Metrics) (*Runtime, error) {
			return &Runtime{Listen: taken.Addr().String(), Jobs: []schedule.Job{{Name: "b", Spec: "@yearly", Run: noop}},
				Close: func() { closedBad.Add(1) }}, nil
		},
		func(*Metrics) (*Runtime, error) {
			return &Runtime{Listen: loopback, Jobs: []schedule.Job{{Name: "b", Spec: "every day", Run: noop}},
				Close: func() { closedBad.Add(1) }}, nil
		},
	)
	h := start(t, load, Options{})
	receive(t, "the first load", calls)
	for i := 1; i <= 2; i++ {
		h.signals <- syscall.SIGHUP
		receive(t, "the reload", calls)
		waitFor(t, "the rejected runtime to be closed", func() bool { return closedBad.Load() == int32(i) })
		if got := h.jobNames(); got != "a" {
			t.Errorf("reload %d: jobs = %q, want a", i, got)
		}
	}
	logs := h.logs.String()
	for _, want := range []string{"listening on " + taken.Addr().String() + " (hub.listen)", `invalid schedule \"every day\"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestShutdownLetsRunsFinish(t *testing.T) {
	entered := make(chan struct{})
	var sawCancel, finished atomic.Bool
	var closedBeforeFinish atomic.Bool
	h := start(t, fixed(&Runtime{
		Listen: loopback, APIToken: "t",
		Jobs: []schedule.Job{{Name: "page", Spec: "@yearly", Run: func(ctx context.Context) error {
			close(entered)
			time.Sleep(300 * time.Millisecond) // the current page
			sawCancel.Store(ctx.Err() != nil)
			finished.Store(true)
			return nil
		}}},
		Close: func() { closedBeforeFinish.Store(!finished.Load()) },
	}), Options{StopTimeout: deadline})
	h.trigger("page", "t")
	<-entered
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if !finished.Load() {
		t.Error("Run returned before the running job finished")
	}
	if sawCancel.Load() {
		t.Error("the job was cancelled although it finished within the stop timeout")
	}
	if closedBeforeFinish.Load() {
		t.Error("the runtime was closed before its job finished")
	}
	if _, err := http.Get(h.base + "/healthz"); err == nil {
		t.Error("the HTTP API still answers after Run returned")
	}
}

func TestShutdownCancelsAfterStopTimeout(t *testing.T) {
	const stopTimeout = 500 * time.Millisecond
	entered := make(chan struct{})
	cancelledAt := make(chan time.Time, 1)
	var returned, closedBeforeReturn atomic.Bool
	var closed atomic.Int32
	h := start(t, fixed(&Runtime{
		Listen: loopback, APIToken: "t",
		Jobs: []schedule.Job{{Name: "long", Spec: "@yearly", Run: func(ctx context.Context) error {
			close(entered)
			<-ctx.Done()
			cancelledAt <- time.Now()
			returned.Store(true)
			return ctx.Err()
		}}},
		Close: func() { closed.Add(1); closedBeforeReturn.Store(!returned.Load()) },
	}), Options{StopTimeout: stopTimeout})
	h.trigger("long", "t")
	<-entered

	stopAsked := time.Now()
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	at := receive(t, "the job's cancellation", cancelledAt)
	if graceEnd := stopAsked.Add(stopTimeout); at.Before(graceEnd) {
		t.Errorf("the job was cancelled %v before the stop timeout ended", graceEnd.Sub(at))
	}
	if closedBeforeReturn.Load() {
		t.Error("the runtime was closed before the cancelled job returned")
	}
	if n := closed.Load(); n != 1 {
		t.Errorf("runtime closed %d times, want 1", n)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "running jobs did not finish in time; cancelled them") {
		t.Errorf("the cancellation was not logged:\n%s", logs)
	}
}

func TestRunFailsToStart(t *testing.T) {
	taken, err := net.Listen("tcp", loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	noLog := hclog.NewNullLogger()

	err = Run(context.Background(), noLog, func(context.Context, *Metrics) (*Runtime, error) {
		return nil, errors.New("usmhub.hcl:1,1: bad")
	}, Options{})
	if err == nil || !strings.Contains(err.Error(), "loading the configuration: usmhub.hcl:1,1: bad") {
		t.Errorf("Run with a failing loader = %v", err)
	}

	cases := []struct {
		name string
		rt   Runtime
		want string
	}{
		{"bad spec", Runtime{Listen: loopback, Jobs: []schedule.Job{{Name: "x", Spec: "@fortnightly", Run: noop}}}, `adding job "x": invalid schedule "@fortnightly"`},
		{"duplicate job", Runtime{Listen: loopback, Jobs: []schedule.Job{{Name: "x", Spec: "@daily", Run: noop}, {Name: "x", Spec: "@daily", Run: noop}}}, "already scheduled"},
		{"port taken", Runtime{Listen: taken.Addr().String()}, "listening on " + taken.Addr().String() + " (hub.listen)"},
	}
	for _, tc := range cases {
		var closed atomic.Int32
		rt := tc.rt
		rt.Close = func() { closed.Add(1) }
		err := Run(context.Background(), noLog, fixed(&rt), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Run = %v, want an error containing %q", tc.name, err, tc.want)
		}
		if n := closed.Load(); n != 1 {
			t.Errorf("%s: runtime closed %d times, want 1", tc.name, n)
		}
	}
}

// TestStopDuringAStuckReload: a reload whose loader never heeds ctx (as
// config.Load reading file() of a FIFO) does not hold up a stop. The
// running runtime is closed once; the stuck load's runtime, when it comes
// at last, is closed too.
func TestStopDuringAStuckReload(t *testing.T) {
	var oldClosed, lateClosed atomic.Int32
	calls := make(chan int, 10)
	entered := make(chan struct{})
	release := make(chan struct{})
	load := sequence(calls,
		func(*Metrics) (*Runtime, error) {
			return &Runtime{Listen: loopback, Jobs: []schedule.Job{{Name: "a", Spec: "@yearly", Run: noop}},
				Close: func() { oldClosed.Add(1) }}, nil
		},
		func(*Metrics) (*Runtime, error) {
			close(entered)
			<-release // stuck, deaf to ctx
			return &Runtime{Listen: loopback, Close: func() { lateClosed.Add(1) }}, nil
		},
	)
	h := start(t, load, Options{})
	receive(t, "the first load", calls)
	h.signals <- syscall.SIGHUP
	receive(t, "the reload", calls)
	receive(t, "the reload to be under way", entered)

	if err := h.stop(); err != nil { // fails the test at the deadline if Run waits for the load
		t.Fatalf("Run = %v", err)
	}
	if n := oldClosed.Load(); n != 1 {
		t.Errorf("the running runtime was closed %d times, want 1", n)
	}
	if !strings.Contains(h.logs.String(), "the reload under way is abandoned") {
		t.Errorf("the abandoned reload is not logged")
	}
	close(release)
	waitFor(t, "the abandoned load's runtime to be closed", func() bool { return lateClosed.Load() == 1 })
}

// TestStopDuringAStuckFirstLoad: the same at start, before anything runs:
// Run returns nil (a stop is not an error) without waiting for the load.
func TestStopDuringAStuckFirstLoad(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, hclog.NewNullLogger(), func(context.Context, *Metrics) (*Runtime, error) {
			close(entered)
			<-release
			return nil, errors.New("never seen")
		}, Options{})
	}()
	receive(t, "the first load to be under way", entered)
	cancel()
	if err := receive(t, "Run to return after cancel", done); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestNotifyTellsTheServiceManager: READY=1 comes once the jobs are
// scheduled and the API answers (systemd's Type=notify starts dependent
// units then), a reload is bracketed by RELOADING=1 and READY=1 also when
// it fails, and a stop says STOPPING=1.
func TestNotifyTellsTheServiceManager(t *testing.T) {
	calls := make(chan int, 10)
	load := sequence(calls,
		func(*Metrics) (*Runtime, error) {
			return &Runtime{Listen: loopback, Jobs: []schedule.Job{{Name: "a", Spec: "@yearly", Run: noop}}}, nil
		},
		func(*Metrics) (*Runtime, error) { return nil, errors.New("broken config") },
	)
	var addr atomic.Value
	type note struct{ state, jobs string }
	notes := make(chan note, 10)
	opts := Options{
		OnListen: func(a net.Addr) { addr.Store("http://" + a.String()) },
		Notify: func(state string) {
			n := note{state: state}
			if state == "READY=1" { // what a client sees at this moment
				resp, err := http.Get(addr.Load().(string) + "/healthz")
				if err == nil {
					var hl Health
					_ = json.NewDecoder(resp.Body).Decode(&hl)
					resp.Body.Close()
					for _, j := range hl.Jobs {
						n.jobs += j.Name
					}
				}
			}
			notes <- n
		},
	}
	h := start(t, load, opts)
	if n := receive(t, "READY=1", notes); n != (note{"READY=1", "a"}) {
		t.Fatalf("first notification = %+v, want READY=1 with job a scheduled and served", n)
	}
	h.signals <- syscall.SIGHUP
	if n := receive(t, "RELOADING=1", notes); n.state != "RELOADING=1" {
		t.Fatalf("on SIGHUP: %+v, want RELOADING=1", n)
	}
	if n := receive(t, "READY=1 after the failed reload", notes); n != (note{"READY=1", "a"}) {
		t.Fatalf("after a failed reload: %+v, want READY=1 with job a", n)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if n := receive(t, "STOPPING=1", notes); n.state != "STOPPING=1" {
		t.Fatalf("at the stop: %+v, want STOPPING=1", n)
	}
}

// TestPagesServeTheRest: the runtime's Pages get every path the daemon's
// own routes do not take; those keep their answers (405 for another method),
// and without Pages the rest is 404.
func TestPagesServeTheRest(t *testing.T) {
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("page " + r.Method + " " + r.URL.Path))
	})
	h := start(t, fixed(&Runtime{Listen: loopback, Pages: pages,
		Jobs: []schedule.Job{{Name: "j", Spec: "@yearly", Run: func(context.Context) error { return nil }}}}), Options{})
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, "page GET /"},
		{"GET", "/risks/R-1", 200, "page GET /risks/R-1"},
		{"GET", "/v1/risks", 200, "page GET /v1/risks"},
		{"GET", "/healthz", 200, `"status":"ok"`},
		{"GET", "/v1/sync/j", 405, "method not allowed"},
		{"POST", "/healthz", 405, "method not allowed"},
		{"POST", "/v1/sync/j", 403, "hub.api_token"},
	} {
		code, _, body := h.do(c.method, c.path, "")
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s %s = %d %q, want %d with %q", c.method, c.path, code, body, c.code, c.body)
		}
	}

	bare := start(t, fixed(&Runtime{Listen: loopback}), Options{})
	if code, _, _ := bare.do("GET", "/", ""); code != 404 {
		t.Errorf("GET / without pages = %d, want 404", code)
	}
}

// TestWrongTokensAreLimited: after ten wrong tokens in a minute from one
// address, that address gets 429 with a Retry-After, even with the right
// token, and /metrics counts both; the refusal says nothing of the token.
func TestWrongTokensAreLimited(t *testing.T) {
	const token = "s3cret-t0ken"
	h := start(t, fixed(&Runtime{
		Listen:   loopback,
		APIToken: token,
		Jobs:     []schedule.Job{{Name: "job", Spec: "@yearly", Run: func(context.Context) error { return nil }}},
	}), Options{})
	for i := 1; i <= 10; i++ {
		if code, _, body := h.do("POST", "/v1/sync/job", "Bearer wrong-"+strconv.Itoa(i)); code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d %s, want 401", i, code, body)
		}
	}
	code, hdr, body := h.do("POST", "/v1/sync/job", "Bearer "+token)
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("after ten wrong tokens: %d (Retry-After %q) %s, want 429 with Retry-After", code, hdr.Get("Retry-After"), body)
	}
	if strings.Contains(strings.ToLower(body), "invalid") || strings.Contains(body, "token\"") {
		t.Errorf("the refusal says something of the token: %s", body)
	}
	_, _, metrics := h.do("GET", "/metrics", "")
	for _, want := range []string{`usmhub_http_auth_failures_total{endpoint="sync"} 10`, `usmhub_http_auth_limited_total{endpoint="sync"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}
