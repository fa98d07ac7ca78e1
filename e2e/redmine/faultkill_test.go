package redmine_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usmhub/usmhub/internal/procs"
)

// The kill loop against the real Redmine, with the fault proxy injecting
// occasional failures: `usmhub sync risks` and its connector process
// (usmhub-connector-redmine) are SIGKILLed at random moments, over and
// over, while both sides are edited between the kills — the hub with
// `usmhub risk update` (title, likelihood), Redmine as its administrator
// over the REST API (subject, USM impact, status New ↔ Rejected). A ledger
// keeps every edit. At the end the sync runs to completion without faults
// and every edit is accounted for: on both sides, or overwritten by a later
// edit of the same field, or in the audit log as a conflict holding its
// value. No issue is doubled, no conflict is spurious (logged on a field
// only one side edited since the last completed sync), no run that counted
// errors exits 0.
//
// USMHUB_KILL_SEED replays the same choices (kills and edits; the timing
// of a real Redmine varies), USMHUB_KILLS sets the number of SIGKILLs (52),
// USMHUB_FAULT_RISKS the number of risks (60).
func TestFaultKillLoop(t *testing.T) {
	requireRedmine(t)
	if testing.Short() {
		t.Skip("-short: the Redmine kill loop takes about two minutes")
	}
	began := time.Now()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("USMHUB_KILL_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (USMHUB_KILL_SEED=%d replays the same kills, edits and faults)", seed, seed)
	wantKills := envInt("USMHUB_KILLS", 52)
	n := envInt("USMHUB_FAULT_RISKS", 60)
	rnd := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	verbose := os.Getenv("USMHUB_KILL_VERBOSE") == "1"

	plugin, err := filepath.EvalSymlinks(redminePlugin)
	if err != nil {
		t.Fatal(err)
	}
	rm := adminAPI(t)
	project := rm.newProject("fkill")
	p := newFaultProxy(t, redmine["REDMINE_URL"], seed)
	h := newHubVia(t, project, p.URL)
	h.OK("risk", "import", h.faultInventory(n))
	statusNew, statusRejected := rm.statusID("New"), rm.statusID("Rejected")
	p.set(killLoopFaults()...)

	led := &editLedger{}
	var runs []*loopRun
	kills, hubKills, pluginKills := 0, 0, 0
	est := 800 * time.Millisecond // a run's typical length, learnt from runs that end by themselves
	var editTime, runTime time.Duration
	var tracked map[string]*rmTracked // risk key → its one issue (keys held twice are left out)
	listedAt := 0
	deadline := began.Add(6 * time.Minute) // a safety net, not a pass criterion

	for round := 1; kills < wantKills && round <= 4*wantKills; round++ {
		if time.Now().After(deadline) {
			t.Errorf("the loop ran out of time after %d rounds and %d kills", round-1, kills)
			break
		}
		procs.WaitGone(t, plugin, 10*time.Second)

		// Edits on both sides.
		editStart := time.Now()
		if round > 1 {
			var risks map[string]hubRiskID
			var hubTitled []string // keys whose title the hub edited this round
			for j, k := 0, rnd.IntN(3); j < k; j++ {
				if risks == nil {
					risks = h.risksByKey()
				}
				key := fmt.Sprintf("R-%d", 1+rnd.IntN(n))
				cur := risks[key]
				e := edit{side: "hub", key: key, round: round, kills: kills}
				if rnd.IntN(2) == 0 {
					e.field, e.old, e.value = "title", cur.Title, fmt.Sprintf("hub %d.%d %s", round, j, key)
				} else {
					v := 1 + rnd.IntN(5)
					if v == cur.Likelihood {
						v = v%5 + 1
					}
					e.field, e.old, e.value = "likelihood", strconv.Itoa(cur.Likelihood), strconv.Itoa(v)
				}
				h.OK("risk", "update", key, "-"+e.field, e.value)
				e.at = time.Now()
				led.add(e)
				if e.field == "title" {
					hubTitled = append(hubTitled, key)
					cur.Title = e.value
					if tr := tracked[key]; tr != nil {
						tr.subject = e.value // once pushed
					}
				} else {
					cur.Likelihood, _ = strconv.Atoi(e.value)
				}
				risks[key] = cur
			}
			// Redmine's issues are listed (slow: seconds for 100 issues on
			// a loaded machine) while some are still being created, and
			// rarely after; impact and status change only by these edits,
			// so they are tracked here in between.
			if tracked == nil || len(tracked) < n && round-listedAt >= 3 || round-listedAt >= 25 {
				tracked, listedAt = map[string]*rmTracked{}, round
				for key, is := range oneIssuePerKey(riskIssues(rm, project)) {
					tracked[key] = &rmTracked{id: is.ID, subject: is.Subject, impact: is.cf("IMPACT"), status: is.Status.Name}
				}
			}
			keys := sortedKeys(tracked)
			for j, k := 0, rnd.IntN(3); j < k && len(keys) > 0; j++ {
				key := keys[rnd.IntN(len(keys))]
				if len(hubTitled) > 0 && rnd.IntN(3) == 0 {
					// Both sides change one title: a true conflict.
					if k := hubTitled[rnd.IntN(len(hubTitled))]; tracked[k] != nil {
						key = k
					}
				}
				is := tracked[key]
				id := is.id
				e := edit{side: "redmine", key: key, issue: id, round: round, kills: kills}
				var fields map[string]any
				c := rnd.IntN(3)
				if slices.Contains(hubTitled, key) {
					c = 2
				}
				switch {
				case c == 0 && (is.status == "New" || is.status == "Rejected"):
					to, toID := "Rejected", statusRejected
					if is.status == "Rejected" {
						to, toID = "New", statusNew
					}
					e.field, e.old, e.value = "status", hubStatusOf(is.status), hubStatusOf(to)
					fields = map[string]any{"status_id": toID}
					is.status = to
				case c == 1:
					old, _ := strconv.Atoi(is.impact)
					v := 1 + rnd.IntN(5)
					if v == old {
						v = v%5 + 1
					}
					e.field, e.old, e.value = "impact", is.impact, strconv.Itoa(v)
					fields = map[string]any{"custom_fields": []any{cfUpdate("IMPACT", e.value)}}
					is.impact = e.value
				default:
					e.field, e.old, e.value = "title", is.subject, fmt.Sprintf("redmine %d.%d %s", round, j, key)
					fields = map[string]any{"subject": e.value}
					is.subject = e.value
				}
				rm.setIssue(id, fields)
				e.at = time.Now()
				led.add(e)
			}
		}

		editTime += time.Since(editStart)

		// A run, killed at a random moment (or let be).
		lr := &loopRun{round: round}
		switch x := rnd.IntN(100); {
		case x < 10:
			lr.victim = ""
		case x < 62: // a killed connector is relaunched, and its run goes on: longer rounds
			lr.victim = "usmhub"
		default:
			lr.victim = "connector"
		}
		delay := 20*time.Millisecond + time.Duration(rnd.Float64()*float64(est))
		faultsBefore := len(p.injected())
		runAndKill(t, h, plugin, lr, delay)
		runTime += lr.end.Sub(lr.start)
		lr.faults = p.eventsSince(faultsBefore)
		if lr.completedCleanly() {
			lr.hub = h.risksByKey() // what a completed sync left, for the evidence
		}
		if lr.killed {
			kills++
			lr.kill = kills
			if lr.victim == "usmhub" {
				hubKills++
			} else {
				pluginKills++
			}
		} else if lr.run.code == 0 && len(lr.faults) == 0 {
			// Kill within the length of a run without faults (those that
			// meet one take longer, and are killed in their retries).
			d := lr.end.Sub(lr.start)
			est = min(max((est*3+d)/4, 200*time.Millisecond), 3*time.Second)
		}
		runs = append(runs, lr)
		if verbose {
			t.Logf("%s (%s)", lr, lr.end.Sub(lr.start).Round(time.Millisecond))
		}
	}
	loopTime := time.Since(began)

	// Run the sync to completion, no faults.
	p.passThrough()
	procs.WaitGone(t, plugin, 10*time.Second)
	var final []syncRun
	settled := false
	for i := 1; i <= 8 && !settled; i++ {
		lr := &loopRun{round: len(runs) + 1, final: true, start: time.Now()}
		lr.run = h.syncRisks()
		lr.end = time.Now()
		runs = append(runs, lr)
		final = append(final, lr.run)
		checkHonest(t, fmt.Sprintf("the pass-through sync %d after the loop", i), lr.run)
		settled = lr.run.code == 0 && lr.run.counts != nil && !changed(lr.run.counts)
	}
	if !settled {
		t.Errorf("%d pass-through syncs after the loop did not settle; the last: %s", len(final), final[len(final)-1])
	}

	// The evidence.
	hubRisks := h.risksByKey()
	all := riskIssues(rm, project)
	byKey := checkOneIssueEach(t, all, hubRisks)
	st := h.status()
	doubled := linkedIssues(all, byKey, st)
	var audit []struct {
		At       time.Time `json:"at"`
		RunID    string    `json:"run_id"`
		EntityID string    `json:"entity_id"`
		Field    string    `json:"field"`
		Old      string    `json:"old"`
		New      string    `json:"new"`
	}
	h.JSONOf(&audit, "log")
	keyOf := map[string]string{}
	for k, r := range hubRisks {
		keyOf[r.ID] = k
	}
	var conflicts []conflictEntry
	otherAudit := map[string][]string{} // key/field → sync entries of other kinds (e.g. resent:<field>)
	for _, a := range audit {
		kind, f, ok := strings.Cut(a.Field, ":")
		switch {
		case !ok:
		case kind == "conflict":
			conflicts = append(conflicts, conflictEntry{at: a.At, key: keyOf[a.EntityID], field: f, old: a.Old, new: a.New, run: a.RunID})
		default:
			otherAudit[keyOf[a.EntityID]+"/"+f] = append(otherAudit[keyOf[a.EntityID]+"/"+f],
				fmt.Sprintf("%s at %s: %s / %s", a.Field, a.At.Format("15:04:05.000"), a.Old, a.New))
		}
	}
	if st.Health != "ok" || len(st.Quarantined) > 0 || st.Links["linked"] != n {
		t.Errorf("status after the loop settled: %s; want ok, %d linked, nothing quarantined; quarantined: %+v", st, n, st.Quarantined)
	}

	// Nothing hidden: runs that counted errors and exited 0.
	var hidden []string
	completed := 0
	for _, r := range runs {
		if r.hubExited() && r.run.code == 0 && r.run.counts != nil {
			if r.run.counts["errors"] > 0 {
				hidden = append(hidden, fmt.Sprintf("round %d (%d errors)", r.round, r.run.counts["errors"]))
			} else if r.run.counts["quarantined"] == 0 {
				completed++
			}
		}
	}
	if len(hidden) > 0 {
		t.Errorf("HIDDEN: %d runs exited 0 although they counted errors: %s", len(hidden), strings.Join(hidden, ", "))
	}

	tl := account(t.Errorf, led, runs, hubRisks, byKey, conflicts, otherAudit, doubled)

	faultCount := map[string]int{}
	for _, e := range p.injected() {
		faultCount[string(e.Fault)]++
	}
	t.Logf("%d SIGKILLs (%d of usmhub sync, %d of the connector) in %d rounds, %d runs completed cleanly; faults injected: %v; %d requests came back inside a Retry-After window",
		kills, hubKills, pluginKills, len(runs)-len(final), completed, faultCount, len(p.earlyRequests()))
	t.Logf("ledger: %d edits (%d hub, %d Redmine) of %d fields: %d kept on both sides, %d overwritten by a later edit, %d overruled by an audited conflict, %d LOST; %d conflicts logged, %d SPURIOUS",
		led.total(), led.count("hub"), led.count("redmine"), len(led.byField), tl.kept, tl.overwritten, tl.overruled, tl.lost, len(conflicts), tl.spurious)
	t.Logf("the loop took %s (%s editing, %s in runs), the whole test %s", loopTime.Round(time.Second),
		editTime.Round(time.Second), runTime.Round(time.Second), time.Since(began).Round(time.Second))
	if kills < 50 || hubKills == 0 || pluginKills == 0 {
		t.Errorf("only %d SIGKILLs (%d usmhub, %d connector): want at least 50, of both", kills, hubKills, pluginKills)
	}
}

