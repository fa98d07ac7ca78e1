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
	if err := os.Mkdir(filepath.Join(h.dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 1500
	h.write("inventory.csv", inventory(n))
	h.ok("risk", "import", "inventory.csv")

	cmd := exec.Command(usmhubBin, "serve", "-listen", addr)
	cmd.Dir = h.dir
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
	eventually(t, 30*time.Second, "POST with the token answers 202", func() bool {
		code, body := post("/v1/sync/risks", token)
		if code != http.StatusAccepted && code != http.StatusConflict {
			t.Fatalf("POST with the token: %d %s", code, body)
		}
		return code == http.StatusAccepted
	}, logs.String)
	if code, _ := post("/v1/sync/nosuch", token); code != http.StatusNotFound {
		t.Errorf("POST of an unknown sync: %d, want 404", code)
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
	if s := readSheet(t, filepath.Join(h.dir, "remote", "risks.csv")); s == nil || len(s.rows) != n {
		t.Fatalf("the scheduled runs did not fill the sheet")
	}

	// SIGHUP with a broken config: the diagnostics are logged, the old
	// jobs keep running.
	h.write("usmhub.hcl", strings.Replace(cfg, `strategy = "erp"`, "strategy = \"erp\"\n  log_colour = \"red\"", 1))
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
	h.write("usmhub.hcl", good)
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
	var children []int
	for _, pid := range pluginPids(plugin) {
		if st, _ := procStat(pid); st.ppid == servePid {
			children = append(children, pid)
		}
	}
	if len(children) > 1 {
		t.Errorf("after the reload %d connector processes run (%v): the old runtime's plugin was not closed", len(children), children)
	}

	// SIGTERM while a run has work: exit 0 within 10 seconds.
	st, err := store.Open(context.Background(), filepath.Join(h.dir, "data", "usmhub.db"))
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
	waitNoPlugins(t, plugin, 2*time.Second)
	integrityCheck(t, filepath.Join(h.dir, "data", "usmhub.db"))

	// What the stopped run left is finished by the next one.
	h.write("usmhub.hcl", good)
	h.ok("sync")
	s := readSheet(t, filepath.Join(h.dir, "remote", "risks.csv"))
	for _, r := range s.rows {
		if s.get(r, "owner") != "after the reload" {
			t.Fatalf("row %s: owner %q after the run that followed the stop", s.get(r, "id"), s.get(r, "owner"))
		}
	}
	waitNoPlugins(t, plugin, 2*time.Second)
}
