package crash_test

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/internal/hubcli"
	"github.com/usmhub/usmhub/internal/procs"
	"github.com/usmhub/usmhub/internal/testconnectors/fault"
)

// faultConfig is a hub under strategy erp with one initiative and the fault
// connector over the folder remote (its pages of 100 records), synced both
// ways as "risks".
func faultConfig(remote string) string {
	return fmt.Sprintf(`
hub {
  data_dir = "data"
  strategy = "erp"
}

initiative "t" {
  name = "Crash points"
}

connector "fault" "remote" {
  dir       = %q
  page_size = 100
}

sync "risks" {
  kind      = "risk"
  connector = "fault.remote"
  direction = "both"
}
`, remote)
}

// newFaultHub is a hub with the fault connector over its folder "remote".
func newFaultHub(t *testing.T) (*hub, string) {
	t.Helper()
	dir := t.TempDir()
	remote := filepath.Join(dir, "remote")
	if err := os.Mkdir(remote, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &hub{hubcli.At(t, usmhubBin, dir)}
	h.Write("usmhub.hcl", faultConfig(remote))
	return h, remote
}

// readRemote reads the fault connector's remote.
func readRemote(t *testing.T, remote string) *fault.State {
	t.Helper()
	s, err := fault.ReadState(remote)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// editRemote changes the remote as a user of the tool would.
func editRemote(t *testing.T, remote string, fn func(*fault.State) error) {
	t.Helper()
	if err := fault.EditRemote(remote, fn); err != nil {
		t.Fatal(err)
	}
}

// setCrashPoint makes the fault connector hold at point (crash_at) from its
// next call on: it reports the point through the FIFO crashRun reads, and
// blocks until killed.
func setCrashPoint(t *testing.T, remote, point string) {
	t.Helper()
	if err := fault.SetFaults(remote, fault.Faults{PageSize: 100, CrashAt: point, CrashHow: "hold"}); err != nil {
		t.Fatal(err)
	}
}

// clearFaults takes the crash point away.
func clearFaults(t *testing.T, remote string) {
	t.Helper()
	if err := fault.SetFaults(remote, fault.Faults{PageSize: 100}); err != nil {
		t.Fatal(err)
	}
}

// crashRun is a `usmhub sync` whose fault connector holds at its crash
// point.
type crashRun struct {
	t       *testing.T
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	stderr  bytes.Buffer
}

// syncToCrashPoint starts `usmhub sync` with the FIFO crash.fifo in the
// remote's folder and returns once the fault connector wrote to it that it
// holds at point: the process is exactly there until the test kills it. A
// sync that ends first, or takes two minutes to get there, fails the test.
func syncToCrashPoint(t *testing.T, h *hub, remote, point string) *crashRun {
	t.Helper()
	fifo := filepath.Join(remote, "crash.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Open for reading and writing: this never blocks (Linux), and the
	// connector's open for writing finds a reader at once.
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		f.Close()
		os.Remove(fifo)
	}()
	reached := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(f).ReadString('\n') // ends when f is closed
		reached <- strings.TrimSpace(line)
	}()

	r := &crashRun{t: t, cmd: h.Command("sync"), done: make(chan struct{})}
	r.cmd.Env = append(r.cmd.Env, "USMHUB_LOG_LEVEL=info")
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.waitErr = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
	select {
	case got := <-reached:
		if got != point {
			t.Fatalf("the fault connector reports crash point %q, want %q", got, point)
		}
		t.Logf("the connector holds at %s", point)
		return r
	case <-r.done:
		t.Fatalf("the sync ended (%v) before its connector reached %s:\n%s", r.waitErr, point, r.stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("the connector did not reach %s within two minutes:\n%s", point, r.stderr.String())
	}
	return nil
}

// killHub SIGKILLs usmhub, waits for it and for its plugin, which follows
// its parent (parent-death signal).
func (r *crashRun) killHub() {
	r.t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	procs.WaitGone(r.t, faultPlugin, 5*time.Second)
}

// killPlugin SIGKILLs the fault connector usmhub launched; usmhub goes on.
func (r *crashRun) killPlugin() {
	r.t.Helper()
	pids := procs.Children(faultPlugin, r.cmd.Process.Pid)
	if len(pids) != 1 {
		r.t.Fatalf("%d fault connectors are children of the hub (%d), want 1", len(pids), r.cmd.Process.Pid)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
}

// wait waits for usmhub to end by itself and returns its exit code.
func (r *crashRun) wait(within time.Duration) int {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(within):
		r.t.Fatalf("the sync did not end within %s:\n%s", within, r.stderr.String())
	}
	procs.WaitGone(r.t, faultPlugin, 5*time.Second)
	if ee, ok := r.waitErr.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if r.waitErr != nil {
		r.t.Fatal(r.waitErr)
	}
	return 0
}

// storedPull is what the hub's database holds of the binding's pull.
type storedPull struct {
	cursor string
	linked []string // the external ids linked, sorted by their number
	risks  int
}

func readStoredPull(t *testing.T, dbPath string) storedPull {
	t.Helper()
	conn := openRO(t, dbPath)
	defer conn.Close()
	// One read transaction, one snapshot: read one query at a time, the
	// cursor could be a page older than the links (a page committed in
	// between; the hub writes both in one transaction).
	db, err := conn.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Rollback()
	var s storedPull
	// No row yet: the hub stored nothing of the binding.
	if err := db.QueryRow(`SELECT cursor FROM bindings WHERE binding = 'risks'`).Scan(&s.cursor); err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("the binding's cursor: %v", err)
	}
	rows, err := db.Query(`SELECT external_id FROM links WHERE binding = 'risks' AND state = 'linked'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		s.linked = append(s.linked, id)
	}
	rows.Close()
	slices.SortFunc(s.linked, func(a, b string) int { return idNum(a) - idNum(b) })
	if err := db.QueryRow(`SELECT count(*) FROM risks`).Scan(&s.risks); err != nil {
		t.Fatal(err)
	}
	return s
}

func idNum(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "X-"))
	return n
}

// firstRecords reports whether ids are X-1 … X-k, in order.
func firstRecords(ids []string) bool {
	for i, id := range ids {
		if id != "X-"+strconv.Itoa(i+1) {
			return false
		}
	}
	return true
}

// seedRemote creates n records in the remote, as people using the tool
// would: one change each, in order, so record X-i has version i.
func seedRemote(t *testing.T, remote string, n int) {
	t.Helper()
	editRemote(t, remote, func(s *fault.State) error {
		for i := 1; i <= n; i++ {
			s.Create("", map[string]string{"title": fmt.Sprintf("Row %d", i), "likelihood": strconv.Itoa(i%5 + 1),
				"impact": strconv.Itoa((i*2)%5 + 1), "effort": "1", "status": "accepted"})
		}
		return nil
	})
}

// nothingLostNothingDoubled checks, after the runs, that every remote record
// is one hub risk, linked once, marked once, and the remote holds nothing
// else.
func nothingLostNothingDoubled(t *testing.T, h *hub, remote string, n int) {
	t.Helper()
	dbPath := filepath.Join(h.Dir, "data", "usmhub.db")
	db := openRO(t, dbPath)
	var nRisks, nLinked, nOther, nIDs int
	_ = db.QueryRow(`SELECT count(*) FROM risks`).Scan(&nRisks)
	_ = db.QueryRow(`SELECT count(*) FILTER (WHERE state = 'linked'), count(*) FILTER (WHERE state != 'linked'),
		count(DISTINCT external_id) FROM links`).Scan(&nLinked, &nOther, &nIDs)
	db.Close()
	if nRisks != n || nLinked != n || nOther != 0 || nIDs != n {
		t.Errorf("after the runs: %d risks, %d linked (%d remote ids), %d other links; want %d, %d (%d), 0", nRisks, nLinked, nIDs, nOther, n, n, n)
	}
	st := readRemote(t, remote)
	if live := len(st.Live()); live != n || len(st.Records) != n {
		t.Errorf("the remote holds %d records (%d live), want %d", len(st.Records), live, n)
	}
	markers := map[string]int{}
	for _, r := range st.Live() {
		markers[r.Marker]++
	}
	for m, k := range markers {
		if m == "" || k > 1 {
			t.Errorf("%d remote records carry marker %q, want one each, none without", k, m)
		}
	}
	titles := map[string]int{}
	for _, r := range h.list() {
		titles[r.Title]++
	}
	for _, r := range st.Live() {
		if titles[r.Fields["title"]] != 1 {
			t.Errorf("%s %q is %d hub risks, want 1", r.ID, r.Fields["title"], titles[r.Fields["title"]])
		}
	}
	integrityCheck(t, dbPath)
}

// TestKilledMidPull: the connector holds after the third page of a long
// first pull (pull:after_page:3). Killed there, the plugin or the hub, the
// hub's stored cursor is the boundary of the pages it stored, and the next
// runs end with nothing lost and nothing doubled.
func TestKilledMidPull(t *testing.T) {
	const n, page, pages = 1000, 100, 3
	const point = "pull:after_page:3"

	// The plugin dies; the hub notices, relaunches it and goes on from its
	// cursor (or fails the run; the next one completes).
	t.Run("plugin", func(t *testing.T) {
		h, remote := newFaultHub(t)
		seedRemote(t, remote, n)
		setCrashPoint(t, remote, point)
		dbPath := filepath.Join(h.Dir, "data", "usmhub.db")
		r := syncToCrashPoint(t, h, remote, point)
		// The hub stores each page it gets: it holds all three before
		// it waits for the fourth, which never comes.
		want := strconv.Itoa(pages * page)
		deadline := time.Now().Add(time.Minute)
		var s storedPull
		for {
			s = readStoredPull(t, dbPath)
			if s.cursor == want || len(s.linked) >= pages*page || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if s.cursor != want || len(s.linked) != pages*page || s.risks != pages*page || !firstRecords(s.linked) {
			t.Fatalf("with the connector holding after page %d: cursor %q, %d linked, %d risks; want %q, the first %d records linked, as many risks",
				pages, s.cursor, len(s.linked), s.risks, want, pages*page)
		}
		r.killPlugin()
		code := r.wait(5 * time.Minute)
		t.Logf("the run whose plugin was killed exited %d", code)
		h.OK("sync")
		procs.WaitGone(t, faultPlugin, 5*time.Second)

		st := readRemote(t, remote)
		if len(st.PullCursors) < 2 {
			t.Fatalf("pulls with cursors %q: want the pull killed and one after it", st.PullCursors)
		}
		// The pull after the kill goes on from the stored cursor: retried
		// within the run, or, in the next run, from the stored cursor or
		// from the start (a first full listing that never finished is
		// done again).
		switch next := st.PullCursors[1]; {
		case next == want:
		case code != 0 && next == "":
		default:
			t.Errorf("the pull after the kill (the killed run exited %d) started at cursor %q, want %q: the pages stored", code, next, want)
		}
		nothingLostNothingDoubled(t, h, remote, n)
	})

	// The hub dies: whatever it had stored of the three pages, its cursor
	// is the boundary of those pages, never beyond.
	t.Run("hub", func(t *testing.T) {
		h, remote := newFaultHub(t)
		seedRemote(t, remote, n)
		setCrashPoint(t, remote, point)
		dbPath := filepath.Join(h.Dir, "data", "usmhub.db")
		r := syncToCrashPoint(t, h, remote, point)
		r.killHub()
		s := readStoredPull(t, dbPath)
		k := len(s.linked)
		t.Logf("the hub was killed with %d records stored, cursor %q", k, s.cursor)
		if k%page != 0 || k > pages*page || !firstRecords(s.linked) || s.risks != k {
			t.Fatalf("%d records stored (%d risks): not the first whole pages of %d, at most %d", k, s.risks, page, pages)
		}
		if want := strconv.Itoa(k); k > 0 && s.cursor != want || k == 0 && s.cursor != "" {
			t.Fatalf("stored cursor %q with %d records stored: want that of the last page stored", s.cursor, k)
		}
		clearFaults(t, remote)
		h.OK("sync")
		h.OK("sync")
		procs.WaitGone(t, faultPlugin, 5*time.Second)
		nothingLostNothingDoubled(t, h, remote, n)
	})
}

// oneRiskSynced is a hub with one risk (likelihood 1) synced to the fault
// connector's remote, twice, so that its link is settled.
func oneRiskSynced(t *testing.T) (*hub, string) {
	t.Helper()
	h, remote := newFaultHub(t)
	clearFaults(t, remote)
	h.Write("inventory.csv", "title,likelihood,impact,status\nOnly risk,1,3,accepted\n")
	h.OK("risk", "import", "inventory.csv")
	h.OK("sync")
	h.OK("sync")
	if live := readRemote(t, remote).Live(); len(live) != 1 || live[0].Fields["likelihood"] != "1" {
		t.Fatalf("the remote after two syncs: %+v, want the one risk", live)
	}
	return h, remote
}

// linkBase is the base (the last agreed fields) of the one link.
func linkBase(t *testing.T, h *hub) map[string]string {
	t.Helper()
	db := openRO(t, filepath.Join(h.Dir, "data", "usmhub.db"))
	defer db.Close()
	var base string
	if err := db.QueryRow(`SELECT base FROM links WHERE binding = 'risks'`).Scan(&base); err != nil {
		t.Fatal(err)
	}
	var b map[string]string
	if err := json.Unmarshal([]byte(base), &b); err != nil {
		t.Fatalf("link base %q: %v", base, err)
	}
	return b
}

// TestKilledAfterPushKeepsLaterRemoteEdit: a run killed after the remote
// saved an update (push:after_commit) but before the hub stored the result
// leaves the link's base behind the remote. A user who then sets the field
// back to that old value makes a change (4 → 1) that the hub must not
// overwrite silently: it must take it, or audit a conflict.
func TestKilledAfterPushKeepsLaterRemoteEdit(t *testing.T) {
	h, remote := oneRiskSynced(t)
	h.OK("risk", "update", "R-1", "-likelihood", "4")
	point := fmt.Sprintf("push:after_commit:%d", readRemote(t, remote).PushWrites+1)
	setCrashPoint(t, remote, point)
	syncToCrashPoint(t, h, remote, point).killHub()

	rec := readRemote(t, remote).Live()[0]
	if got, base := rec.Fields["likelihood"], linkBase(t, h)["likelihood"]; got != "4" || base != "1" {
		t.Fatalf("after the kill at %s: the remote holds likelihood %q, the link's base %q; want 4 and 1", point, got, base)
	}

	// The user sets it back to 1 (a change: the remote held 4).
	clearFaults(t, remote)
	editRemote(t, remote, func(s *fault.State) error {
		_, err := s.Update(rec.ID, map[string]string{"likelihood": "1"})
		return err
	})
	h.OK("sync")
	h.OK("sync")
	var audit []model.AuditEntry
	h.JSONOf(&audit, "log")
	// The remote's 1 equals the last agreed base: to the hub the update it
	// sent may never have landed, so it sends it again (a conflict needs
	// the remote to differ from the base). Nothing is hidden: the audit
	// log keeps both values.
	recorded := false
	for _, a := range audit {
		recorded = recorded || a.Field == "conflict:likelihood" ||
			(a.Field == "resent:likelihood" && strings.Contains(a.Old, ": 1") && strings.Contains(a.New, "hub: 4"))
	}
	got := h.list()[0].Likelihood
	if got != 1 && !recorded {
		t.Errorf("lost update: the remote's edit 4 → 1 was overwritten with the hub's 4, and the audit log does not hold both values")
	}
	t.Logf("the hub holds likelihood %d; both values audited: %v", got, recorded)
}

// TestKilledBeforePushNoSpuriousConflict: a run killed as its push arrived
// at the connector (push:before_apply: the hub has recorded what it sends,
// the remote is as it was) leaves the remote unchanged. A user who then
// edits another field of that record changed nothing the hub sent: the
// next run must push the hub's edit, log no conflict, and keep the hub's
// value.
func TestKilledBeforePushNoSpuriousConflict(t *testing.T) {
	h, remote := oneRiskSynced(t)
	h.OK("risk", "update", "R-1", "-title", "Hub title")
	point := fmt.Sprintf("push:before_apply:%d", readRemote(t, remote).Calls["push"]+1)
	setCrashPoint(t, remote, point)
	syncToCrashPoint(t, h, remote, point).killHub()

	rec := readRemote(t, remote).Live()[0]
	if got := rec.Fields["title"]; got != "Only risk" {
		t.Fatalf("the remote's title is %q: the push landed, though the run was killed before the connector applied it", got)
	}

	// A user raises the likelihood: the title stays as the remote had it.
	clearFaults(t, remote)
	editRemote(t, remote, func(s *fault.State) error {
		_, err := s.Update(rec.ID, map[string]string{"likelihood": "4"})
		return err
	})
	h.OK("sync")
	h.OK("sync")
	procs.WaitGone(t, faultPlugin, 5*time.Second)

	var audit []model.AuditEntry
	h.JSONOf(&audit, "log")
	for _, a := range audit {
		if c, ok := parseConflict(a); ok && c.kind == "conflict" {
			t.Errorf("spurious conflict on %s: hub %q, remote %q (%s): only the hub edited the title, only the remote the likelihood",
				c.field, c.hub, c.remote, c.New)
		}
	}
	got := h.list()[0]
	if got.Title != "Hub title" || got.Likelihood != 4 {
		t.Errorf("the hub holds title %q, likelihood %d; want the hub's edit \"Hub title\" and the remote's 4", got.Title, got.Likelihood)
	}
	rec = readRemote(t, remote).Live()[0]
	if title, l := rec.Fields["title"], rec.Fields["likelihood"]; title != "Hub title" || l != "4" {
		t.Errorf("the remote holds title %q, likelihood %s; want \"Hub title\" and 4", title, l)
	}
}

// TestPluginKilledAfterCommittingCreates: the plugin SIGKILLs itself once
// the remote saved the third of five creates (crash_at in the connector's
// config block). The hub recorded the creates as pending before it pushed:
// it looks each up by its marker instead of creating it again, links the
// three it finds and creates the other two, so every risk ends with one
// remote record.
func TestPluginKilledAfterCommittingCreates(t *testing.T) {
	h, remote := newFaultHub(t)
	cfg := strings.Replace(faultConfig(remote), "page_size = 100", "page_size = 100\n  crash_at  = \"push:after_commit:3\"\n  crash_how = \"kill\"", 1)
	h.Write("usmhub.hcl", cfg)
	h.Write("inventory.csv", "title,likelihood,impact,status\nOne,1,3,accepted\nTwo,2,3,accepted\nThree,3,3,accepted\nFour,4,3,accepted\nFive,5,3,accepted\n")
	h.OK("risk", "import", "inventory.csv")
	_, errs, code := h.Run("sync")
	procs.WaitGone(t, faultPlugin, 5*time.Second)
	t.Logf("the run whose plugin killed itself exited %d", code)
	st := readRemote(t, remote)
	if !slices.Contains(st.Spent, "push:after_commit:3") {
		t.Fatalf("the crash point was not reached (spent %q):\n%s", st.Spent, errs)
	}
	h.OK("sync")
	h.OK("sync")
	procs.WaitGone(t, faultPlugin, 5*time.Second)

	st = readRemote(t, remote)
	// The fault connector takes a create carrying a marker it holds as a
	// retry (no second record), so the remote alone would not show a
	// create sent again blindly: the lookups do.
	if got := st.Calls["find"]; got != 5 {
		t.Errorf("find calls = %d, want 5: every create whose push died is looked up by its marker before it is sent again", got)
	}
	markers := map[string]int{}
	for _, r := range st.Live() {
		markers[r.Marker]++
	}
	if len(st.Records) != 5 || len(markers) != 5 {
		t.Errorf("the remote holds %d records with %d markers, want 5 and 5: %v", len(st.Records), len(markers), markers)
	}
	for m, n := range markers {
		if m == "" || n != 1 {
			t.Errorf("marker %q is on %d records, want 1", m, n)
		}
	}
	nothingLostNothingDoubled(t, h, remote, 5)
}