// tally counts how the edits of the ledger ended.
type tally struct{ kept, overwritten, overruled, lost, spurious int }

// account checks the ledger against the end state (hubRisks, byKey), the
// audit log's conflicts and the runs: every edit on both sides, overwritten
// by a later edit of its field, or in a conflict holding its value and the
// winner's; every conflict on a field both sides edited since the last
// clean sync; every field nobody edited the same on both sides. It reports
// each failure through errorf.
func account(errorf func(string, ...any), led *editLedger, runs []*loopRun, hubRisks map[string]hubRiskID, byKey map[string]rmIssue,
	conflicts []conflictEntry, otherAudit map[string][]string, doubled map[string]string) tally {
	// afterCompleted says what the hub held of a field after the last clean
	// sync before t.
	afterCompleted := func(key, field string, t time.Time) string {
		r := lastCompletedBefore(runs, t)
		if r == nil {
			return "no sync completed before"
		}
		if r.hub == nil {
			return fmt.Sprintf("the last completed sync was round %d", r.round)
		}
		return fmt.Sprintf("after the last completed sync (round %d, ended %s) the hub held %q", r.round, r.end.Format("15:04:05.000"), hubValue(r.hub[key], field))
	}
	// Nothing lost: every edit is on both sides, overwritten by a later
	// edit of its field, or in a conflict of the audit log.
	var tl tally
	for _, kf := range led.fields() {
		edits := led.byField[kf]
		tl.overwritten += len(edits) - 1
		last := edits[len(edits)-1]
		hv, rv := hubValue(hubRisks[last.key], last.field), redmineValue(byKey[last.key], last.field)
		if hv == last.value && rv == last.value {
			tl.kept++
			continue
		}
		if c, ok := conflictHolding(conflicts, last, hv); ok {
			tl.overruled++
			if hv != rv {
				errorf("DIVERGED after a conflict: %s %s is %q in the hub, %q in Redmine (conflict: %s / %s)", last.key, last.field, hv, rv, c.old, c.new)
			}
			continue
		}
		tl.lost++
		then := "no sync completed cleanly after it in the loop"
		for _, r := range runs {
			if r.completedCleanly() && r.hub != nil && r.start.After(last.at) {
				then = fmt.Sprintf("after the next completed sync (round %d) the hub held %q", r.round, hubValue(r.hub[last.key], last.field))
				break
			}
		}
		errorf("LOST: edit %s by %s at round %d (after kill %d): hub has %q, Redmine has %q%s, no conflict logged holding %q; %s; edits of the field: %s; other audit entries: %v; runs since: %s",
			last, last.side, last.round, last.kills, hv, rv, doubled[last.key], last.value, then, editChain(edits), otherAudit[kf], runsAfter(runs, last.at, 5))
	}

	// No spurious conflict: a conflict needs both sides to have edited the
	// field since the last completed sync.
	for _, c := range conflicts {
		var from time.Time
		if r := lastCompletedBefore(runs, c.at); r != nil {
			from = r.end
		}
		sides := map[string]bool{}
		for _, e := range led.byField[c.key+"/"+c.field] {
			if e.at.After(from) && e.at.Before(c.at) {
				sides[e.side] = true
			}
		}
		if sides["hub"] && sides["redmine"] {
			continue
		}
		tl.spurious++
		errorf("SPURIOUS conflict on %s %s logged at %s (run %.8s): only %v edited it since the last completed sync; %s; edits of the field: %s; conflict: %s / %s; runs before it: %s",
			c.key, c.field, c.at.Format("15:04:05.000"), c.run, keysOf(sides), afterCompleted(c.key, c.field, c.at),
			editChain(led.byField[c.key+"/"+c.field]), c.old, c.new, runsAfter(runs, from, 4))
	}

	// Sides agree on every synced field of every risk.
	for _, key := range sortedKeys(hubRisks) {
		is, ok := byKey[key]
		if !ok {
			continue // reported above
		}
		for _, f := range []string{"title", "likelihood", "impact", "status"} {
			if hv, rv := hubValue(hubRisks[key], f), redmineValue(is, f); hv != rv && led.byField[key+"/"+f] == nil {
				errorf("DIVERGED: %s %s is %q in the hub, %q in Redmine (issue #%d), and nobody edited it", key, f, hv, rv, is.ID)
			}
		}
	}

	return tl
}

