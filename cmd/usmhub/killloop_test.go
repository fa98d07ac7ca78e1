package main

// The kill loop of SYNC.md: `usmhub sync` is run as a subprocess against the
// file connector (a built plugin binary next to the usmhub binary, as a
// user installs them) and killed with SIGKILL at random moments, while both
// sides are edited between the kills; then the sync is run to completion and
// the properties that must hold are checked: one remote record per hub
// risk, no lost update (or an audited conflict), a sound database, no
// plugin left behind.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
	hubsync "github.com/usmhub/usmhub/core/sync"
	"github.com/usmhub/usmhub/plugins/connectortest"
)

// The file connector plugin next to usmhubBin, where the hub's plugin
// discovery (the folder of the usmhub binary) finds it: the one TestMain
// built, else built here once.
var (
	fileConnOnce sync.Once
	fileConnPath string
	fileConnErr  error
)

func fileConnector(t *testing.T) string {
	t.Helper()
	fileConnOnce.Do(func() {
		fileConnPath = filepath.Join(filepath.Dir(usmhubBin), "usmhub-connector-file")
		if fi, err := os.Stat(fileConnPath); err == nil && fi.Mode().IsRegular() {
			return
		}
		fileConnPath, fileConnErr = connectortest.BuildBinary("github.com/usmhub/usmhub/connectors/file", "file", filepath.Dir(usmhubBin))
	})
	if fileConnErr != nil {
		t.Fatal(fileConnErr)
	}
	return fileConnPath
}

// syncConfig is a hub under strategy erp with one initiative and the file
// connector over the folder "remote", synced both ways as "risks".
func syncConfig(hubExtra, syncExtra string) string {
	return `
hub {
  data_dir = "data"
  strategy = "erp"
` + hubExtra + `
}

initiative "t" {
  name = "Kill loop"
}

connector "file" "sheet" {
  dir = "remote"
}

sync "risks" {
  kind      = "risk"
  connector = "file.sheet"
  direction = "both"
` + syncExtra + `
}
`
}

