package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
	"github.com/usmhub/usmhub/internal/testconnectors/fault"
	"github.com/usmhub/usmhub/plugins/host"
)

// The remote applied creates but the plugin died before answering: the
// pending links the run committed first are resolved with Find next run,
// so every risk ends with exactly one remote record.
func TestCreatesTheHubNeverHeardOfAreFound(t *testing.T) {
	h := newHub(t)
	h.eng.Retries = -1 // no retry within the run: the next run must resolve
	conn, dir := faultBinary(t, map[string]any{"crash_after_push_writes": 3})
	var risks []model.Risk
	for i := range 5 {
		risks = append(risks, h.addRisk("Risk "+strconv.Itoa(i)))
	}
	b := riskBinding("risks")

	res0, err := h.eng.Run(context.Background(), b, conn, Options{})
	if !errors.Is(err, ErrIncomplete) || res0.Waiting.Pending != 5 {
		t.Fatalf("first run: err = %v, waiting %+v; want incomplete with 5 creates pending", err, res0.Waiting)
	}
	if st := remote(t, dir); len(st.Live()) != 3 || st.PushWrites != 3 {
		t.Fatalf("remote after the crash: %d records, %d writes; want 3 and 3", len(st.Live()), st.PushWrites)
	}
	if n := len(h.links(b.Name, store.LinkPending)); n != 5 {
		t.Fatalf("%d pending links after the crash, want 5 (committed before the push)", n)
	}

	res := h.sync(b, conn)
	if c := res.Counts; c.Linked != 3 || c.PushCreates != 2 || c.HubCreates != 0 || c.Quarantined != 0 || c.Pulled != 5 {
		t.Fatalf("second run counts = %+v, want 3 linked by Find, 2 created, 5 pulled (as echoes)", c)
	}
	if got := remote(t, dir).Calls["find"]; got != 5 {
		t.Errorf("find calls = %d, want 5 (one per pending create)", got)
	}
	oneRecordEach(t, h, b.Name, faultSide(t, conn, dir), risks)
	noChanges(t, h.sync(b, conn))
	if got := remote(t, dir).Calls["find"]; got != 5 {
		t.Errorf("find calls = %d after a quiet run, want still 5", got)
	}
}

// A push of creates that dies with the plugin is not retried blindly: the
// creates stay pending and, within the same run, are resolved through Find,
// so the records the dead call created are linked, not created again.
func TestCreatesRetriedAfterPluginCrash(t *testing.T) {
	h := newHub(t)
	h.eng.RetryBase = 10 * time.Millisecond
	conn, dir := faultBinary(t, map[string]any{"crash_after_push_writes": 2})
	var risks []model.Risk
	for i := range 4 {
		risks = append(risks, h.addRisk("Risk "+strconv.Itoa(i)))
	}
	b := riskBinding("risks", func(b *Binding) { b.Direction = Push })
	res := h.sync(b, conn)
	if c := res.Counts; c.Linked != 2 || c.PushCreates != 2 || c.Errors != 0 {
		t.Fatalf("counts = %+v, want 2 linked by Find after the crash, 2 created again", c)
	}
	if st := remote(t, dir); st.Calls["push"] != 2 || st.Calls["find"] != 4 {
		t.Errorf("calls %v, want 2 pushes (one crashed) and 4 finds (one per pending create)", st.Calls)
	}
	oneRecordEach(t, h, b.Name, faultSide(t, conn, dir), risks)
}

// oneRecordEach checks every risk has one live remote record with its
// marker, linked, and the remote holds nothing else.
func oneRecordEach(t *testing.T, h *hub, binding string, s *side, risks []model.Risk) {
	t.Helper()
	if n := len(s.records()); n != len(risks) {
		t.Errorf("remote holds %d records, want %d", n, len(risks))
	}
	for _, r := range risks {
		recs := s.byMarker(r.ID)
		if len(recs) != 1 {
			t.Errorf("%s: %d remote records, want 1", r.Key, len(recs))
			continue
		}
		if l := h.link(binding, r.ID); l.State != store.LinkLinked || l.ExternalID != recs[0].id {
			t.Errorf("%s: link %+v, want linked to %s", r.Key, l, recs[0].id)
		}
	}
}