// killLoopFaults are the occasional failures of the loop's proxy.
func killLoopFaults() []*faultRule {
	return []*faultRule{
		{Fault: fault5xxBefore, Prob: 0.01},
		{Method: "POST", Fault: fault5xxAfter, Prob: 0.02},
		{Method: "PUT", Fault: fault5xxAfter, Prob: 0.02},
		{Fault: fault429, Prob: 0.01, RetryAfter: 1},
		{Method: "GET", Fault: faultTruncate, Prob: 0.01},
		{Method: "PUT", Fault: faultTruncate, Prob: 0.02},
		{Fault: faultStall, Prob: 0.005, Stall: time.Second},
		{Method: "PUT", Fault: faultStall, Prob: 0.005, Stall: time.Second, Forward: true},
		{Fault: faultReset, Prob: 0.005},
		{Method: "POST", Fault: faultReset, Prob: 0.005, Forward: true},
	}
}

// edit is one change a person made on one side.
type edit struct {
	side         string // hub or redmine
	key, field   string
	old, value   string // hub spelling (status: proposed, rejected)
	issue        int
	round, kills int
	at           time.Time
}

func (e edit) String() string {
	return fmt.Sprintf("%s %s %q→%q", e.key, e.field, e.old, e.value)
}

// editLedger keeps every edit by "key/field", in order.
type editLedger struct {
	byField map[string][]edit
	order   []string
}