// pluginPids returns the live processes running the binary at exe
// (zombies excluded).
func pluginPids(exe string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || strings.TrimSuffix(target, " (deleted)") != exe {
			continue
		}
		if st, _ := procStat(pid); st.state == "Z" || st.state == "X" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

type procState struct {
	state string
	ppid  int
}

// procStat reads a process's state and parent from /proc/PID/stat.
func procStat(pid int) (procState, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procState{}, err
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return procState{}, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ppid, _ := strconv.Atoi(f[1])
	return procState{state: f[0], ppid: ppid}, nil
}

// waitNoPlugins waits until no process runs the plugin binary exe.
func waitNoPlugins(t *testing.T, exe string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		pids := pluginPids(exe)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connector processes %v still run %s after their hub ended", pids, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openRO opens the hub's database read-only with database/sql.
func openRO(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// integrityCheck runs PRAGMA integrity_check and foreign_key_check.
func integrityCheck(t *testing.T, path string) {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Errorf("PRAGMA integrity_check = %q, %v", res, err)
	}
	rows, err := db.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Errorf("PRAGMA foreign_key_check reports violations")
	}
}

// sheet is the remote risks file as a user's editor sees it.
type sheet struct {
	header []string
	col    map[string]int
	rows   [][]string
}

func readSheet(t *testing.T, path string) *sheet {
	t.Helper()
	s, err := loadSheet(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loadSheet reads the sheet; nil when there is no file yet.
func loadSheet(path string) (*sheet, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	s := &sheet{header: recs[0], col: map[string]int{}, rows: recs[1:]}
	for i, c := range s.header {
		s.col[c] = i
	}
	return s, nil
}

func (s *sheet) get(r []string, col string) string {
	if i, ok := s.col[col]; ok && i < len(r) {
		return r[i]
	}
	return ""
}

func (s *sheet) set(r []string, col, v string) {
	r[s.col[col]] = v
}

// saveTo writes the sheet the way an editor saves: a new file renamed over
// the old one, with the modification time of now.
func (s *sheet) saveTo(path string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(s.header)
	_ = w.WriteAll(s.rows)
	if err := w.Error(); err != nil {
		return err
	}
	tmp := path + ".editor"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// flockDir takes the file connector's folder lock (.usmhub-file.lock), as
// a co-writer of its files must, and returns its release.
func flockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".usmhub-file.lock"), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// ledgerWrite is one value written to one field of one risk on one side.
type ledgerWrite struct {
	side  string // hub or remote
	value string
	iter  int
}

// ledger keeps every edit: risk key → field → writes in order.
type ledger map[string]map[string][]ledgerWrite

func (l ledger) add(key, field, side, value string, iter int) {
	if l[key] == nil {
		l[key] = map[string][]ledgerWrite{}
	}
	l[key][field] = append(l[key][field], ledgerWrite{side: side, value: value, iter: iter})
}

// syncOutcome is how an attempt of the loop ended.
type syncOutcome struct {
	killed   bool
	code     int
	stderr   string
	duration time.Duration
}

// runKilled runs `usmhub sync` in dir and SIGKILLs it after delay unless it
// ends first. during, when set, runs alongside the sync (people editing
// while it runs); runKilled returns once both are done.
func runKilled(t *testing.T, dir string, delay time.Duration, during func(), args ...string) syncOutcome {
	t.Helper()
	cmd := exec.Command(usmhubBin, append([]string{"sync"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "USMHUB_CONFIG=")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if during != nil {
		edited := make(chan struct{})
		go func() { defer close(edited); during() }()
		defer func() { <-edited }()
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	var err error
	out := syncOutcome{}
	select {
	case err = <-done:
	case <-timer.C:
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err = <-done
		out.killed = true
	}
	out.duration = time.Since(start)
	out.stderr = errb.String()
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			out.killed = true
		} else {
			out.killed = false
		}
		out.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out
}

// dbSnapshot is what the loop looks at before and after an attempt to tell
// in which phase the kill landed.
type dbSnapshot struct {
	runs, running, pending int
	lastStatus             string
	remoteMod              time.Time
}

func snapshot(t *testing.T, h *hub) dbSnapshot {
	t.Helper()
	var s dbSnapshot
	if fi, err := os.Stat(filepath.Join(h.dir, "remote", "risks.csv")); err == nil {
		s.remoteMod = fi.ModTime()
	}
	dbPath := filepath.Join(h.dir, "data", "usmhub.db")
	if _, err := os.Stat(dbPath); err != nil {
		return s
	}
	db := openRO(t, dbPath)
	defer db.Close()
	_ = db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE status = 'running') FROM runs`).Scan(&s.runs, &s.running)
	_ = db.QueryRow(`SELECT status FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1`).Scan(&s.lastStatus)
	_ = db.QueryRow(`SELECT count(*) FROM links WHERE state = 'pending_create'`).Scan(&s.pending)
	return s
}

// phaseOf infers where a kill landed from the state before and after.
func phaseOf(before, after dbSnapshot, out syncOutcome) string {
	switch {
	case !out.killed:
		return "completed"
	case after.runs == before.runs:
		return "startup (config, store, plugin launch, lease)"
	case after.running == before.running:
		return "after the run was recorded (release, exit)"
	case after.pending > before.pending || !after.remoteMod.Equal(before.remoteMod):
		return "push"
	}
	return "resolve/pull (or push before its first write)"
}

func TestSyncKillLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the kill loop takes about a minute")
	}
	plugin := fileConnector(t)
	h := newHub(t, syncConfig("", "  batch_size = 20"))
	remotePath := filepath.Join(h.dir, "remote", "risks.csv")
	dbPath := filepath.Join(h.dir, "data", "usmhub.db")
	if err := os.Mkdir(filepath.Join(h.dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	const initial = 1000
	var inv strings.Builder
	inv.WriteString("title,likelihood,impact,effort,status,owner\n")
	for i := 1; i <= initial; i++ {
		fmt.Fprintf(&inv, "Risk %d,%d,%d,%d,accepted,owner%d\n", i, i%5+1, (i*3)%5+1, i%4, i%7)
	}
	h.write("inventory.csv", inv.String())
	h.ok("risk", "import", "inventory.csv")

	// Measure a full first run, and one with nothing to do, on a copy, to
	// scale the kill delays.
	probe := &hub{t: t, dir: t.TempDir()}
	copyTree(t, h.dir, probe.dir)
	full := runKilled(t, probe.dir, time.Minute, nil)
	if full.killed || full.code != 0 {
		t.Fatalf("the probe run failed: exit %d\n%s", full.code, full.stderr)
	}
	small := runKilled(t, probe.dir, time.Minute, nil)
	waitNoPlugins(t, plugin, 5*time.Second)
	t.Logf("a full first run takes %s, a run with nothing to do %s", full.duration.Round(time.Millisecond), small.duration.Round(time.Millisecond))

	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("USMHUB_KILL_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (set USMHUB_KILL_SEED to replay the same kills and edits)", seed)
	rnd := rand.New(rand.NewPCG(seed, 0x5eed))
	kills := 60 // SYNC.md: at least 50
	if v := os.Getenv("USMHUB_KILLS"); v != "" {
		kills, _ = strconv.Atoi(v)
	}

	led := ledger{}
	hubKeys := make([]string, 0, initial)
	for i := 1; i <= initial; i++ {
		hubKeys = append(hubKeys, fmt.Sprintf("R-%d", i))
	}
	newHubTitles, newRemoteTitles := []string{}, []string{}
	phases := map[string]int{}
	var editsMu sync.Mutex
	edits := map[string]int{}
	count := func(what string, n int) {
		editsMu.Lock()
		edits[what] += n
		editsMu.Unlock()
	}
	ctx := context.Background()

	// hubEdits changes n risks in one transaction through the store API,
	// as another usmhub command would (title or likelihood).
	hubEdits := func(rnd *rand.Rand, keys []string, iter, n int) error {
		st, err := store.Open(ctx, dbPath)
		if err != nil {
			return err
		}
		defer st.Close()
		type write struct{ key, field, value string }
		var done []write
		err = st.Update(ctx, store.Actor{Name: "cli:killloop"}, func(tx store.Tx) error {
			for k := 0; k < n; k++ {
				key := keys[rnd.IntN(len(keys))]
				r, err := tx.Risk(key)
				if err != nil {
					return err
				}
				w := write{key, "title", fmt.Sprintf("hub %d-%d", iter, k)}
				if rnd.IntN(3) == 0 {
					w.field, w.value = "likelihood", strconv.Itoa(rnd.IntN(5)+1)
				}
				switch {
				case w.field == "title":
					r.Title = w.value
				case strconv.Itoa(r.Likelihood) == w.value:
					continue
				default:
					r.Likelihood, _ = strconv.Atoi(w.value)
				}
				if err := tx.UpdateRisk(&r); err != nil {
					return err
				}
				done = append(done, w)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("hub edits: %w", err)
		}
		for _, w := range done {
			led.add(w.key, w.field, "hub", w.value, iter)
		}
		count("hub (store)", len(done))
		return nil
	}
	// hubCLIEdit changes one risk with usmhub risk update, as a person would.
	hubCLIEdit := func(iter int) {
		key := hubKeys[rnd.IntN(len(hubKeys))]
		field, value := "title", fmt.Sprintf("hub cli %d", iter)
		if rnd.IntN(3) == 0 {
			field, value = "likelihood", strconv.Itoa(rnd.IntN(5)+1)
		}
		if out := h.ok("risk", "update", key, "-"+field, value); !strings.Contains(out, "unchanged") {
			led.add(key, field, "hub", value, iter)
			count("hub (cli)", 1)
		}
	}
	hubCreate := func(iter int) {
		st, err := store.Open(ctx, dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		title := fmt.Sprintf("hub new %d", iter)
		r := model.Risk{Initiative: "t", Title: title, Kind: model.Threat, Likelihood: 2, Impact: 3, Effort: 1, Status: model.Accepted}
		if err := st.Update(ctx, store.Actor{Name: "cli:killloop"}, func(tx store.Tx) error { return tx.CreateRisk(&r) }); err != nil {
			t.Fatal(err)
		}
		hubKeys = append(hubKeys, r.Key)
		newHubTitles = append(newHubTitles, title)
		count("hub create", 1)
	}
	// remoteEdits edits n rows of the sheet as a user would (title or
	// likelihood, updated_at bumped to now) and may type in a new row. It
	// holds the connector's folder lock while it rewrites the file, as a
	// well-behaved co-writer must: an editor saving over a connector's
	// write in the same instant would lose one or the other, whatever the
	// hub does.
	remoteEdits := func(rnd *rand.Rand, iter, n int, newRow bool) (string, error) {
		unlock, err := flockDir(filepath.Dir(remotePath))
		if err != nil {
			return "", err
		}
		defer unlock()
		s, err := loadSheet(remotePath)
		if err != nil || s == nil {
			return "", err
		}
		var candidates []int
		for i, r := range s.rows {
			if s.get(r, "key") != "" && s.get(r, "marker") != "" && s.get(r, "deleted") == "" {
				candidates = append(candidates, i)
			}
		}
		if len(candidates) == 0 {
			n = 0
		}
		now := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
		type write struct{ key, field, value string }
		var done []write
		for k := 0; k < n; k++ {
			r := s.rows[candidates[rnd.IntN(len(candidates))]]
			w := write{s.get(r, "key"), "title", fmt.Sprintf("remote %d-%d", iter, k)}
			if rnd.IntN(3) == 0 {
				w.field, w.value = "likelihood", strconv.Itoa(rnd.IntN(5)+1)
			}
			if s.get(r, w.field) == w.value {
				continue
			}
			s.set(r, w.field, w.value)
			s.set(r, "updated_at", now)
			done = append(done, w)
		}
		title := ""
		if newRow { // typed in by hand: an id, no key, no marker
			row := make([]string, len(s.header))
			title = fmt.Sprintf("remote new %d", iter)
			s.set(row, "id", fmt.Sprintf("U-%d", iter))
			s.set(row, "title", title)
			s.set(row, "kind", "opportunity")
			s.set(row, "likelihood", "4")
			s.set(row, "impact", "2")
			s.set(row, "effort", "1")
			s.set(row, "status", "proposed")
			s.set(row, "updated_at", now)
			s.rows = append(s.rows, row)
		}
		if len(done) == 0 && !newRow {
			return "", nil
		}
		if err := s.saveTo(remotePath); err != nil {
			return "", err
		}
		for _, w := range done {
			led.add(w.key, w.field, "remote", w.value, iter)
		}
		count("remote", len(done))
		if newRow {
			count("remote create", 1)
		}
		return title, nil
	}

	// Kill delays: a quarter spread over the first 300ms (start-up, lease,
	// first pages), the rest from half a run with nothing to do up to a
	// bound that follows the runs: a bit more than the last run that
	// completed took (at first, a full run), growing with every kill, so
	// that kills land in every phase and some runs complete.
	lo, hi := small.duration/2, full.duration
	var iter, killed, concurrent int
	for killed < kills {
		iter++
		if iter > 3*kills {
			t.Fatalf("%d runs, only %d killed: the delays are too long", iter-1, killed)
		}
		hi = max(hi, small.duration)
		delay := time.Duration(rnd.Int64N(int64(300 * time.Millisecond)))
		if rnd.IntN(4) > 0 {
			delay = lo + time.Duration(rnd.Int64N(int64(hi-lo)))
		}
		// Now and then people edit while the sync runs: the hub through the
		// store, the sheet under the connector's lock.
		var during func()
		var duringErr error
		var duringTitle string
		if iter > 3 && rnd.IntN(3) == 0 {
			concurrent++
			r := rand.New(rand.NewPCG(seed, uint64(iter)))
			keys := append([]string(nil), hubKeys...)
			wait := time.Duration(r.Int64N(int64(delay) + 1))
			during = func() {
				time.Sleep(wait)
				if r.IntN(2) == 0 {
					duringErr = hubEdits(r, keys, iter, r.IntN(20)+1)
				} else {
					duringTitle, duringErr = remoteEdits(r, iter, r.IntN(20)+1, false)
				}
			}
		}
		before := snapshot(t, h)
		out := runKilled(t, h.dir, delay, during)
		if duringErr != nil {
			t.Fatalf("iteration %d: editing during the sync: %v", iter, duringErr)
		}
		if duringTitle != "" {
			newRemoteTitles = append(newRemoteTitles, duringTitle)
		}
		// The hub is gone; its plugin must follow (parent-death signal).
		waitNoPlugins(t, plugin, 5*time.Second)
		after := snapshot(t, h)
		phases[phaseOf(before, after, out)]++
		if out.killed {
			killed++
			hi = min(hi+hi/10, 4*full.duration)
		} else {
			hi = out.duration + out.duration/10
		}
		if !out.killed && out.code != 0 {
			t.Errorf("iteration %d: a run that was not killed exited %d:\n%s", iter, out.code, out.stderr)
		}
		if strings.Contains(out.stderr, "panic:") {
			t.Fatalf("iteration %d: usmhub panicked:\n%s", iter, out.stderr)
		}
		// Between kills, people edit both sides: a few fields, now and
		// then many at once (so that runs have pages and batches to kill).
		switch x := rnd.IntN(10); {
		case x < 2:
			if err := hubEdits(rnd, hubKeys, iter, 30+rnd.IntN(60)); err != nil {
				t.Fatal(err)
			}
		case x < 6:
			if err := hubEdits(rnd, hubKeys, iter, 1+rnd.IntN(3)); err != nil {
				t.Fatal(err)
			}
		case x < 7:
			hubCLIEdit(iter)
		}
		if rnd.IntN(6) == 0 {
			hubCreate(iter)
		}
		n := 0
		switch x := rnd.IntN(10); {
		case x < 2:
			n = 30 + rnd.IntN(60)
		case x < 6:
			n = 1 + rnd.IntN(3)
		}
		title, err := remoteEdits(rnd, iter, n, rnd.IntN(5) == 0)
		if err != nil {
			t.Fatal(err)
		}
		if title != "" {
			newRemoteTitles = append(newRemoteTitles, title)
		}
	}
	t.Logf("%d runs, %d killed, %d with edits while running; by phase: %v", iter, killed, concurrent, phases)
	t.Logf("edits: %v", edits)

	// Run to completion: the first settles everything, the second must
	// find nothing to do.
	var results []hubsync.Result
	h.jsonOf(&results, "sync")
	t.Logf("settling run: %+v", results[0].Counts)
	waitNoPlugins(t, plugin, 5*time.Second)
	h.jsonOf(&results, "sync")
	if c := results[0].Counts; c.Changes() || c.Errors > 0 {
		t.Errorf("the second run after the loop still changed something: %+v", c)
	}
	waitNoPlugins(t, plugin, 5*time.Second)

	// The hub's risks, their links and the audit log.
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	risks := map[string]model.Risk{} // by key
	byID := map[string]model.Risk{}
	links := map[string]store.Link{} // by hub id
	var quarantined []store.Quarantined
	err = st.View(ctx, func(rd store.Reader) error {
		if err := rd.Risks(store.RiskFilter{}, func(r model.Risk) error {
			risks[r.Key], byID[r.ID] = r, r
			return nil
		}); err != nil {
			return err
		}
		if err := rd.Links("risks", "", func(l store.Link) error {
			links[l.HubID] = l
			return nil
		}); err != nil {
			return err
		}
		return rd.Quarantine("risks", func(q store.Quarantined) error {
			quarantined = append(quarantined, q)
			return nil
		})
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := initial + len(newHubTitles) + len(newRemoteTitles); len(risks) != want {
		t.Errorf("the hub has %d risks, want %d (%d imported, %d created in the hub, %d typed into the sheet)",
			len(risks), want, initial, len(newHubTitles), len(newRemoteTitles))
	}
	for _, q := range quarantined {
		t.Errorf("quarantined: %s: %s", q.ExternalID, q.Reason)
	}
	for id, r := range byID {
		l, ok := links[id]
		switch {
		case !ok:
			t.Errorf("%s has no link", r.Key)
		case l.State != store.LinkLinked:
			t.Errorf("%s: link is %s (%s)", r.Key, l.State, l.Reason)
		}
		if r.Status == model.Rejected {
			t.Errorf("%s was rejected: nothing was deleted", r.Key)
		}
	}

	// The remote: one row per hub risk, each with the risk's marker, none
	// twice, holding the hub's values.
	s := readSheet(t, remotePath)
	markers := map[string]int{}
	ids := map[string]bool{}
	for _, r := range s.rows {
		m, id := s.get(r, "marker"), s.get(r, "id")
		if ids[id] {
			t.Errorf("remote id %s twice", id)
		}
		ids[id] = true
		if s.get(r, "deleted") != "" {
			t.Errorf("remote row %s is deleted", id)
		}
		markers[m]++
		if m == "" {
			t.Errorf("remote row %s (%s) has no marker", id, s.get(r, "title"))
			continue
		}
		hubID := strings.TrimPrefix(m, "usmhub-")
		risk, ok := byID[hubID]
		if !ok {
			t.Errorf("remote row %s carries marker %s of no hub risk", id, m)
			continue
		}
		if l := links[hubID]; l.ExternalID != id {
			t.Errorf("%s is linked to %s but its marker is on row %s", risk.Key, l.ExternalID, id)
		}
		want := hubsync.RiskFields(risk)
		for _, f := range []string{"key", "title", "kind", "likelihood", "impact", "effort", "owner", "status"} {
			if got := s.get(r, f); got != want[f] {
				t.Errorf("%s: %s is %q in the hub, %q in the sheet", risk.Key, f, want[f], got)
			}
		}
	}
	if len(s.rows) != len(risks) {
		t.Errorf("the sheet has %d rows for %d hub risks", len(s.rows), len(risks))
	}
	for m, n := range markers {
		if n > 1 {
			t.Errorf("marker %s is on %d rows", m, n)
		}
	}
	for id, r := range byID {
		if markers["usmhub-"+id] == 0 {
			t.Errorf("%s (%s) has no row in the sheet", r.Key, r.Title)
		}
	}
	titles := map[string]int{}
	for _, r := range risks {
		titles[r.Title]++
	}
	for _, title := range append(append([]string{}, newHubTitles...), newRemoteTitles...) {
		if titles[title] > 1 { // 0 when edited since
			t.Errorf("%q is the title of %d hub risks, want 1", title, titles[title])
		}
	}

	// No update lost: the last value written to a field is what both sides
	// hold, unless the audit log holds a conflict on that field.
	var audit []model.AuditEntry
	h.jsonOf(&audit, "log")
	conflicts := map[string]bool{} // hub id + "/" + field
	for _, a := range audit {
		if f, ok := strings.CutPrefix(a.Field, "conflict:"); ok {
			conflicts[a.EntityID+"/"+f] = true
		}
	}
	checked, overruled := 0, 0
	keys := make([]string, 0, len(led))
	for k := range led {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		risk, ok := risks[key]
		if !ok {
			t.Errorf("edited risk %s is gone", key)
			continue
		}
		fields := hubsync.RiskFields(risk)
		for field, writes := range led[key] {
			checked++
			last := writes[len(writes)-1]
			if fields[field] == last.value {
				continue
			}
			if conflicts[risk.ID+"/"+field] {
				overruled++
				continue
			}
			t.Errorf("lost update: %s %s is %q, but the last write was %q (%s, iteration %d), and the audit log holds no conflict; writes: %+v",
				key, field, fields[field], last.value, last.side, last.iter, writes)
		}
	}
	t.Logf("checked %d edited fields: %d hold the last write, %d were overruled by an audited conflict (%d conflicts in the log)",
		checked, checked-overruled, overruled, len(conflicts))

	integrityCheck(t, dbPath)
	waitNoPlugins(t, plugin, 5*time.Second)
}

// copyTree copies the regular files of src into dst (for the probe run).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pullCursor is the part of the file connector's cursor the test reads:
// base64url(JSON) with the time pulls resume from.
type pullCursor struct {
	T time.Time `json:"t"`
	M int64     `json:"m"`
}

func decodePullCursor(t *testing.T, s string) pullCursor {
	t.Helper()
	var c pullCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		t.Fatalf("cursor %q: %v", s, err)
	}
	return c
}

// TestConnectorKilledMidPull kills the connector plugin (not the hub) after
// the first pages of a long pull: the stored cursor must be the boundary of
// the pages the store holds, and the sync must end with nothing lost.
func TestConnectorKilledMidPull(t *testing.T) {
	plugin := fileConnector(t)
	h := newHub(t, syncConfig("", ""))
	if err := os.Mkdir(filepath.Join(h.dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A sheet of n rows in time order, one second apart, ending an hour ago.
	const n, page = 10000, 500
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour - n*time.Second)
	var b strings.Builder
	b.WriteString("id,title,likelihood,impact,effort,status,updated_at\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "U-%d,Row %d,%d,%d,1,accepted,%s\n", i, i, i%5+1, (i*2)%5+1, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
	}
	remotePath := h.write("remote/risks.csv", b.String())
	newest := base.Add(n * time.Second)
	if err := os.Chtimes(remotePath, newest, newest); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(h.dir, "data", "usmhub.db")

	cmd := exec.Command(usmhubBin, "sync")
	cmd.Dir = h.dir
	cmd.Env = append(os.Environ(), "USMHUB_CONFIG=", "USMHUB_LOG_LEVEL=info")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hubPid := cmd.Process.Pid
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	defer func() {
		_ = syscall.Kill(hubPid, syscall.SIGCONT)
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	}()

	// Wait for the first page to be stored.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no page stored within a minute\n%s", errb.String())
		}
		select {
		case <-done:
			t.Fatalf("the sync ended (%v) before a page was seen\n%s", waitErr, errb.String())
		default:
		}
		if _, err := os.Stat(dbPath); err == nil {
			db := openRO(t, dbPath)
			var links int
			err := db.QueryRow(`SELECT count(*) FROM links WHERE binding = 'risks'`).Scan(&links)
			db.Close()
			if err == nil && links >= page {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Freeze the hub, kill its plugin, and look at what is stored.
	if err := syscall.Kill(hubPid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var victim int
	for _, pid := range pluginPids(plugin) {
		if st, _ := procStat(pid); st.ppid == hubPid {
			victim = pid
		}
	}
	if victim == 0 {
		t.Fatalf("no connector process is a child of the hub (%d)", hubPid)
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for len(pluginPids(plugin)) > 0 {
		time.Sleep(time.Millisecond)
	}

	db := openRO(t, dbPath)
	var cur string
	if err := db.QueryRow(`SELECT cursor FROM bindings WHERE binding = 'risks'`).Scan(&cur); err != nil {
		t.Fatal(err)
	}
	linked := map[string]bool{}
	rows, err := db.Query(`SELECT external_id FROM links WHERE binding = 'risks' AND state = 'linked'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		linked[id] = true
	}
	rows.Close()
	var hubRisks int
	_ = db.QueryRow(`SELECT count(*) FROM risks`).Scan(&hubRisks)
	db.Close()
	k := len(linked)
	t.Logf("connector killed with %d of %d records stored (%d pages)", k, n, k/page)
	if k%page != 0 || k == 0 || k >= n {
		t.Fatalf("%d records stored: not a whole number of pages of %d short of %d", k, page, n)
	}
	if hubRisks != k {
		t.Errorf("%d hub risks for %d links", hubRisks, k)
	}
	for i := 1; i <= k; i++ {
		if !linked[fmt.Sprintf("U-%d", i)] {
			t.Fatalf("the first %d rows are stored, but not U-%d", k, i)
		}
	}
	c := decodePullCursor(t, cur)
	if want := base.Add(time.Duration(k) * time.Second); !c.T.Equal(want) {
		t.Errorf("stored cursor resumes at %s, want %s: the time of row %d, the last of the pages stored", c.T, want, k)
	}
	if c.M != 0 {
		t.Errorf("a mid-pull cursor claims the whole file was read (m=%d)", c.M)
	}

	// Let the hub go on: it notices its plugin died, relaunches it and
	// resumes from the cursor (or fails the run; the next one completes).
	if err := syscall.Kill(hubPid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Logf("the interrupted run ended: %v\n%s%s", waitErr, out.String(), errb.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("the interrupted run did not end within two minutes")
	}
	waitNoPlugins(t, plugin, 5*time.Second)
	h.ok("sync")
	waitNoPlugins(t, plugin, 5*time.Second)

	// Nothing lost: every row is one hub risk, linked once, marked once.
	db = openRO(t, dbPath)
	defer db.Close()
	var nRisks, nLinked, nOther int
	_ = db.QueryRow(`SELECT count(*) FROM risks`).Scan(&nRisks)
	_ = db.QueryRow(`SELECT count(*) FILTER (WHERE state = 'linked'), count(*) FILTER (WHERE state != 'linked') FROM links`).Scan(&nLinked, &nOther)
	if nRisks != n || nLinked != n || nOther != 0 {
		t.Errorf("after the runs: %d risks, %d linked, %d other links; want %d, %d, 0", nRisks, nLinked, nOther, n, n)
	}
	s := readSheet(t, remotePath)
	markers := map[string]bool{}
	for _, r := range s.rows {
		m := s.get(r, "marker")
		if m == "" || markers[m] {
			t.Errorf("row %s: marker %q missing or repeated", s.get(r, "id"), m)
		}
		markers[m] = true
	}
	if len(s.rows) != n {
		t.Errorf("the sheet has %d rows, want %d", len(s.rows), n)
	}
	integrityCheck(t, dbPath)
}

// TestSyncFullReconcileKeepsUnchanged: a full reconcile of records that did
// not change must leave them be (SYNC.md step 4 lists every remote record to
// find those that are gone, not those it merely did not need to merge).
func TestSyncFullReconcileKeepsUnchanged(t *testing.T) {
	plugin := fileConnector(t)
	h := newHub(t, syncConfig("", ""))
	if err := os.Mkdir(filepath.Join(h.dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.write("inventory.csv", inventory(20))
	h.ok("risk", "import", "inventory.csv")
	h.ok("sync")
	h.ok("sync")
	var results []hubsync.Result
	h.jsonOf(&results, "sync", "-full")
	if c := results[0].Counts; c.Changes() {
		t.Errorf("a full reconcile with nothing changed did: %+v", c)
	}
	var rejected []string
	for _, it := range h.list() {
		if it.Status == string(model.Rejected) {
			rejected = append(rejected, it.Key)
		}
	}
	if len(rejected) > 0 {
		t.Errorf("a full reconcile rejected %d risks whose remote records are all there: %v", len(rejected), rejected)
	}
	waitNoPlugins(t, plugin, 5*time.Second)
}

// TestSyncKilledAfterPushKeepsLaterRemoteEdit: a run killed after the
// connector took an update but before the hub stored the result leaves the
// link's base behind the remote. A user who then sets the field back to
// that old value makes a change (4 → 1) that the hub must not overwrite
// silently: it must take it, or audit a conflict.
func TestSyncKilledAfterPushKeepsLaterRemoteEdit(t *testing.T) {
	plugin := fileConnector(t)
	tmpl := newHub(t, syncConfig("", ""))
	if err := os.Mkdir(filepath.Join(tmpl.dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpl.write("inventory.csv", "title,likelihood,impact,status\nOnly risk,1,3,accepted\n")
	tmpl.ok("risk", "import", "inventory.csv")
	tmpl.ok("sync")
	tmpl.ok("sync")
	tmpl.ok("risk", "update", "R-1", "-likelihood", "4")

	inode := func(path string) uint64 {
		fi, err := os.Stat(path)
		if err != nil {
			return 0
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	for attempt := 1; attempt <= 20; attempt++ {
		h := &hub{t: t, dir: t.TempDir()}
		copyTree(t, tmpl.dir, h.dir)
		remotePath := filepath.Join(h.dir, "remote", "risks.csv")
		dbPath := filepath.Join(h.dir, "data", "usmhub.db")
		was := inode(remotePath)
		cmd := exec.Command(usmhubBin, "sync")
		cmd.Dir = h.dir
		cmd.Env = append(os.Environ(), "USMHUB_CONFIG=")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		// Kill the hub the moment the connector has replaced the file.
	watch:
		for {
			select {
			case <-done:
				break watch
			default:
			}
			if inode(remotePath) != was {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-done
				break
			}
			time.Sleep(20 * time.Microsecond)
		}
		waitNoPlugins(t, plugin, 5*time.Second)

		s := readSheet(t, remotePath)
		db := openRO(t, dbPath)
		var base string
		err := db.QueryRow(`SELECT base FROM links WHERE binding = 'risks'`).Scan(&base)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		var b map[string]string
		_ = json.Unmarshal([]byte(base), &b)
		if s.get(s.rows[0], "likelihood") != "4" || b["likelihood"] != "1" {
			continue // the kill missed the window between the push and its result
		}
		t.Logf("attempt %d: the sheet holds 4, the link's base still 1", attempt)

		// The user sets it back to 1 (a change: the sheet held 4).
		unlock, err := flockDir(filepath.Dir(remotePath))
		if err != nil {
			t.Fatal(err)
		}
		s.set(s.rows[0], "likelihood", "1")
		s.set(s.rows[0], "updated_at", time.Now().UTC().Truncate(time.Second).Format(time.RFC3339))
		if err := s.saveTo(remotePath); err != nil {
			t.Fatal(err)
		}
		unlock()
		h.ok("sync")
		h.ok("sync")
		var audit []model.AuditEntry
		h.jsonOf(&audit, "log")
		conflict := false
		for _, a := range audit {
			conflict = conflict || a.Field == "conflict:likelihood"
		}
		got := h.list()[0].Likelihood
		if got != 1 && !conflict {
			t.Errorf("lost update: the sheet's edit 4 → 1 was overwritten with the hub's 4, and no conflict is audited")
		}
		return
	}
	t.Skip("inconclusive: this test requires a kill between a push and its result, and none landed in 20 attempts")
}
