package crash_test

// The kill loop of SYNC.md: `usmhub sync` is run as a subprocess against the
// file connector (a built plugin binary next to the usmhub binary, as a
// user installs them) and killed with SIGKILL at random moments — usmhub
// itself, its connector plugin, or usmhub while its connector waits to push
// — while both sides are edited between the kills and now and then during a
// run; then the sync is run to completion and the properties that must hold
// are checked: one remote record per hub risk, none twice; every edit
// accounted for (overwritten by a later edit of the same field, held by
// both sides at the end, or the loser of a conflict the audit log holds
// with both values); no conflict logged on a field only one side edited
// since the last run that completed; a sound database; no plugin left
// behind. USMHUB_KILL_SEED replays a loop, USMHUB_KILLS sets its length.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/reconcile"
	"github.com/usmhub/usmhub/core/store"
	"github.com/usmhub/usmhub/internal/hubcli"
	"github.com/usmhub/usmhub/internal/procs"
)

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

// ledgerWrite is one value written to one field of one risk on one side.
type ledgerWrite struct {
	side  string // hub or remote
	value string
	old   string // the value this side held before ("" when not known)
	// iter is the attempt the write followed: made after attempt iter
	// ended and before attempt iter+1 started, or, when during is set,
	// while attempt iter ran.
	iter   int
	during bool
}

// within reports whether the write was made after attempt since started
// and before attempt upto ended (while it ran counts).
func (w ledgerWrite) within(since, upto int) bool {
	return w.iter >= since && (w.iter < upto || w.iter == upto && w.during)
}

func (w ledgerWrite) String() string {
	when := "after"
	if w.during {
		when = "during"
	}
	return fmt.Sprintf("%s %q (%s attempt %d)", w.side, w.value, when, w.iter)
}

// ledger keeps every edit: risk key → field → writes in order.
type ledger map[string]map[string][]ledgerWrite

func (l ledger) add(key, field, side, old, value string, iter int, during bool) {
	if l[key] == nil {
		l[key] = map[string][]ledgerWrite{}
	}
	l[key][field] = append(l[key][field], ledgerWrite{side: side, value: value, old: old, iter: iter, during: during})
}

// reverted reports whether the last write of ws set its side back to the
// value both sides held when attempt since (the last run that completed
// before it) ended, so that its side's edits since then undo themselves: a
// sync that saw none of them cannot tell them from no edit, and the other
// side's last edit since then, of value want, stands. (Had a run seen one,
// it would have audited a conflict with the other side's edit.)
func reverted(ws []ledgerWrite, since int, want string) bool {
	last := ws[len(ws)-1]
	var first, otherFirst, other *ledgerWrite
	for i := range ws {
		w := &ws[i]
		switch {
		case w.iter < since:
		case w.side == last.side:
			if first == nil {
				first = w
			}
		default:
			if otherFirst == nil {
				otherFirst = w
			}
			other = w
		}
	}
	return first != nil && other != nil && first.old != "" && first.old == last.value &&
		otherFirst.old == first.old && other.value == want
}

// netEdits collects the edits of one save (a transaction, a file write):
// only a field's last value counts, and only when it differs from the value
// before the save; the other side never sees the values in between.
type netEdits struct {
	order         [][2]string // key and field, in the order first edited
	before, after map[[2]string]string
}

// set records that the save sets field of key from old to value.
func (e *netEdits) set(key, field, old, value string) {
	kf := [2]string{key, field}
	if e.before == nil {
		e.before, e.after = map[[2]string]string{}, map[[2]string]string{}
	}
	if _, ok := e.before[kf]; !ok {
		e.before[kf] = old
		e.order = append(e.order, kf)
	}
	e.after[kf] = value
}

// add adds the net edits to the ledger and returns how many there are.
func (e *netEdits) add(l ledger, side string, iter int, during bool) int {
	n := 0
	for _, kf := range e.order {
		if e.after[kf] != e.before[kf] {
			l.add(kf[0], kf[1], side, e.before[kf], e.after[kf], iter, during)
			n++
		}
	}
	return n
}