func (l *editLedger) add(e edit) {
	if l.byField == nil {
		l.byField = map[string][]edit{}
	}
	kf := e.key + "/" + e.field
	if l.byField[kf] == nil {
		l.order = append(l.order, kf)
	}
	l.byField[kf] = append(l.byField[kf], e)
}

func (l *editLedger) fields() []string {
	out := append([]string(nil), l.order...)
	sort.Slice(out, func(i, j int) bool { return naturalLess(out[i], out[j]) })
	return out
}

func (l *editLedger) total() int {
	n := 0
	for _, es := range l.byField {
		n += len(es)
	}
	return n
}

func (l *editLedger) count(side string) int {
	n := 0
	for _, es := range l.byField {
		for _, e := range es {
			if e.side == side {
				n++
			}
		}
	}
	return n
}

func editChain(edits []edit) string {
	parts := make([]string, len(edits))
	for i, e := range edits {
		parts[i] = fmt.Sprintf("%q→%q by %s at round %d (%s)", e.old, e.value, e.side, e.round, e.at.Format("15:04:05.000"))
	}
	return strings.Join(parts, ", ")
}

// loopRun is one `usmhub sync risks` of the loop.
type loopRun struct {
	round      int
	victim     string // usmhub, connector, or "" (let it end)
	killed     bool
	kill       int // its number among the kills
	at         time.Duration
	start, end time.Time
	run        syncRun
	faults     []faultEvent
	final      bool
	hub        map[string]hubRiskID // after a clean completion
}