// A pending create is not created again while the connector's search lag
// may still hide the first attempt from Find.
func TestPendingCreateWaitsForTheSearchLag(t *testing.T) {
	h := newHub(t)
	t0 := time.Now()
	now := t0
	h.eng.Now = func() time.Time { return now }
	conn, dir := faultInProcess(t, map[string]any{"search_lag_ms": int(time.Hour / time.Millisecond)})
	reached, lost := h.addRisk("Reached the remote"), h.addRisk("Never reached it")
	// A run died after committing the pending links and pushing the first
	// create: the remote has it, its search does not show it yet.
	err := h.st.Update(context.Background(), store.Actor{Name: "sync:risks"}, func(tx store.Tx) error {
		for _, r := range []model.Risk{reached, lost} {
			if err := tx.PutLink(store.Link{Binding: "risks", HubID: r.ID, State: store.LinkPending, Base: RiskFields(r),
				HubVersion: r.Version, AttemptedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	editRemote(t, dir, func(s *fault.State) error {
		s.Create(connector.Marker(reached.ID), RiskFields(reached))
		return nil
	})
	b := riskBinding("risks", func(b *Binding) { b.Direction = Push })

	now = t0.Add(time.Minute)
	res := h.incomplete(b, conn)
	noChanges(t, res)
	if res.Waiting.Pending != 2 {
		t.Fatalf("waiting = %+v, want 2 pending creates", res.Waiting)
	}
	st := remote(t, dir)
	if st.Calls["find"] != 2 || st.Calls["push"] != 0 {
		t.Fatalf("within the lag: calls %v, want 2 finds and no push", st.Calls)
	}
	if n := len(h.links(b.Name, store.LinkPending)); n != 2 {
		t.Fatalf("%d pending links, want 2", n)
	}

	// The lag passed (Find still misses it: the index never caught up):
	// create again; the remote's create by marker returns the first.
	now = t0.Add(2 * time.Hour)
	res = h.sync(b, conn)
	if res.Counts.PushCreates != 2 {
		t.Fatalf("after the lag: %+v", res.Counts)
	}
	oneRecordEach(t, h, b.Name, faultSide(t, conn, dir), []model.Risk{reached, lost})
}

// A plugin killed mid-pull never moves the cursor past the pages the hub
// stored; the next run goes on from there and nothing is lost or doubled.
func TestCursorAfterPluginCrashMidPull(t *testing.T) {
	const records = 10
	seed := func(t *testing.T, dir string) {
		editRemote(t, dir, func(s *fault.State) error {
			for i := 1; i <= records; i++ {
				s.Create("", sdkFields(fmt.Sprintf("Remote %02d", i)))
			}
			return nil
		})
	}
	// stored checks the hub holds exactly the first n remote records.
	stored := func(t *testing.T, h *hub, n int) {
		t.Helper()
		risks := h.risks()
		if len(risks) != n {
			t.Fatalf("hub holds %d risks, want %d", len(risks), n)
		}
		for i, r := range risks {
			if want := fmt.Sprintf("Remote %02d", i+1); r.Title != want {
				t.Fatalf("risk %d is %q, want %q", i, r.Title, want)
			}
		}
	}
	b := riskBinding("risks", func(b *Binding) { b.Direction = Pull })

	// The next run goes on from the stored cursor (with no full reconcile
	// due: by default the first full listing that never finished is done
	// again, in full).
	t.Run("next run", func(t *testing.T) {
		b := b
		b.FullEvery = -1
		h := newHub(t)
		h.eng.Retries = -1
		conn, dir := faultBinary(t, map[string]any{"page_size": 2, "crash_after_pages": 2})
		seed(t, dir)
		_, err := h.eng.Run(context.Background(), b, conn, Options{})
		if !errors.Is(err, host.ErrPluginExited) {
			t.Fatalf("err = %v, want the plugin's exit", err)
		}
		cur := h.bindingState(b.Name).Cursor
		n, _ := strconv.Atoi(cur)
		if cur != "" && cur != "2" && cur != "4" {
			t.Fatalf("cursor after the crash = %q, want that of a page stored (2 or 4), never beyond", cur)
		}
		t.Logf("cursor after the crash: %q", cur)
		stored(t, h, n)

		setFaults(t, dir, fault.Faults{PageSize: 2})
		res := h.sync(b, conn)
		if c := res.Counts; c.Pulled != records-n || c.HubCreates != records-n || c.Quarantined != 0 {
			t.Fatalf("counts = %+v, want the %d records not stored yet", c, records-n)
		}
		if cur := h.bindingState(b.Name).Cursor; cur != strconv.Itoa(records) {
			t.Errorf("cursor = %q, want %d", cur, records)
		}
		stored(t, h, records)
		noChanges(t, h.sync(b, conn))
	})

	t.Run("retried within the run", func(t *testing.T) {
		h := newHub(t)
		conn, dir := faultBinary(t, map[string]any{"page_size": 2, "crash_after_pages": 2})
		seed(t, dir)
		res := h.sync(b, conn)
		if c := res.Counts; c.Pulled != records || c.HubCreates != records {
			t.Fatalf("counts = %+v, want each record pulled once", c)
		}
		if got := remote(t, dir).Calls["pull"]; got < 3 {
			t.Errorf("pull calls = %d, want 3 or more (two crashed)", got)
		}
		stored(t, h, records)
	})
}

// A transient failure is retried within the run, no sooner than its
// Retry-After (an update: a create is retried only through Find).
func TestTransientFailureRetried(t *testing.T) {
	h := newHub(t)
	const retryAfter = 300 * time.Millisecond
	conn, dir := faultInProcess(t, nil)
	one, two := h.addRisk("One"), h.addRisk("Two")
	b := riskBinding("risks")
	h.sync(b, conn) // data calls 1 (pull) and 2 (push)
	h.editRisk(one.ID, func(r *model.Risk) { r.Title = "One, edited" })
	h.editRisk(two.ID, func(r *model.Risk) { r.Impact = 5 })
	// Data calls: the pull (3) succeeds, the push (4) fails, its retry (5) succeeds.
	setFaults(t, dir, fault.Faults{TransientEvery: 4, RetryAfterMS: int(retryAfter / time.Millisecond)})
	start := time.Now()
	res := h.sync(b, conn)
	elapsed := time.Since(start)
	if res.Counts.PushUpdates != 2 || res.Counts.Errors != 0 {
		t.Fatalf("counts = %+v", res.Counts)
	}
	st := remote(t, dir)
	if st.Calls["pull"] != 2 || st.Calls["push"] != 3 || len(st.Live()) != 2 {
		t.Fatalf("calls %v, %d records; want 2 pulls, 3 pushes, 2 records", st.Calls, len(st.Live()))
	}
	if elapsed < retryAfter {
		t.Errorf("the run took %s: the retry did not wait the Retry-After of %s", elapsed, retryAfter)
	}
}

// A tool that asks for a wait longer than MaxRetryWait (a spent rate limit
// resetting in an hour) is not waited for inside the run: the run ends at
// once, failed, and the binding is paused until the tool's time, so a CLI
// sync does not hang and status can say until when.
func TestLongRetryAfterPausesTheBinding(t *testing.T) {
	h := newHub(t)
	h.addRisk("One")
	h.eng.MaxRetryWait = time.Second
	conn, dir := faultInProcess(t, nil)
	b := riskBinding("risks")
	setFaults(t, dir, fault.Faults{TransientEvery: 1, RetryAfterMS: int(time.Hour / time.Millisecond)})
	start := time.Now()
	_, err := h.eng.Run(context.Background(), b, conn, Options{})
	if err == nil || connector.ClassOf(err) != connector.ClassTransient {
		t.Fatalf("err = %v, want the transient failure", err)
	}
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Errorf("the run took %s: it sat out the tool's hour", elapsed)
	}
	if got := remote(t, dir).Calls["pull"]; got != 1 {
		t.Errorf("pull calls = %d, want 1: no retry inside the run", got)
	}
	st := h.bindingState(b.Name)
	if until := time.Until(st.PausedUntil); until < 50*time.Minute || until > 61*time.Minute {
		t.Fatalf("paused until %s (in %s), want about an hour from now: %+v", st.PausedUntil, until, st)
	}
	if want := "rate limited: " + b.Connector + " asked to wait until " + st.PausedUntil.UTC().Format(time.RFC3339); st.PauseCause != want {
		t.Errorf("pause cause %q, want %q", st.PauseCause, want)
	}
	if _, err := h.eng.Run(context.Background(), b, conn, Options{}); !errors.Is(err, ErrPaused) {
		t.Fatalf("second run: err = %v, want ErrPaused", err)
	}
}

// A binding that keeps failing is paused, and not called, until forced; a
// permanent failure of a whole call pauses it at once.
func TestFailingBindingIsPaused(t *testing.T) {
	t.Run("repeated transient failures", func(t *testing.T) {
		h := newHub(t)
		h.eng.Retries, h.eng.MaxFailures = 1, 2
		conn, dir := faultInProcess(t, map[string]any{"transient_every": 1})
		b := riskBinding("risks")
		for i := 1; i <= 2; i++ {
			_, err := h.eng.Run(context.Background(), b, conn, Options{})
			if err == nil || errors.Is(err, ErrPaused) || connector.ClassOf(err) != connector.ClassTransient {
				t.Fatalf("run %d: err = %v, want the transient failure", i, err)
			}
			if st := h.bindingState(b.Name); st.Failures != i || st.LastError == "" {
				t.Fatalf("run %d: state %+v", i, st)
			}
		}
		if got := remote(t, dir).Calls["pull"]; got != 4 {
			t.Errorf("pull calls = %d, want 4 (2 runs of a call and a retry)", got)
		}
		if st := h.bindingState(b.Name); !st.PausedUntil.After(time.Now()) || st.PauseCause != "2 failed runs in a row: backing off" {
			t.Fatalf("not paused, or no cause, after %d failures: %+v", st.Failures, st)
		}
		_, err := h.eng.Run(context.Background(), b, conn, Options{})
		if !errors.Is(err, ErrPaused) {
			t.Fatalf("err = %v, want ErrPaused", err)
		}
		if got := remote(t, dir).Calls["pull"]; got != 4 {
			t.Errorf("a paused binding was called: %d pulls", got)
		}

		setFaults(t, dir, fault.Faults{})
		h.sync(b, conn, Options{Force: true})
		if st := h.bindingState(b.Name); st.Failures != 0 || !st.PausedUntil.IsZero() || st.LastError != "" || st.LastSuccess.IsZero() || st.PauseCause != "" {
			t.Fatalf("after a forced run that succeeded: %+v", st)
		}
		h.sync(b, conn)
	})

	t.Run("permanent failure", func(t *testing.T) {
		h := newHub(t)
		conn, dir := faultInProcess(t, map[string]any{"permanent_error": "401 unauthorized"})
		b := riskBinding("risks")
		_, err := h.eng.Run(context.Background(), b, conn, Options{})
		if err == nil || !strings.Contains(err.Error(), "401 unauthorized") {
			t.Fatalf("err = %v", err)
		}
		if got := remote(t, dir).Calls["pull"]; got != 1 {
			t.Errorf("pull calls = %d, want 1 (a permanent failure is not retried)", got)
		}
		if st := h.bindingState(b.Name); st.Failures != 1 || !st.PausedUntil.After(time.Now()) || !strings.HasPrefix(st.PauseCause, "permanent error") {
			t.Fatalf("state %+v, want paused, for a permanent error, after one failure", st)
		}
		if _, err := h.eng.Run(context.Background(), b, conn, Options{}); !errors.Is(err, ErrPaused) {
			t.Fatalf("err = %v, want ErrPaused", err)
		}
	})
}

// A record the hub cannot take is quarantined with the reason; the rest of
// its page is stored, and the record is taken once fixed.
func TestBadPulledRecordQuarantined(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, map[string]any{"page_size": 10})
	s := faultSide(t, conn, dir)
	b := riskBinding("risks")
	linked := h.addRisk("Linked")
	h.sync(b, conn)
	ext := h.link(b.Name, linked.ID).ExternalID

	s.create(sdkFields("Good one"))
	bad := s.create(map[string]string{"title": "Bad", "kind": "threat", "likelihood": "high", "impact": "2", "status": "proposed"})
	s.create(sdkFields("Good two"))
	s.edit(ext, map[string]string{"status": "realized"}) // proposed → realized is not allowed
	res := h.incomplete(b, conn)
	want := Counts{Pulled: 4, HubCreates: 2, PushUpdates: 2, Quarantined: 2}
	if res.Counts != want {
		t.Fatalf("counts = %+v, want %+v", res.Counts, want)
	}
	if res.Waiting != (Waiting{Held: 1, Quarantined: 1}) {
		t.Fatalf("waiting = %+v, want 1 held field, 1 quarantined record", res.Waiting)
	}
	if got := len(h.risks()); got != 3 {
		t.Errorf("hub holds %d risks, want 3", got)
	}
	if got := h.risk(linked.ID); got.Status != model.Proposed || got.Version != linked.Version {
		t.Errorf("the risk took a refused change: %+v", got)
	}
	q := map[string]store.Quarantined{}
	for _, r := range h.quarantine(b.Name) {
		q[r.ExternalID] = r
	}
	if len(q) != 1 || !strings.Contains(q[bad].Reason, "likelihood") || q[bad].Fields["likelihood"] != "high" {
		t.Fatalf("quarantine = %+v", q)
	}
	if held := h.link(b.Name, linked.ID).Held["status"]; held.Side != store.HoldPull || held.Value != "realized" ||
		!strings.Contains(held.Reason, "illegal status transition") {
		t.Fatalf("held status = %+v", held)
	}
	if cur := h.bindingState(b.Name).Cursor; cur != strconv.FormatInt(remote(t, dir).Seq-2, 10) {
		// the page's cursor; the two key pushes after it moved the remote on
		t.Errorf("cursor = %q", cur)
	}
	noChanges(t, h.incomplete(b, conn))

	s.edit(bad, map[string]string{"likelihood": "4"})
	s.edit(ext, map[string]string{"status": "accepted"})
	res = h.sync(b, conn)
	if c := res.Counts; c.HubCreates != 1 || c.HubUpdates != 1 || c.Quarantined != 0 {
		t.Fatalf("after the fixes: %+v", c)
	}
	if got := h.risk(linked.ID).Status; got != model.Accepted {
		t.Errorf("status = %s, want accepted", got)
	}
	if q := h.quarantine(b.Name); len(q) != 0 {
		t.Errorf("quarantine after the fixes = %+v, want empty", q)
	}
	noChanges(t, h.sync(b, conn))
}

// A pushed change the remote refuses is quarantined (or, on a conflict,
// retried), and the others of the batch succeed.
func TestRefusedPushes(t *testing.T) {
	t.Run("create refused as invalid", func(t *testing.T) {
		h := newHub(t)
		conn, dir := faultInProcess(t, map[string]any{"invalid_titles": []string{"Refused title"}})
		b := riskBinding("risks")
		ok1, bad, ok2 := h.addRisk("One"), h.addRisk("Refused title"), h.addRisk("Two")
		res := h.incomplete(b, conn)
		if c := res.Counts; c.PushCreates != 2 || c.Quarantined != 1 { // counts what the remote took
			t.Fatalf("counts = %+v", c)
		}
		s := faultSide(t, conn, dir)
		if len(s.byMarker(ok1.ID)) != 1 || len(s.byMarker(ok2.ID)) != 1 || len(s.byMarker(bad.ID)) != 0 {
			t.Fatalf("remote: %+v", s.records())
		}
		if l := h.link(b.Name, bad.ID); l.State != store.LinkQuarantined || !strings.Contains(l.Reason, "422") || l.ExternalID != "" {
			t.Fatalf("link of the refused risk = %+v", l)
		}
		pushes := remote(t, dir).Calls["push"]
		noChanges(t, h.incomplete(b, conn))
		if got := remote(t, dir).Calls["push"]; got != pushes {
			t.Errorf("the refused create was pushed again (%d → %d pushes)", pushes, got)
		}
		h.editRisk(bad.ID, func(r *model.Risk) { r.Title = "Accepted title" })
		res = h.sync(b, conn)
		if c := res.Counts; c.PushCreates != 1 || c.Quarantined != 0 {
			t.Fatalf("after the fix: %+v", c)
		}
		if l := h.link(b.Name, bad.ID); l.State != store.LinkLinked || len(s.byMarker(bad.ID)) != 1 {
			t.Fatalf("after the fix: link %+v", l)
		}
	})

	t.Run("updates refused and in conflict", func(t *testing.T) {
		h := newHub(t)
		conn, dir := faultInProcess(t, nil)
		s := faultSide(t, conn, dir)
		b := riskBinding("risks")
		refused, conflict, ok := h.addRisk("Refused"), h.addRisk("Conflict"), h.addRisk("OK")
		h.sync(b, conn)
		setFaults(t, dir, fault.Faults{
			PermanentExternalIDs: []string{h.link(b.Name, refused.ID).ExternalID},
			ConflictOnUpdateIDs:  []string{h.link(b.Name, conflict.ID).ExternalID},
		})
		for _, r := range []model.Risk{refused, conflict, ok} {
			h.editRisk(r.ID, func(r *model.Risk) { r.Owner = "new owner" })
		}
		res := h.incomplete(b, conn)
		if c := res.Counts; c.PushUpdates != 1 || c.Quarantined != 1 || c.Errors != 1 { // counts what the remote took
			t.Fatalf("counts = %+v", c)
		}
		owner := func(r model.Risk) string { return s.byID(t, h.link(b.Name, r.ID).ExternalID).fields["owner"] }
		if owner(ok) != "new owner" || owner(refused) != "" || owner(conflict) != "" {
			t.Fatalf("remote owners: ok %q, refused %q, conflict %q", owner(ok), owner(refused), owner(conflict))
		}
		// A refused update keeps the record linked; the field waits.
		if l := h.link(b.Name, refused.ID); l.State != store.LinkLinked || l.Held["owner"].Side != store.HoldPush ||
			!strings.Contains(l.Held["owner"].Reason, "403") || l.Base["owner"] != "" {
			t.Errorf("refused link = %+v", l)
		}
		if l := h.link(b.Name, conflict.ID); l.State != store.LinkLinked || l.HubVersion == h.risk(conflict.ID).Version {
			t.Errorf("conflicting link = %+v, want linked, its hub change still to push", l)
		}
		if got := remote(t, dir).Calls["find"]; got != 1 {
			t.Errorf("find calls = %d, want 1 (the conflicting record re-read)", got)
		}

		setFaults(t, dir, fault.Faults{})
		res = h.incomplete(b, conn)
		if c := res.Counts; c.PushUpdates != 1 || c.Errors != 0 || c.Quarantined != 0 {
			t.Fatalf("after the conflict cleared: %+v", c)
		}
		if res.Waiting.Held != 1 {
			t.Errorf("waiting = %+v, want the refused owner still held", res.Waiting)
		}
		if owner(conflict) != "new owner" || owner(refused) != "" {
			t.Errorf("remote owners: conflict %q, refused %q", owner(conflict), owner(refused))
		}
		// The refused value is not hammered at the remote; a full
		// reconcile sends it again, and the refusal being over, it lands.
		res = h.sync(b, conn, Options{Full: true})
		if c := res.Counts; c.PushUpdates != 1 || owner(refused) != "new owner" {
			t.Fatalf("full: counts %+v, remote owner %q", c, owner(refused))
		}
		if l := h.link(b.Name, refused.ID); len(l.Held) != 0 || l.Base["owner"] != "new owner" {
			t.Errorf("after the full reconcile: link %+v", l)
		}
		noChanges(t, h.sync(b, conn))
	})
}

// storeTime is how the store writes times (fixed width: text order is time order).
const storeTime = "2006-01-02T15:04:05.000000000Z07:00"

// One run at a time per binding: a second run of a binding in use gets
// ErrBusy; a lease left by a process that died is taken over.
func TestLease(t *testing.T) {
	t.Run("concurrent run", func(t *testing.T) {
		h := newHub(t)
		conn, dir := faultInProcess(t, map[string]any{"page_size": 1, "slow_page_ms": 300})
		for i := range 3 {
			editRemote(t, dir, func(s *fault.State) error { s.Create("", sdkFields("R"+strconv.Itoa(i))); return nil })
		}
		b := riskBinding("risks")
		db := h.raw()
		done := make(chan error, 1)
		go func() {
			_, err := h.eng.Run(context.Background(), b, conn, Options{})
			done <- err
		}()
		waitFor(t, "the first run to hold the lease", func() bool { return leaseOwnerOf(t, db, b.Name) != "" })
		_, err := h.eng.Run(context.Background(), b, conn, Options{})
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("second run: err = %v, want ErrBusy", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("first run: %v", err)
		}
		if owner := leaseOwnerOf(t, db, b.Name); owner != "" {
			t.Errorf("lease still held by %q after the run", owner)
		}
		if n := len(h.risks()); n != 3 {
			t.Errorf("hub holds %d risks, want 3", n)
		}
		noChanges(t, h.sync(b, conn))
	})

	t.Run("holder alive, then dead", func(t *testing.T) {
		h := newHub(t)
		conn, _ := faultInProcess(t, nil)
		b := riskBinding("risks")
		child := exec.Command("sleep", "60")
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { child.Process.Kill(); child.Wait() })
		hostname, _ := os.Hostname()
		owner := fmt.Sprintf("%s:%d:deadbeef", hostname, child.Process.Pid)
		db := h.raw()
		if _, err := db.Exec(`INSERT INTO bindings (binding, lease_owner, lease_until, updated_at) VALUES (?, ?, ?, ?)`,
			b.Name, owner, time.Now().Add(time.Hour).UTC().Format(storeTime), time.Now().UTC().Format(storeTime)); err != nil {
			t.Fatal(err)
		}
		if _, err := h.eng.Run(context.Background(), b, conn, Options{}); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), owner) {
			t.Fatalf("err = %v, want ErrBusy naming %s", err, owner)
		}
		child.Process.Kill()
		child.Wait()
		h.sync(b, conn)
		if got := leaseOwnerOf(t, db, b.Name); got != "" {
			t.Errorf("lease owner after the run = %q", got)
		}
	})
}