// auditedConflict is an entry of the audit log where the sync chose
// between two values of a field: a conflict ("conflict:<field>", Old "hub:
// <value>", New "remote (<connector> <id>): <value>; <winner> wins, …"),
// or an unconfirmed update sent again over the remote's value
// ("resent:<field>", Old "remote (…): <value>", New "hub: <value>; …").
type auditedConflict struct {
	model.AuditEntry
	kind, field, hub, remote string // kind: conflict or resent
	parsed                   bool   // hub and remote were read from the entry
}

// parseConflict reads a conflict or resent entry; ok is false for another.
func parseConflict(a model.AuditEntry) (c auditedConflict, ok bool) {
	kind, field, ok := strings.Cut(a.Field, ":")
	if !ok || kind != "conflict" && kind != "resent" {
		return c, false
	}
	c = auditedConflict{AuditEntry: a, kind: kind, field: field}
	var okHub, okRemote bool
	for _, s := range []string{a.Old, a.New} {
		if v, ok := strings.CutPrefix(s, "hub: "); ok {
			c.hub, _, _ = strings.Cut(v, "; ")
			okHub = true
		} else if _, v, ok := strings.Cut(s, "): "); ok && strings.HasPrefix(s, "remote (") {
			c.remote, _, _ = strings.Cut(v, "; ")
			okRemote = true
		}
	}
	c.parsed = okHub && okRemote
	return c, true
}

func (c auditedConflict) String() string {
	return fmt.Sprintf("%s:%s hub %q remote %q (run %s)", c.kind, c.field, c.hub, c.remote, c.RunID)
}

// holds reports whether the entry names the values x and y, one on each
// side (either way round). An entry in a format the test cannot read holds
// them if it mentions both.
func (c auditedConflict) holds(x, y string) bool {
	if !c.parsed {
		return strings.Contains(c.Old+c.New, x) && strings.Contains(c.Old+c.New, y)
	}
	return c.hub == x && c.remote == y || c.hub == y && c.remote == x
}

// syncOutcome is how an attempt of the loop ended.
type syncOutcome struct {
	killed       bool // usmhub was SIGKILLed
	pluginKilled bool // its connector plugin was SIGKILLed, and usmhub went on
	pluginMissed bool // a plugin kill was due, but no plugin ran then
	atPush       bool // usmhub was SIGKILLed while its connector waited to push
	code         int
	stderr       string
	duration     time.Duration
}

// Kill targets of runKilled.
const (
	killHub    = "hub"    // SIGKILL usmhub itself
	killPlugin = "plugin" // SIGKILL the connector plugin usmhub launched
	// killAtPush holds the folder lock of the file connector over
	// dir/remote and SIGKILLs usmhub once its connector waits for it in a
	// push: after the hub recorded the updates it sends, before any landed.
	killAtPush = "push"
)

// runKilled runs `usmhub sync` in dir and, after delay unless it ends first,
// SIGKILLs it (target killHub) or the connector processes it launched
// (killPlugin; usmhub must then end by itself, whatever its exit code);
// with killAtPush, it ignores delay and kills usmhub in its first push, if
// it pushes. during, when set, runs alongside the sync (people editing
// while it runs); runKilled returns once both are done.
func runKilled(t *testing.T, dir string, delay time.Duration, target string, during func(), args ...string) syncOutcome {
	t.Helper()
	plugin := filePlugin
	var unlock func()
	if target == killAtPush {
		var err error
		if unlock, err = flockDir(filepath.Join(dir, "remote")); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if unlock != nil {
				unlock()
			}
		}()
	}
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
	if target == killAtPush {
		lockPath := filepath.Join(dir, "remote", ".usmhub-file.lock")
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
	watch:
		for {
			select {
			case err = <-done:
				break watch
			case <-tick.C:
			}
			if pluginHolds(plugin, cmd.Process.Pid, lockPath) {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				err = <-done
				out.atPush = true
				break watch
			}
		}
		unlock()
		unlock = nil
	} else {
		select {
		case err = <-done:
		case <-timer.C:
			out.pluginKilled, err = kill(t, cmd, target, plugin, done, &errb)
			out.pluginMissed = target == killPlugin && !out.pluginKilled
		}
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

// kill SIGKILLs usmhub (killHub) or the connector processes it launched
// (killPlugin), waits for usmhub to end and returns how it ended.
func kill(t *testing.T, cmd *exec.Cmd, target, plugin string, done <-chan error, errb *bytes.Buffer) (pluginKilled bool, err error) {
	t.Helper()
	if target != killPlugin {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		return false, <-done
	}
	for _, pid := range procs.Children(plugin, cmd.Process.Pid) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			pluginKilled = true
		}
	}
	// The hub notices, relaunches its plugin or fails the run, and ends.
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatalf("usmhub sync did not end within two minutes of its connector plugin being killed:\n%s", errb.String())
	}
	return pluginKilled, err
}