func (r *loopRun) String() string {
	var s string
	switch {
	case r.final:
		s = fmt.Sprintf("final sync: exit %d %v", r.run.code, r.run.counts)
	case r.killed:
		s = fmt.Sprintf("round %d: kill %d of the %s at %s", r.round, r.kill, r.victim, r.at.Round(time.Millisecond))
		if r.victim == "connector" {
			s += fmt.Sprintf(", run then exit %d %v", r.run.code, r.run.counts)
		}
	default:
		s = fmt.Sprintf("round %d: run ended by itself: exit %d %v", r.round, r.run.code, r.run.counts)
	}
	if len(r.faults) > 0 {
		var f []string
		for _, e := range r.faults {
			f = append(f, e.String())
		}
		s += " [faults: " + strings.Join(f, "; ") + "]"
	}
	return s
}

// completedCleanly: a run that ended by itself, exit 0, no errors, nothing
// quarantined — everything edited before it was settled.
func (r *loopRun) completedCleanly() bool {
	return r.hubExited() && r.run.code == 0 && r.run.counts != nil && r.run.counts["errors"] == 0 && r.run.counts["quarantined"] == 0
}

// hubExited: usmhub ended by itself (its connector may have been killed).
func (r *loopRun) hubExited() bool { return !(r.killed && r.victim == "usmhub") }

