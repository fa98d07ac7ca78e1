package main

// usmhub serve as an operator runs it: a built binary with the file
// connector plugin next to it, a config with an API token and a scheduled
// sync; HTTP health, metrics and triggers; SIGHUP reloads (a broken config
// keeps the old one running); SIGTERM stops within 10 seconds with exit 0.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/daemon"
	"github.com/usmhub/usmhub/core/store"
	"github.com/usmhub/usmhub/internal/procs"
)

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// eventually polls cond every 50ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s\n--- daemon log ---\n%s", what, within, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricValue returns the value of the sample of name with exactly the
// given labels (in exposition order) from a /metrics body, -1 if absent.
func metricValue(body, name, labels string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+"{"+labels+"}") + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

func TestServe(t *testing.T) {
	plugin := fileConnector(t)
	const token = "kill-loop-token-1"
	addr := freePort(t)
	cfg := syncConfig(`  api_token = "`+token+`"
  log_level = "info"`, `  batch_size = 20
  schedule   = "@every 1s"`)
	h := newHub(t, cfg)
	if err := os.Mkdir(filepath.Join(h.Dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 1500
	h.Write("inventory.csv", inventory(n))
	h.OK("risk", "import", "inventory.csv")

	cmd := exec.Command(usmhubBin, "serve", "-listen", addr)
	cmd.Dir = h.Dir
	cmd.Env = append(os.Environ(), "USMHUB_CONFIG=")
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	servePid := cmd.Process.Pid
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	})

	base := "http://" + addr
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path, bearer string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	health := func() daemon.Health {
		code, body := get("/healthz")
		var hl daemon.Health
		if code != http.StatusOK {
			t.Fatalf("GET /healthz: %d %s\n%s", code, body, logs.String())
		}
		if err := json.Unmarshal([]byte(body), &hl); err != nil {
			t.Fatalf("GET /healthz: %v: %s", err, body)
		}
		return hl
	}
	jobNames := func() string {
		var names []string
		for _, j := range health().Jobs {
			names = append(names, j.Name+" "+j.Spec)
		}
		return strings.Join(names, ", ")
	}
	alive := func() {
		t.Helper()
		select {
		case <-done:
			t.Fatalf("usmhub serve exited: %v\n%s", waitErr, logs.String())
		default:
		}
	}

	eventually(t, 30*time.Second, "GET /healthz answers 200", func() bool {
		alive()
		code, _ := get("/healthz")
		return code == http.StatusOK
	}, logs.String)
	if got := jobNames(); got != "risks @every 1s" {
		t.Fatalf("jobs: %s", got)
	}

	// Triggers: 401 without the token or with a wrong one, 202 with it
	// (409 while the schedule's run is under way: try again).
	if code, body := post("/v1/sync/risks", ""); code != http.StatusUnauthorized {
		t.Errorf("POST without a token: %d %s", code, body)
	}
	if code, body := post("/v1/sync/risks", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("POST with a wrong token: %d %s", code, body)
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the daemon logged its API token")
	}
	var triggered struct {
		RunID string `json:"run_id"`
	}
	eventually(t, 30*time.Second, "POST with the token answers 202", func() bool {
		code, body := post("/v1/sync/risks", token)
		if code != http.StatusAccepted && code != http.StatusConflict {
			t.Fatalf("POST with the token: %d %s", code, body)
		}
		if code == http.StatusAccepted {
			if err := json.Unmarshal([]byte(body), &triggered); err != nil || triggered.RunID == "" {
				t.Fatalf("POST with the token: %s, want a run_id", body)
			}
		}
		return code == http.StatusAccepted
	}, logs.String)
	// The answer's run id is the sync run's own.
	eventually(t, 60*time.Second, "the triggered run is logged under its id", func() bool {
		return strings.Contains(logs.String(), "run="+triggered.RunID)
	}, logs.String)
	if code, body := post("/v1/sync/nosuch", token); code != http.StatusNotFound || !strings.Contains(body, `"known":["risks"]`) {
		t.Errorf("POST of an unknown sync: %d %s, want 404 listing risks", code, body)
	}

	// Metrics show the runs.
	eventually(t, 60*time.Second, "usmhub_runs_total counts a successful run of risks", func() bool {
		_, body := get("/metrics")
		return metricValue(body, "usmhub_runs_total", `result="success",task="risks"`) >= 1
	}, logs.String)
	_, body := get("/metrics")
	if v := metricValue(body, "usmhub_records_total", `direction="push",task="risks"`); v < n {
		t.Errorf("usmhub_records_total{push} = %v, want at least %d", v, n)
	}
	if s := readSheet(t, filepath.Join(h.Dir, "remote", "risks.csv")); s == nil || len(s.rows) != n {
		t.Fatalf("the scheduled runs did not fill the sheet")
	}

	// SIGHUP with a broken config: the diagnostics are logged, the old
	// jobs keep running.
	h.Write("usmhub.hcl", strings.Replace(cfg, `strategy = "erp"`, "strategy = \"erp\"\n  log_colour = \"red\"", 1))
	if err := syscall.Kill(servePid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the failed reload is logged with its diagnostics", func() bool {
		l := logs.String()
		return strings.Contains(l, "reloading the configuration failed") && strings.Contains(l, "usmhub.hcl:5,3: Unsupported argument")
	}, logs.String)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "reloading the configuration failed") {
			t.Logf("logged: %s", line)
		}
	}
	alive()
	if got := jobNames(); got != "risks @every 1s" {
		t.Fatalf("after a broken reload the jobs are: %s", got)
	}
	_, body = get("/metrics")
	if v := metricValue(body, "usmhub_reloads_total", `result="error"`); v != 1 {
		t.Errorf("usmhub_reloads_total{error} = %v, want 1", v)
	}
	before := metricValue(body, "usmhub_runs_total", `result="success",task="risks"`)
	eventually(t, 10*time.Second, "the old job still runs after a broken reload", func() bool {
		_, body := get("/metrics")
		return metricValue(body, "usmhub_runs_total", `result="success",task="risks"`) > before
	}, logs.String)

	// SIGHUP with a good new config: the jobs are swapped.
	good := strings.Replace(strings.Replace(cfg, `sync "risks"`, `sync "mirror"`, 1), `"@every 1s"`, `"@every 2s"`, 1)
	h.Write("usmhub.hcl", good)
	if err := syscall.Kill(servePid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the reloaded jobs are served", func() bool {
		alive()
		return jobNames() == "mirror @every 2s"
	}, logs.String)
	if !strings.Contains(logs.String(), "configuration reloaded") {
		t.Errorf("the reload is not logged")
	}
	if code, _ := post("/v1/sync/risks", token); code != http.StatusNotFound {
		t.Errorf("POST to the retired job: %d, want 404", code)
	}
	eventually(t, 30*time.Second, "the new job runs", func() bool {
		_, body := get("/metrics")
		return metricValue(body, "usmhub_runs_total", `result="success",task="mirror"`) >= 1
	}, logs.String)
	if children := procs.Children(plugin, servePid); len(children) > 1 {
		t.Errorf("after the reload %d connector processes run (%v): the old runtime's plugin was not closed", len(children), children)
	}

	// SIGTERM while a run has work: exit 0 within 10 seconds.
	st, err := store.Open(context.Background(), filepath.Join(h.Dir, "data", "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(context.Background(), store.Actor{Name: "cli:serve-test"}, func(tx store.Tx) error {
		for i := 1; i <= n; i++ {
			r, err := tx.Risk(fmt.Sprintf("R-%d", i))
			if err != nil {
				return err
			}
			r.Owner = "after the reload"
			if err := tx.UpdateRisk(&r); err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	runningSeen := false
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !runningSeen {
		for _, j := range health().Jobs {
			runningSeen = runningSeen || j.Running
		}
		if !runningSeen {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !runningSeen {
		t.Logf("no run was seen under way before SIGTERM")
	}
	stopAt := time.Now()
	if err := syscall.Kill(servePid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("usmhub serve still runs 10s after SIGTERM\n%s", logs.String())
	}
	took := time.Since(stopAt)
	if waitErr != nil {
		t.Fatalf("usmhub serve after SIGTERM: %v (want exit 0)\n%s", waitErr, logs.String())
	}
	t.Logf("stopped %s after SIGTERM (a run under way: %v)", took.Round(time.Millisecond), runningSeen)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "stopping") || strings.Contains(line, "stopped") || strings.Contains(line, "cancelled") {
			t.Logf("logged: %s", line)
		}
	}
	procs.WaitGone(t, plugin, 2*time.Second)
	integrityCheck(t, filepath.Join(h.Dir, "data", "usmhub.db"))

	// What the stopped run left is finished by the next one.
	h.Write("usmhub.hcl", good)
	h.OK("sync")
	s := readSheet(t, filepath.Join(h.Dir, "remote", "risks.csv"))
	for _, r := range s.rows {
		if s.get(r, "owner") != "after the reload" {
			t.Fatalf("row %s: owner %q after the run that followed the stop", s.get(r, "id"), s.get(r, "owner"))
		}
	}
	procs.WaitGone(t, plugin, 2*time.Second)
}

// serving is one `usmhub serve` process of a test.
type serving struct {
	t       *testing.T
	cmd     *exec.Cmd
	logs    *lockedBuffer
	done    chan struct{}
	waitErr error
	base    string
	client  *http.Client
}

// startServe starts `usmhub serve -listen ADDR` in h's folder; the test's
// cleanup kills it if it still runs.
func startServe(t *testing.T, h *hub) *serving {
	t.Helper()
	addr := freePort(t)
	s := &serving{t: t, logs: &lockedBuffer{}, done: make(chan struct{}), base: "http://" + addr,
		client: &http.Client{Timeout: 5 * time.Second}}
	s.cmd = exec.Command(usmhubBin, "serve", "-listen", addr)
	s.cmd.Dir = h.Dir
	s.cmd.Env = append(os.Environ(), "USMHUB_CONFIG=")
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// alive fails the test if the daemon has exited.
func (s *serving) alive() {
	s.t.Helper()
	select {
	case <-s.done:
		s.t.Fatalf("usmhub serve exited: %v\n%s", s.waitErr, s.logs.String())
	default:
	}
}

func (s *serving) get(path string) (int, string) {
	resp, err := s.client.Get(s.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// jobs lists the served jobs as "name spec, …".
func (s *serving) jobs() string {
	s.t.Helper()
	code, body := s.get("/healthz")
	var hl daemon.Health
	if code != http.StatusOK || json.Unmarshal([]byte(body), &hl) != nil {
		s.t.Fatalf("GET /healthz: %d %s\n%s", code, body, s.logs.String())
	}
	var names []string
	for _, j := range hl.Jobs {
		names = append(names, j.Name+" "+j.Spec)
	}
	return strings.Join(names, ", ")
}

// signal sends sig to the daemon.
func (s *serving) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := syscall.Kill(s.cmd.Process.Pid, sig); err != nil {
		s.t.Fatal(err)
	}
}

// exited waits up to within for the daemon to exit and fails unless it
// exited 0.
func (s *serving) exited(within time.Duration) {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(within):
		s.t.Fatalf("usmhub serve still runs %s after SIGTERM\n%s", within, s.logs.String())
	}
	if s.waitErr != nil {
		s.t.Fatalf("usmhub serve: %v (want exit 0)\n%s", s.waitErr, s.logs.String())
	}
}

// lineOf is the 1-based line of the first occurrence of sub in src.
func lineOf(src, sub string) int {
	return strings.Count(src[:strings.Index(src, sub)], "\n") + 1
}

// TestServeReloadChecksEverything: SIGHUP applies a new config only if all
// of it validates, connector blocks included, and a config that used to
// crash the parser (stack overflow) or keep it busy for minutes is refused
// at once. Each refused config also renames the sync, so a wrongly applied
// one shows in the jobs; each is logged at its FILE:LINE,COL, the daemon
// stays up with the old jobs, and a valid change is then applied.
func TestServeReloadChecksEverything(t *testing.T) {
	fileConnector(t)
	cfg := syncConfig(`  log_level = "info"`, `  schedule = "@every 1h"`)
	h := newHub(t, cfg)
	if err := os.Mkdir(filepath.Join(h.Dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, h)
	eventually(t, 30*time.Second, "GET /healthz answers 200", func() bool {
		s.alive()
		code, _ := s.get("/healthz")
		return code == http.StatusOK
	}, s.logs.String)
	const oldJobs = "risks @every 1h"
	if got := s.jobs(); got != oldJobs {
		t.Fatalf("jobs: %s", got)
	}

	renamed := strings.Replace(cfg, `sync "risks"`, `sync "mirror"`, 1)
	typo := strings.Replace(renamed, `  dir = "remote"`, "  dir = \"remote\"\n  trackerr = \"Risk\"", 1)
	parens := strings.Replace(renamed, `  log_level = "info"`,
		`  log_level = "info"`+"\n  listen = "+strings.Repeat("(", 100000)+`"127.0.0.1:1"`+strings.Repeat(")", 100000), 1)
	minus := renamed + "\npriority \"p\" {\n  score = " + strings.Repeat("-", 200000) + "1\n}\n"
	for i, tt := range []struct {
		name, config, want string
	}{
		{"a connector typo", typo,
			fmt.Sprintf("usmhub.hcl:%d,3: Unsupported argument", lineOf(typo, "trackerr"))},
		{"100 000 nested parentheses", parens,
			fmt.Sprintf("usmhub.hcl:%d,43: Nested too deeply", lineOf(parens, "listen"))},
		{"200 000 unary minus signs in a priority", minus,
			fmt.Sprintf("usmhub.hcl:%d,111: Expression too complex", lineOf(minus, "score"))},
	} {
		h.Write("usmhub.hcl", tt.config)
		s.signal(syscall.SIGHUP)
		eventually(t, 10*time.Second, tt.name+": the refused reload is logged with its diagnostics", func() bool {
			s.alive()
			l := s.logs.String()
			return strings.Count(l, "reloading the configuration failed") == i+1 && strings.Contains(l, tt.want)
		}, s.logs.String)
		s.alive()
		if got := s.jobs(); got != oldJobs {
			t.Fatalf("%s: after the refused reload the jobs are %q, want %q", tt.name, got, oldJobs)
		}
		_, body := s.get("/metrics")
		if v := metricValue(body, "usmhub_reloads_total", `result="error"`); v != float64(i+1) {
			t.Errorf("%s: usmhub_reloads_total{error} = %v, want %d", tt.name, v, i+1)
		}
	}
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(line, "usmhub.hcl:") {
			t.Logf("logged: %.300s", line)
		}
	}

	// A valid change is applied.
	h.Write("usmhub.hcl", strings.Replace(renamed, `"@every 1h"`, `"@every 2h"`, 1))
	s.signal(syscall.SIGHUP)
	eventually(t, 20*time.Second, "the valid config is applied", func() bool {
		s.alive()
		return s.jobs() == "mirror @every 2h"
	}, s.logs.String)

	s.signal(syscall.SIGTERM)
	s.exited(10 * time.Second)
}

// makeFIFO makes a FIFO at path. It must exist before a load reads the
// config that names it: a load that finds no file fails, and never opens
// it.
func makeFIFO(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("requires FIFOs (mkfifo failed: %v)", err)
	}
}

// holdFIFO waits until a reader has opened the FIFO at path (makeFIFO),
// then holds its write end open without writing: the reader is then stuck
// in a read that no context reaches. It returns when the reader is stuck
// (or fails the test after 60s: under load a reload can take a while to
// reach it).
func holdFIFO(t *testing.T, path string, alive func()) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		// Opening the write end without blocking works once a reader
		// has the FIFO open.
		fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			t.Cleanup(func() { syscall.Close(fd) })
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nobody opened %s to read: %v", path, err)
		}
		alive()
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeStopsDuringALoad: SIGTERM stops the daemon while a config load
// is stuck — at start and on SIGHUP — here in file() of a FIFO, which
// blocks where no context reaches. Exit 0 within 10 seconds.
func TestServeStopsDuringALoad(t *testing.T) {
	fileConnector(t)
	cfg := syncConfig(`  log_level = "info"`, `  schedule = "@every 1h"`)
	stuck := strings.Replace(cfg, `  log_level = "info"`, `  log_level = "info"`+"\n  api_token = file(\"token.fifo\")", 1)

	t.Run("on SIGHUP", func(t *testing.T) {
		h := newHub(t, cfg)
		if err := os.Mkdir(filepath.Join(h.Dir, "remote"), 0o755); err != nil {
			t.Fatal(err)
		}
		s := startServe(t, h)
		eventually(t, 30*time.Second, "GET /healthz answers 200", func() bool {
			s.alive()
			code, _ := s.get("/healthz")
			return code == http.StatusOK
		}, s.logs.String)
		makeFIFO(t, filepath.Join(h.Dir, "token.fifo"))
		h.Write("usmhub.hcl", stuck)
		s.signal(syscall.SIGHUP)
		holdFIFO(t, filepath.Join(h.Dir, "token.fifo"), s.alive)
		s.signal(syscall.SIGTERM)
		s.exited(10 * time.Second)
		if !strings.Contains(s.logs.String(), "the reload under way is abandoned") {
			t.Errorf("the abandoned reload is not logged:\n%s", s.logs.String())
		}
	})

	t.Run("at start", func(t *testing.T) {
		h := newHub(t, stuck)
		makeFIFO(t, filepath.Join(h.Dir, "token.fifo"))
		s := startServe(t, h)
		holdFIFO(t, filepath.Join(h.Dir, "token.fifo"), s.alive)
		s.signal(syscall.SIGTERM)
		s.exited(10 * time.Second)
		if !strings.Contains(s.logs.String(), "stopped while loading the configuration") {
			t.Errorf("the stop is not reported:\n%s", s.logs.String())
		}
	})
}

// TestValidateRefusesParserBombs: validate and serve's start refuse, at
// FILE:LINE,COL and with a hint, configs that used to crash usmhub with a
// stack overflow or keep it busy for minutes.
func TestValidateRefusesParserBombs(t *testing.T) {
	parens := "hub {\n  listen = " + strings.Repeat("(", 100000) + `"127.0.0.1:1"` + strings.Repeat(")", 100000) + "\n}\n"
	minus := "priority \"p\" {\n  score = " + strings.Repeat("-", 200000) + "1\n}\n"
	for _, tt := range []struct{ name, config, want string }{
		{"nested parentheses", parens, "usmhub.hcl:2,43: Nested too deeply: This opens level 33 of nesting; "},
		{"unary minus signs", minus, "usmhub.hcl:2,111: Expression too complex: This is operator number 101 of one expression; "},
	} {
		h := newHub(t, tt.config)
		for _, args := range [][]string{{"validate"}, {"serve", "-listen", freePort(t)}} {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			cmd := exec.CommandContext(ctx, usmhubBin, args...)
			cmd.Dir = h.Dir
			cmd.Env = append(os.Environ(), "USMHUB_CONFIG=")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			cancel()
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != 1 || !strings.HasPrefix(stderr.String(), tt.want) {
				t.Errorf("%s: usmhub %s: %v (exit %d), stderr:\n%.400s\nwant exit 1 and stderr starting %q", tt.name, args[0], err, code, stderr.String(), tt.want)
			}
		}
	}
}