// attempt is one `usmhub sync` of the loop, or a settling run after it.
type attempt struct {
	out   syncOutcome
	runs  []string // the ids of the sync runs it started
	phase string
}

// completed reports whether the attempt ran to its end: usmhub exited 0
// and nothing was killed.
func (a attempt) completed() bool { return !a.out.killed && !a.out.pluginKilled && a.out.code == 0 }

// runTracker tells the sync runs each attempt started.
type runTracker struct {
	db   string
	seen map[string]bool
}

// since returns the ids of the runs the hub's database holds that it did
// not at the last call.
func (r *runTracker) since(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat(r.db); err != nil {
		return nil
	}
	db := openRO(t, r.db)
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM runs`)
	if err != nil {
		t.Fatalf("list the runs: %v", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if !r.seen[id] {
			r.seen[id] = true
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
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
	if fi, err := os.Stat(filepath.Join(h.Dir, "remote", "risks.csv")); err == nil {
		s.remoteMod = fi.ModTime()
	}
	dbPath := filepath.Join(h.Dir, "data", "usmhub.db")
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
	plugin := filePlugin
	h := newHub(t, syncConfig("", "  batch_size = 20"))
	remotePath := filepath.Join(h.Dir, "remote", "risks.csv")
	dbPath := filepath.Join(h.Dir, "data", "usmhub.db")
	if err := os.Mkdir(filepath.Join(h.Dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	const initial = 1000
	var inv strings.Builder
	inv.WriteString("title,likelihood,impact,effort,status,owner\n")
	for i := 1; i <= initial; i++ {
		fmt.Fprintf(&inv, "Risk %d,%d,%d,%d,accepted,owner%d\n", i, i%5+1, (i*3)%5+1, i%4, i%7)
	}
	h.Write("inventory.csv", inv.String())
	h.OK("risk", "import", "inventory.csv")

	// Measure a full first run, and one with nothing to do, on a copy, to
	// scale the kill delays.
	probe := &hub{hubcli.At(t, usmhubBin, t.TempDir())}
	copyTree(t, h.Dir, probe.Dir)
	full := runKilled(t, probe.Dir, time.Minute, killHub, nil)
	if full.killed || full.code != 0 {
		t.Fatalf("the probe run failed: exit %d\n%s", full.code, full.stderr)
	}
	small := runKilled(t, probe.Dir, time.Minute, killHub, nil)
	procs.WaitGone(t, plugin, 5*time.Second)
	t.Logf("a full first run takes %s, a run with nothing to do %s", full.duration.Round(time.Millisecond), small.duration.Round(time.Millisecond))

	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("USMHUB_KILL_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (set USMHUB_KILL_SEED to replay the same kills and edits)", seed)
	rnd := rand.New(rand.NewPCG(seed, 0x5eed))
	kills := 50 // SYNC.md: at least 50 (an eighth of them through the plugin, an eighth inside a push)
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
	// hubEdited is the last attempt after (or during) which the hub edited
	// each risk: people often edit on one side a record just changed on
	// the other, which is where a run killed in its push leaves work.
	hubEdited := map[string]int{}
	count := func(what string, n int) {
		editsMu.Lock()
		edits[what] += n
		editsMu.Unlock()
	}
	ctx := context.Background()

	// hubEdits changes n risks in one transaction through the store API,
	// as another usmhub command would (title or likelihood).
	hubEdits := func(rnd *rand.Rand, keys []string, iter, n int, during bool) error {
		st, err := store.Open(ctx, dbPath)
		if err != nil {
			return err
		}
		defer st.Close()
		var done netEdits
		err = st.Update(ctx, store.Actor{Name: "cli:killloop"}, func(tx store.Tx) error {
			done = netEdits{}
			for k := 0; k < n; k++ {
				key := keys[rnd.IntN(len(keys))]
				r, err := tx.Risk(key)
				if err != nil {
					return err
				}
				field, value, old := "title", fmt.Sprintf("hub %d-%d", iter, k), r.Title
				if rnd.IntN(3) == 0 {
					field, value, old = "likelihood", strconv.Itoa(rnd.IntN(5)+1), strconv.Itoa(r.Likelihood)
				}
				switch {
				case old == value:
					continue
				case field == "title":
					r.Title = value
				default:
					r.Likelihood, _ = strconv.Atoi(value)
				}
				if err := tx.UpdateRisk(&r); err != nil {
					return err
				}
				done.set(key, field, old, value)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("hub edits: %w", err)
		}
		editsMu.Lock()
		for _, kf := range done.order {
			hubEdited[kf[0]] = iter
		}
		n = done.add(led, "hub", iter, during)
		editsMu.Unlock()
		count("hub (store)", n)
		return nil
	}
	// hubCLIEdit changes one risk with usmhub risk update, as a person would.
	hubCLIEdit := func(iter int) {
		key := hubKeys[rnd.IntN(len(hubKeys))]
		field, value := "title", fmt.Sprintf("hub cli %d", iter)
		if rnd.IntN(3) == 0 {
			field, value = "likelihood", strconv.Itoa(rnd.IntN(5)+1)
		}
		if out := h.OK("risk", "update", key, "-"+field, value); !strings.Contains(out, "unchanged") {
			led.add(key, field, "hub", "", value, iter, false)
			hubEdited[key] = iter
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
	remoteEdits := func(rnd *rand.Rand, iter, n int, newRow, during bool) (string, error) {
		unlock, err := flockDir(filepath.Dir(remotePath))
		if err != nil {
			return "", err
		}
		defer unlock()
		s, err := loadSheet(remotePath)
		if err != nil || s == nil {
			return "", err
		}
		var candidates, recent []int // recent: edited in the hub in the last 3 attempts
		editsMu.Lock()
		for i, r := range s.rows {
			if s.get(r, "key") != "" && s.get(r, "marker") != "" && s.get(r, "deleted") == "" {
				candidates = append(candidates, i)
				if at, ok := hubEdited[s.get(r, "key")]; ok && at >= iter-3 {
					recent = append(recent, i)
				}
			}
		}
		editsMu.Unlock()
		if len(candidates) == 0 {
			n = 0
		}
		now := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
		var done netEdits
		for k := 0; k < n; k++ {
			from := candidates
			if len(recent) > 0 && rnd.IntN(2) == 0 {
				from = recent
			}
			r := s.rows[from[rnd.IntN(len(from))]]
			field, value := "title", fmt.Sprintf("remote %d-%d", iter, k)
			if rnd.IntN(3) == 0 {
				field, value = "likelihood", strconv.Itoa(rnd.IntN(5)+1)
			}
			if s.get(r, field) == value {
				continue
			}
			done.set(s.get(r, "key"), field, s.get(r, field), value)
			s.set(r, field, value)
			s.set(r, "updated_at", now)
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
		if len(done.order) == 0 && !newRow {
			return "", nil
		}
		if err := s.saveTo(remotePath); err != nil {
			return "", err
		}
		editsMu.Lock()
		n = done.add(led, "remote", iter, during)
		editsMu.Unlock()
		count("remote", n)
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
	var iter, killed, pluginKills, pushKills, concurrent int
	// attempts[i] is attempt i (1-based; 0: none), then the settling runs.
	attempts := []attempt{{}}
	runs := &runTracker{db: dbPath, seen: map[string]bool{}}
	for killed < kills {
		iter++
		if iter > 3*kills {
			t.Fatalf("%d runs, only %d killed: the delays are too long", iter-1, killed)
		}
		hi = max(hi, small.duration)
		// An eighth of the kills hit the connector plugin instead of the
		// hub (once it runs): the hub must notice, and relaunch it or fail
		// the run cleanly. An eighth land in the hub's first push, before
		// the connector took it (it waits for the folder lock): the narrow
		// window between the hub recording what it sends and the remote
		// changing. (Both make slower attempts than a plain kill.)
		target := killHub
		switch rnd.IntN(8) {
		case 0:
			target = killPlugin
		case 1:
			target = killAtPush
		}
		delay := time.Duration(rnd.Int64N(int64(300 * time.Millisecond)))
		if rnd.IntN(4) > 0 || target == killPlugin {
			delay = lo + time.Duration(rnd.Int64N(int64(hi-lo)))
		}
		// Now and then people edit while the sync runs: the hub through the
		// store, the sheet under the connector's lock.
		var during func()
		var duringErr error
		var duringTitle, duringSide string
		if iter > 3 && rnd.IntN(3) == 0 && target != killAtPush { // the edits there would wait for the lock
			concurrent++
			r := rand.New(rand.NewPCG(seed, uint64(iter)))
			keys := append([]string(nil), hubKeys...)
			wait := time.Duration(r.Int64N(int64(delay) + 1))
			during = func() {
				time.Sleep(wait)
				if r.IntN(2) == 0 {
					duringSide = "hub"
					duringErr = hubEdits(r, keys, iter, r.IntN(20)+1, true)
				} else {
					duringSide = "sheet"
					duringTitle, duringErr = remoteEdits(r, iter, r.IntN(20)+1, false, true)
				}
			}
		}
		before := snapshot(t, h)
		out := runKilled(t, h.Dir, delay, target, during)
		if duringErr != nil {
			t.Fatalf("iteration %d: editing during the sync: %v", iter, duringErr)
		}
		if duringTitle != "" {
			newRemoteTitles = append(newRemoteTitles, duringTitle)
		}
		// The hub is gone; its plugin must follow (parent-death signal).
		procs.WaitGone(t, plugin, 5*time.Second)
		after := snapshot(t, h)
		a := attempt{out: out, runs: runs.since(t), phase: phaseOf(before, after, out)}
		// A sheet saved while the run pushes makes pushes of the rows it
		// changed meet a newer version: the run merges them and ends
		// incomplete (exit 1); the next run pushes what is left.
		incomplete := !out.killed && !out.pluginKilled && out.code == 1 && duringSide == "sheet" &&
			strings.Contains(out.stderr, "the sync is incomplete")
		switch {
		case incomplete:
			a.phase = "incomplete: the sheet was saved while it pushed"
		case out.pluginKilled:
			a.phase = fmt.Sprintf("plugin killed, then the hub exited %d", out.code)
			pluginKills++
		case out.atPush:
			a.phase = "push, the connector waiting for the folder lock"
			pushKills++
		}
		attempts = append(attempts, a)
		phases[a.phase]++
		if out.killed || out.pluginKilled {
			killed++
			hi = min(hi+hi/10, 4*full.duration)
		} else {
			hi = out.duration + out.duration/10
		}
		if !out.killed && !out.pluginKilled && out.code != 0 && !incomplete {
			t.Errorf("iteration %d: a run that was not killed exited %d (edits while it ran: %q):\n%s", iter, out.code, duringSide, out.stderr)
		}
		if strings.Contains(out.stderr, "panic:") {
			t.Fatalf("iteration %d: usmhub panicked:\n%s", iter, out.stderr)
		}
		// Between kills, people edit both sides: a few fields, now and
		// then many at once (so that runs have pages and batches to kill).
		switch x := rnd.IntN(10); {
		case x < 2:
			if err := hubEdits(rnd, hubKeys, iter, 30+rnd.IntN(60), false); err != nil {
				t.Fatal(err)
			}
		case x < 6:
			if err := hubEdits(rnd, hubKeys, iter, 1+rnd.IntN(3), false); err != nil {
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
		title, err := remoteEdits(rnd, iter, n, rnd.IntN(5) == 0, false)
		if err != nil {
			t.Fatal(err)
		}
		if title != "" {
			newRemoteTitles = append(newRemoteTitles, title)
		}
	}
	t.Logf("%d runs, %d killed (%d through their plugin, %d waiting to push), %d with edits while running; by phase: %v",
		iter, killed, pluginKills, pushKills, concurrent, phases)
	t.Logf("edits: %v", edits)

	// Run to completion: the first settles everything, the second must
	// find nothing to do.
	var results []reconcile.Result
	h.JSONOf(&results, "sync")
	attempts = append(attempts, attempt{runs: runs.since(t), phase: "settling"})
	t.Logf("settling run: %+v", results[0].Counts)
	procs.WaitGone(t, plugin, 5*time.Second)
	h.JSONOf(&results, "sync")
	attempts = append(attempts, attempt{runs: runs.since(t), phase: "settled"})
	if c := results[0].Counts; c.Changes() || c.Errors > 0 {
		t.Errorf("the second run after the loop still changed something: %+v", c)
	}
	procs.WaitGone(t, plugin, 5*time.Second)

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
		want := reconcile.RiskFields(risk)
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

	// The audit log's conflicts, each with the attempt whose run logged it.
	var audit []model.AuditEntry
	h.JSONOf(&audit, "log")
	attemptOf := map[string]int{} // run id → attempt
	for i, a := range attempts {
		for _, id := range a.runs {
			attemptOf[id] = i
		}
	}
	conflicts := map[string][]auditedConflict{} // hub id + "/" + field
	var logged []auditedConflict                // the conflicts, not the resent
	for _, a := range audit {
		if c, ok := parseConflict(a); ok {
			conflicts[a.EntityID+"/"+c.field] = append(conflicts[a.EntityID+"/"+c.field], c)
			if c.kind == "conflict" {
				logged = append(logged, c)
			}
		}
	}

	// Every edit is accounted for: overwritten by a later edit of the same
	// field (either side), or, the last, held by both sides (checked
	// above: the sheet holds the hub's values), or the loser of a choice
	// the audit log holds with both values, that edit's and the one kept:
	// a conflict, or an unconfirmed update sent again over it (resent).
	var writes, overwritten, held, overruled, undone, lost int
	// lastCompletedAt is the last attempt that completed at or before
	// attempt i (0: none).
	lastCompletedAt := func(i int) int {
		for ; i >= 1; i-- {
			if attempts[i].completed() {
				return i
			}
		}
		return 0
	}
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
		fields := reconcile.RiskFields(risk)
		for field, ws := range led[key] {
			writes += len(ws)
			overwritten += len(ws) - 1
			last := ws[len(ws)-1]
			if fields[field] == last.value {
				held++
				continue
			}
			if slices.ContainsFunc(conflicts[risk.ID+"/"+field], func(c auditedConflict) bool { return c.holds(last.value, fields[field]) }) {
				overruled++
				continue
			}
			if reverted(ws, lastCompletedAt(last.iter), fields[field]) {
				undone++
				continue
			}
			lost++
			// The evidence: what the runs did to the field since the
			// attempt before its first write, by attempt.
			var story []string
			upto := last.iter + 1
			for _, a := range audit {
				j, byRun := attemptOf[a.RunID]
				if a.EntityID != risk.ID || byRun && j < ws[0].iter ||
					a.Field != field && !strings.HasSuffix(a.Field, ":"+field) && !strings.HasPrefix(a.Field, "push:") {
					continue
				}
				at := "not a run"
				if byRun {
					at = fmt.Sprintf("attempt %d", j)
					upto = max(upto, j)
				}
				story = append(story, fmt.Sprintf("%s: %s %s %q → %q", at, a.Actor, a.Field, a.Old, a.New))
			}
			var runs []string
			for i := ws[0].iter; i <= min(upto, len(attempts)-1); i++ {
				a := attempts[i]
				runs = append(runs, fmt.Sprintf("attempt %d: %s, exit %d, runs %v, stderr %q", i, a.phase, a.out.code, a.runs, a.out.stderr))
			}
			t.Errorf("lost update: %s %s is %q, but the last write was %s, and the audit log holds no conflict between %q and %q (conflicts on it: %v); writes: %v; the audit log since: %s; the attempts: %s",
				key, field, fields[field], last, last.value, fields[field], conflicts[risk.ID+"/"+field], ws,
				strings.Join(story, "; "), strings.Join(runs, "; "))
		}
	}

	// No spurious conflict: a conflict is logged on a field only when both
	// sides edited it since the last run that completed (usmhub exited 0,
	// nothing killed) before the run that logged it started. Edits made
	// while that completed run ran count, as it may not have seen them.
	lastCompleted := func(j int) int {
		for i := j - 1; i >= 1; i-- {
			if attempts[i].completed() {
				return i
			}
		}
		return 0
	}
	spurious := 0
	for _, c := range logged {
		j, ok := attemptOf[c.RunID]
		if !ok {
			t.Errorf("conflict on %s %s logged by run %q, which no attempt of the loop started: %+v", c.EntityID, c.field, c.RunID, c.AuditEntry)
			continue
		}
		since := lastCompleted(j)
		risk := byID[c.EntityID]
		var hubSide, remoteSide []ledgerWrite
		for _, w := range led[risk.Key][c.field] {
			switch {
			case !w.within(since, j):
			case w.side == "hub":
				hubSide = append(hubSide, w)
			default:
				remoteSide = append(remoteSide, w)
			}
		}
		if len(hubSide) > 0 && len(remoteSide) > 0 {
			continue
		}
		spurious++
		var story []string
		for i := max(since, 1); i <= j; i++ {
			story = append(story, fmt.Sprintf("attempt %d: %s", i, attempts[i].phase))
		}
		var others []string // the record's other fields edited meanwhile
		for f, ws := range led[risk.Key] {
			for _, w := range ws {
				if f != c.field && w.within(since, j) {
					others = append(others, f+": "+w.String())
				}
			}
		}
		sort.Strings(others)
		t.Errorf("spurious conflict: run %s (attempt %d) logged a conflict on %s %s (hub %q, remote %q; %s), "+
			"but since attempt %d, the last run that completed, only these edits were made to it: hub %v, remote %v; "+
			"to its other fields: %v; attempts: %s; all writes to %s: %v",
			c.RunID, j, risk.Key, c.field, c.hub, c.remote, c.New, since, hubSide, remoteSide, others,
			strings.Join(story, "; "), c.field, led[risk.Key][c.field])
	}
	t.Logf("the ledger holds %d edits of %d fields: %d overwritten by a later edit, %d held by both sides, "+
		"%d lost in an audited conflict, %d undone on their side before a sync saw them, %d lost without a trace; "+
		"%d conflicts logged, %d of them spurious",
		writes, writes-overwritten, overwritten, held, overruled, undone, lost, len(logged), spurious)

	integrityCheck(t, dbPath)
	procs.WaitGone(t, plugin, 5*time.Second)
}

// pluginHolds reports whether a connector process (running exe) launched
// by the process parent has the file at path open.
func pluginHolds(exe string, parent int, path string) bool {
	for _, pid := range procs.Children(exe, parent) {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && target == path {
				return true
			}
		}
	}
	return false
}

// The kill loop's ledger takes edits undone on their side before any run
// saw them for no edit, and nothing else (seed 4 of the loop: the sheet
// went 3 → 2 → 3 between completed runs while the hub set 5).
func TestLedgerReverted(t *testing.T) {
	w := func(side, old, value string, iter int) ledgerWrite {
		return ledgerWrite{side: side, old: old, value: value, iter: iter}
	}
	for _, tt := range []struct {
		name  string
		ws    []ledgerWrite
		since int
		want  string
		ok    bool
	}{
		{"undone unseen", []ledgerWrite{w("hub", "3", "5", 33), w("remote", "3", "2", 33), w("remote", "2", "3", 35)}, 33, "5", true},
		{"not back to the agreed value", []ledgerWrite{w("hub", "3", "5", 33), w("remote", "3", "2", 33), w("remote", "2", "4", 35)}, 33, "5", false},
		{"the hub edited after a run took the remote's edit", []ledgerWrite{w("remote", "3", "2", 33), w("hub", "2", "5", 34), w("remote", "2", "3", 35)}, 33, "5", false},
		{"the other side's edit is not what stands", []ledgerWrite{w("hub", "3", "5", 33), w("remote", "3", "2", 33), w("remote", "2", "3", 35)}, 33, "3", false},
		{"undone across a completed run", []ledgerWrite{w("hub", "3", "5", 36), w("remote", "3", "2", 33), w("remote", "2", "3", 36)}, 35, "5", false},
		{"old value unknown", []ledgerWrite{w("hub", "", "5", 33), w("remote", "3", "2", 33), w("remote", "2", "3", 35)}, 33, "5", false},
	} {
		if got := reverted(tt.ws, tt.since, tt.want); got != tt.ok {
			t.Errorf("%s: reverted = %v, want %v", tt.name, got, tt.ok)
		}
	}
}