func lastCompletedBefore(runs []*loopRun, t time.Time) *loopRun {
	var last *loopRun
	for _, r := range runs {
		if r.completedCleanly() && r.end.Before(t) && (last == nil || r.end.After(last.end)) {
			last = r
		}
	}
	return last
}

// runsAfter summarises the runs that started after t, up to and including
// the first that completed cleanly (at most max).
func runsAfter(runs []*loopRun, t time.Time, max int) string {
	var out []string
	for _, r := range runs {
		if r.final || !r.start.Before(t) {
			out = append(out, r.String())
			if r.completedCleanly() || len(out) >= max {
				break
			}
		}
	}
	return strings.Join(out, " | ")
}

// runAndKill runs `usmhub sync risks -json` and, per lr.victim, SIGKILLs
// it or its connector process after delay.
func runAndKill(t *testing.T, h *hub, plugin string, lr *loopRun, delay time.Duration) {
	t.Helper()
	cmd := h.Command("sync", "risks", "-json")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	lr.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	const bound = 90 * time.Second
	var err error
	ended := false
	switch lr.victim {
	case "usmhub":
		select {
		case err = <-done:
			ended = true
		case <-time.After(delay):
			if cmd.Process.Signal(syscall.SIGKILL) == nil {
				lr.at = time.Since(lr.start)
			}
		}
	case "connector":
		timer := time.After(delay)
	wait:
		for {
			select {
			case err = <-done:
				ended = true
				break wait
			case <-timer:
				timer = nil
			case <-time.After(2 * time.Millisecond):
			}
			if timer != nil {
				continue
			}
			if procs.KillChild(plugin, cmd.Process.Pid) {
				lr.killed, lr.at = true, time.Since(lr.start)
				break wait
			}
		}
	}
	if !ended {
		select {
		case err = <-done:
		case <-time.After(bound):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			err = <-done
			t.Errorf("round %d: the run did not end within %s (victim %q); killed", lr.round, bound, lr.victim)
		}
	}
	lr.end = time.Now()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL && lr.victim == "usmhub" {
			lr.killed = true
		}
	} else if err != nil {
		t.Fatal(err)
	}
	lr.run = parseSyncRun(code, out.String(), errb.String())
}

// linkedIssues replaces, in byKey, the issue of a key held by several
// issues with the one the hub keeps (not quarantined as a duplicate), and
// returns a note per such key.
func linkedIssues(all []rmIssue, byKey map[string]rmIssue, st hubStatus) map[string]string {
	quarantined := map[string]bool{}
	for _, q := range st.Quarantined {
		quarantined[q.ExternalID] = true
	}
	held := map[string][]rmIssue{}
	for _, is := range all {
		held[is.cf("KEY")] = append(held[is.cf("KEY")], is)
	}
	notes := map[string]string{}
	for k, list := range held {
		if len(list) < 2 {
			continue
		}
		var ids []int
		var kept []rmIssue
		for _, is := range list {
			ids = append(ids, is.ID)
			if !quarantined[strconv.Itoa(is.ID)] {
				kept = append(kept, is)
			}
		}
		if len(kept) == 1 {
			byKey[k] = kept[0]
		}
		notes[k] = fmt.Sprintf(" (issue #%d of the DOUBLED issues %v)", byKey[k].ID, ids)
	}
	return notes
}

// rmTracked is what the loop knows of an issue between listings.
type rmTracked struct {
	id                      int
	subject, impact, status string
}

// oneIssuePerKey maps each key held by exactly one issue to that issue.
func oneIssuePerKey(issues []rmIssue) map[string]rmIssue {
	ids := map[string]rmIssue{}
	twice := map[string]bool{}
	for _, is := range issues {
		k := is.cf("KEY")
		if _, dup := ids[k]; dup {
			twice[k] = true
		}
		ids[k] = is
	}
	for k := range twice {
		delete(ids, k)
	}
	delete(ids, "")
	return ids
}

// conflictEntry is a "conflict:<field>" entry of the audit log.
type conflictEntry struct {
	at                   time.Time
	key, field, old, new string
	run                  string
}

// conflictHolding finds a conflict on e's field logged after e that holds
// both e's value and the winner's (the value both sides ended with).
func conflictHolding(cs []conflictEntry, e edit, winner string) (conflictEntry, bool) {
	for _, c := range cs {
		both := c.old + " | " + c.new
		if c.key == e.key && c.field == e.field && c.at.After(e.at) && holdsValue(both, e.value) && holdsValue(both, winner) {
			return c, true
		}
	}
	return conflictEntry{}, false
}

var parenthesised = re(`\([^()]*\)`)

// holdsValue reports whether text holds v as a whole value (not as part of
// a longer word or number), ignoring case and anything in parentheses.
func holdsValue(text, v string) bool {
	text, v = strings.ToLower(parenthesised.ReplaceAllString(text, "")), strings.ToLower(v)
	alnum := func(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b == '-' || b == '_' }
	for i := 0; ; {
		j := strings.Index(text[i:], v)
		if j < 0 || v == "" {
			return false
		}
		j += i
		if (j == 0 || !alnum(text[j-1])) && (j+len(v) == len(text) || !alnum(text[j+len(v)])) {
			return true
		}
		i = j + 1
	}
}

// hubStatusOf translates the Redmine statuses the loop uses.
func hubStatusOf(name string) string {
	for hub, rmName := range map[string]string{"proposed": "New", "accepted": "Accepted", "planned": "Planned",
		"in_progress": "In Progress", "realized": "Closed", "rejected": "Rejected"} {
		if rmName == name {
			return hub
		}
	}
	return "(" + name + ")"
}

func hubValue(r hubRiskID, field string) string {
	switch field {
	case "title":
		return r.Title
	case "likelihood":
		return strconv.Itoa(r.Likelihood)
	case "impact":
		return strconv.Itoa(r.Impact)
	case "status":
		return r.Status
	}
	return "?"
}

func redmineValue(is rmIssue, field string) string {
	switch field {
	case "title":
		return is.Subject
	case "likelihood":
		return is.cf("LIKELIHOOD")
	case "impact":
		return is.cf("IMPACT")
	case "status":
		return hubStatusOf(is.Status.Name)
	}
	return "?"
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestFaultAccounting proves the kill loop's accounting on a made-up
// history (no Redmine needed): a lost edit and spurious conflicts are
// reported with their evidence; a kept edit, an overwritten one and a
// conflict both sides earned are not.
func TestFaultAccounting(t *testing.T) {
	if redmine["REDMINE_CF_IMPACT"] == "" {
		saved := redmine
		redmine = map[string]string{"REDMINE_CF_LIKELIHOOD": "6", "REDMINE_CF_IMPACT": "7"}
		defer func() { redmine = saved }()
	}
	cfID := func(k string) int { id, _ := strconv.Atoi(redmine["REDMINE_CF_"+k]); return id }
	issue := func(id int, subject, status, likelihood, impact string) rmIssue {
		is := rmIssue{ID: id, Subject: subject}
		is.Status.Name = status
		is.CustomFields = append(is.CustomFields,
			struct {
				ID    int    `json:"id"`
				Name  string `json:"name"`
				Value any    `json:"value"`
			}{ID: cfID("LIKELIHOOD"), Value: likelihood},
			struct {
				ID    int    `json:"id"`
				Name  string `json:"name"`
				Value any    `json:"value"`
			}{ID: cfID("IMPACT"), Value: impact})
		return is
	}
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	clean := syncRun{code: 0, counts: map[string]int{"errors": 0}}
	runs := []*loopRun{
		{round: 1, start: at(0), end: at(1), run: clean},
		{round: 2, start: at(3), end: at(3.5), victim: "usmhub", killed: true, kill: 1},
		{round: 3, start: at(5), end: at(6), run: clean},
		{round: 4, start: at(8), end: at(9), run: clean, final: true},
	}
	led := &editLedger{}
	led.add(edit{side: "hub", key: "R-12", field: "likelihood", old: "1", value: "3", round: 1, at: at(-1)})
	led.add(edit{side: "hub", key: "R-7", field: "likelihood", old: "2", value: "4", round: 2, kills: 0, at: at(2)})
	led.add(edit{side: "redmine", key: "R-8", field: "impact", old: "1", value: "3", round: 2, at: at(2)})
	led.add(edit{side: "hub", key: "R-9", field: "title", old: "t", value: "h", round: 2, at: at(2)})
	led.add(edit{side: "redmine", key: "R-9", field: "title", old: "t", value: "r", round: 2, at: at(2.1)})
	led.add(edit{side: "redmine", key: "R-10", field: "status", old: "proposed", value: "rejected", round: 2, at: at(2)})
	led.add(edit{side: "hub", key: "R-11", field: "title", old: "t", value: "a", round: 2, at: at(2)})
	led.add(edit{side: "hub", key: "R-11", field: "title", old: "a", value: "b", round: 3, at: at(4)})
	hubRisks := map[string]hubRiskID{
		"R-7":  {Key: "R-7", Title: "t", Likelihood: 4, Impact: 1, Status: "proposed"},
		"R-8":  {Key: "R-8", Title: "t", Likelihood: 1, Impact: 3, Status: "proposed"},
		"R-9":  {Key: "R-9", Title: "h", Likelihood: 1, Impact: 1, Status: "proposed"},
		"R-10": {Key: "R-10", Title: "t", Likelihood: 1, Impact: 1, Status: "rejected"},
		"R-11": {Key: "R-11", Title: "b", Likelihood: 1, Impact: 1, Status: "proposed"},
		"R-12": {Key: "R-12", Title: "t", Likelihood: 3, Impact: 1, Status: "proposed"},
	}
	byKey := map[string]rmIssue{
		"R-7":  issue(7, "t", "New", "2", "1"), // the hub's 4 never arrived
		"R-8":  issue(8, "t", "New", "1", "3"),
		"R-9":  issue(9, "h", "New", "1", "1"),
		"R-10": issue(10, "t", "Rejected", "1", "1"),
		"R-11": issue(11, "b", "New", "1", "1"),
		"R-12": issue(12, "t", "New", "3", "1"),
	}
	conflicts := []conflictEntry{
		{at: at(5.5), key: "R-8", field: "impact", old: "hub: 1", new: "remote (redmine.main 8): 3; remote wins"},
		{at: at(5.5), key: "R-9", field: "title", old: "hub: h", new: "remote (redmine.main 9): r; hub wins, owner of title"},
		{at: at(5.5), key: "R-12", field: "likelihood", old: "hub: 3", new: "remote (redmine.main 12): 1; remote wins"},
	}
	var got []string
	errorf := func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) }
	tl := account(errorf, led, runs, hubRisks, byKey, conflicts, nil, map[string]string{})
	for _, g := range got {
		t.Log(g)
	}
	want := []string{`LOST: edit R-7 likelihood "2"→"4" by hub at round 2`, `SPURIOUS conflict on R-8 impact`, `SPURIOUS conflict on R-12 likelihood`}
	if len(got) != len(want) {
		t.Errorf("%d reports, want %d", len(got), len(want))
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("no report starts with %q", w)
		}
	}
	if want := (tally{kept: 4, overwritten: 2, overruled: 1, lost: 1, spurious: 2}); tl != want {
		t.Errorf("tally %+v, want %+v", tl, want)
	}
}
