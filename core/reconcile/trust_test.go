package reconcile

// Tests of the refinements a real Redmine with faults and kills taught:
// per-field holds, changes that survive a cleared refusal, no conflict from
// an unconfirmed push, a deletion limit, foreign markers left alone, pauses
// that end with their cause, and pushes in the audit log.

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
	"github.com/usmhub/usmhub/internal/testconnectors/fault"
)

// A remote status the hub cannot take, arriving with another remote change:
// the other change is taken, only the status waits, and nothing the hub
// pushes later writes over the remote's values.
func TestRefusedFieldHeldOthersTaken(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	b := riskBinding("risks", func(b *Binding) { b.Authority = Authority{Default: Remote} })
	r := h.addRisk("Rejected in the hub", func(r *model.Risk) { r.Impact = 1 })
	r = h.editRisk(r.ID, func(r *model.Risk) { r.Status = model.Rejected })
	h.sync(b, conn)
	ext := h.link(b.Name, r.ID).ExternalID

	s.edit(ext, map[string]string{"status": "accepted", "impact": "4"}) // rejected → accepted is illegal
	res := h.incomplete(b, conn)
	if got := h.risk(r.ID); got.Impact != 4 || got.Status != model.Rejected {
		t.Fatalf("hub impact %d, status %s; want the impact taken (4), the status kept (rejected)", got.Impact, got.Status)
	}
	if res.Counts.HubUpdates != 1 || res.Counts.Quarantined != 1 || res.Counts.PushUpdates != 0 || res.Waiting.Held != 1 {
		t.Fatalf("counts %+v, waiting %+v", res.Counts, res.Waiting)
	}
	if len(res.Held) != 1 || res.Held[0].Fields[0].Field != "status" || res.Held[0].Fields[0].Remote != "accepted" ||
		!strings.Contains(res.Held[0].Reason, "illegal status transition") {
		t.Fatalf("held = %+v", res.Held)
	}
	if got := s.byID(t, ext).fields["status"]; got != "accepted" {
		t.Errorf("remote status = %q: the hub pushed its own over the one it did not take", got)
	}
	for _, e := range h.audit(store.AuditFilter{EntityID: r.ID}) {
		if e.Field == "conflict:status" {
			t.Errorf("a conflict was logged on a field only the remote changed: %+v", e)
		}
	}

	// A later unrelated hub edit sends the title only: neither the stale
	// impact nor the hub's status goes over the remote's.
	h.editRisk(r.ID, func(r *model.Risk) { r.Title = "Edited in the hub" })
	res = h.incomplete(b, conn)
	got := s.byID(t, ext).fields
	if got["title"] != "Edited in the hub" || got["impact"] != "4" || got["status"] != "accepted" {
		t.Fatalf("remote = %v; want the new title, impact 4 and status accepted kept", got)
	}
	if res.Counts.PushUpdates != 1 || res.Counts.Conflicts != 0 {
		t.Errorf("counts = %+v", res.Counts)
	}

	// The hub moves to where it can take the remote's status: rejected →
	// proposed. Both sides changed the status; the remote owns it and wins,
	// and the wait is over.
	h.editRisk(r.ID, func(r *model.Risk) { r.Status = model.Proposed })
	h.sync(b, conn)
	if got := h.risk(r.ID).Status; got != model.Accepted {
		t.Fatalf("status = %s, want the remote's accepted taken once the hub could", got)
	}
	if l := h.link(b.Name, r.ID); len(l.Held) != 0 || l.Base["status"] != "accepted" {
		t.Errorf("link = %+v", l)
	}
	noChanges(t, h.sync(b, conn))
}

// A change the remote refused is pushed again once the refusal's cause is
// fixed (here map_status), and until then it shows in every plan.
func TestRefusedChangeSentAgainWhenFixed(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	mapped := func(rejected string) Binding {
		return riskBinding("risks", func(b *Binding) {
			b.MapStatus = map[string]string{"proposed": "New", "accepted": "Accepted", "rejected": rejected}
		})
	}
	r := h.addRisk("To reject")
	h.sync(mapped("Rejected"), conn)
	ext := h.link("risks", r.ID).ExternalID

	setFaults(t, dir, fault.Faults{PermanentExternalIDs: []string{ext}}) // the workflow refuses it
	h.editRisk(r.ID, func(r *model.Risk) { r.Status = model.Rejected })
	h.incomplete(mapped("Rejected"), conn)
	setFaults(t, dir, fault.Faults{})

	plan := h.plan(mapped("Rejected"), conn)
	if plan.Waiting.Held != 1 || len(plan.Held) != 1 || plan.Held[0].Fields[0].Hub != "rejected" {
		t.Fatalf("plan: waiting %+v, held %+v; want the refused status shown", plan.Waiting, plan.Held)
	}
	if got := s.byID(t, ext).fields["status"]; got != "New" {
		t.Fatalf("remote status = %q", got)
	}
	res := h.sync(mapped("Closed"), conn) // the operator fixes map_status
	if got := s.byID(t, ext).fields["status"]; got != "Closed" || res.Counts.PushUpdates != 1 {
		t.Fatalf("remote status = %q, counts %+v; want the change pushed again with the new spelling", got, res.Counts)
	}
	if l := h.link("risks", r.ID); len(l.Held) != 0 {
		t.Errorf("held after the fix: %+v", l.Held)
	}
	noChanges(t, h.sync(mapped("Closed"), conn))
}

// A run died after recording an update's intent and before the update
// reached the remote; the remote then changed another field. The next run
// sends the hub's edit again and takes the remote's: no conflict, nothing
// reverted.
func TestUnconfirmedPushIsSentAgainNotJudged(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	b := riskBinding("risks", func(b *Binding) { b.Authority = Authority{Default: Remote} })
	r := h.addRisk("Original")
	h.sync(b, conn)
	ext := h.link(b.Name, r.ID).ExternalID

	r = h.editRisk(r.ID, func(r *model.Risk) { r.Title = "Edited in the hub" })
	// What flush commits before the push, as a killed run leaves it.
	err := h.st.Update(context.Background(), store.Actor{Name: "sync:risks"}, func(tx store.Tx) error {
		l, err := tx.Link(b.Name, r.ID)
		if err != nil {
			return err
		}
		l.Base[sentPrefix+connector.FieldTitle] = "Edited in the hub"
		return tx.PutLink(l)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.edit(ext, map[string]string{"impact": "5"})

	res := h.sync(b, conn)
	if res.Counts.Conflicts != 0 {
		t.Errorf("conflicts = %d, want 0: the remote never changed the title", res.Counts.Conflicts)
	}
	if got := s.byID(t, ext).fields["title"]; got != "Edited in the hub" {
		t.Errorf("remote title = %q: the hub's edit was lost", got)
	}
	if got := h.risk(r.ID); got.Title != "Edited in the hub" || got.Impact != 5 {
		t.Errorf("hub title %q, impact %d", got.Title, got.Impact)
	}
	noChanges(t, h.sync(b, conn))
}

// A run that would delete or close more than the binding's limit of its
// linked records changes nothing and says how to confirm; plan shows the
// deletions; -allow-deletes confirms.
func TestDeletionLimit(t *testing.T) {
	for _, sd := range sides {
		t.Run(sd.name, func(t *testing.T) {
			h := newHub(t)
			s := sd.make(t)
			b := riskBinding("risks")
			var risks []model.Risk
			for i := range 20 {
				risks = append(risks, h.addRisk("Risk "+strconv.Itoa(i)))
			}
			h.sync(b, s.conn)
			for _, rec := range s.records() {
				s.del(rec.id) // an emptied file, a mistyped folder
			}
			plan := h.plan(b, s.conn)
			if !plan.DeleteLimitExceeded || plan.Counts.HubDeletes != 20 {
				t.Fatalf("plan: exceeded %v, counts %+v; want all 20 deletions shown and the stop", plan.DeleteLimitExceeded, plan.Counts)
			}
			_, err := h.eng.Run(context.Background(), b, s.conn, Options{Full: true})
			if !errors.Is(err, ErrTooManyDeletes) || !strings.Contains(err.Error(), "-allow-deletes") || !strings.Contains(err.Error(), " 20 (or more) of the 20 ") {
				t.Fatalf("err = %v, want ErrTooManyDeletes naming -allow-deletes", err)
			}
			for _, r := range risks {
				if got := h.risk(r.ID).Status; got != model.Proposed {
					t.Fatalf("%s is %s after a refused mass deletion", r.Key, got)
				}
			}
			if n := len(h.links(b.Name, store.LinkLinked)); n != 20 {
				t.Fatalf("%d linked, want 20", n)
			}
			res := h.sync(b, s.conn, Options{Full: true, AllowDeletes: true})
			if res.Counts.HubDeletes != 20 || h.risk(risks[0].ID).Status != model.Rejected {
				t.Fatalf("confirmed: counts %+v", res.Counts)
			}
		})
	}
}

// A few deletions stay within the limit.
func TestDeletionsWithinLimit(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	b := riskBinding("risks")
	for i := range 20 {
		h.addRisk("Risk " + strconv.Itoa(i))
	}
	h.sync(b, conn)
	for _, rec := range s.records()[:5] {
		s.del(rec.id)
	}
	if res := h.sync(b, conn); res.Counts.HubDeletes != 5 {
		t.Fatalf("counts = %+v, want 5 deletions (the minimum limit)", res.Counts)
	}
}

// A record carrying another hub's marker is reported and left alone unless
// the binding adopts foreign records.
func TestForeignMarkerLeftAlone(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	b := riskBinding("risks")
	h.addRisk("Same title")
	const foreign = "usmhub-0190a3c4-1111-7222-8333-444455556666"
	var ext string
	editRemote(t, dir, func(s *fault.State) error {
		ext = s.Create(foreign, sdkFields("Same title")).ID
		return nil
	})
	res := h.incomplete(b, conn)
	if res.Counts.Linked != 0 || res.Counts.HubCreates != 0 {
		t.Fatalf("counts = %+v: the foreign record was taken", res.Counts)
	}
	q := h.quarantine(b.Name)
	if len(q) != 1 || q[0].ExternalID != ext || !strings.Contains(q[0].Reason, "another usmhub") || !strings.Contains(q[0].Reason, "adopt_foreign") {
		t.Fatalf("quarantine = %+v", q)
	}
	if got := remote(t, dir).Records[ext].Marker; got != foreign {
		t.Fatalf("the foreign marker was rewritten to %q", got)
	}
	res = h.sync(riskBinding("risks", func(b *Binding) { b.AdoptForeign = true }), conn, Options{Full: true})
	if res.Counts.HubCreates != 1 || len(h.quarantine(b.Name)) != 0 {
		t.Fatalf("adopting: counts = %+v, quarantine %+v; want the record taken as a hub risk", res.Counts, h.quarantine(b.Name))
	}
}

// A binding paused by a permanent failure (401) tries again as soon as its
// connector's configuration changes, without -force.
func TestPauseEndsWhenConfigChanges(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	setFaults(t, dir, fault.Faults{PermanentError: "401 unauthorized: check api_key"})
	b := riskBinding("risks", func(b *Binding) { b.Fingerprint = "key-1" })
	if _, err := h.eng.Run(context.Background(), b, conn, Options{}); err == nil || errors.Is(err, ErrPaused) {
		t.Fatalf("first run: err = %v, want the 401", err)
	}
	if _, err := h.eng.Run(context.Background(), b, conn, Options{}); !errors.Is(err, ErrPaused) {
		t.Fatalf("same config: err = %v, want ErrPaused", err)
	}
	setFaults(t, dir, fault.Faults{})
	b.Fingerprint = "key-2" // the operator fixed the key
	h.sync(b, conn)
	if st := h.bindingState(b.Name); !st.PausedUntil.IsZero() || st.Failures != 0 {
		t.Errorf("state after the fix = %+v", st)
	}
}

// Every push is in the audit log, with the connector, the remote id and the
// fields sent, found by the short run id sync prints.
func TestPushesAudited(t *testing.T) {
	h := newHub(t)
	conn, _ := faultInProcess(t, nil)
	b := riskBinding("risks")
	r := h.addRisk("Audited")
	res := h.sync(b, conn)
	ext := h.link(b.Name, r.ID).ExternalID
	entries := h.audit(store.AuditFilter{RunID: res.RunID[:8]})
	var push *model.AuditEntry
	for i, e := range entries {
		if e.Field == "push:create" && e.EntityID == r.ID {
			push = &entries[i]
		}
	}
	if push == nil || !strings.Contains(push.New, "fault.test "+ext) || !strings.Contains(push.New, `title="Audited"`) {
		t.Fatalf("audit of run %s = %+v", res.RunID[:8], entries)
	}
	h.editRisk(r.ID, func(r *model.Risk) { r.Impact = 5 })
	res = h.sync(b, conn)
	found := false
	for _, e := range h.audit(store.AuditFilter{EntityID: r.Key}) {
		found = found || (e.Field == "push:update" && e.RunID == res.RunID && strings.Contains(e.New, `impact="5"`))
	}
	if !found {
		t.Errorf("the update push is not in the risk's audit log")
	}
	// A long value is cut in the log, never inside a character.
	h.editRisk(r.ID, func(r *model.Risk) { r.Description = "xx" + strings.Repeat("é", 100) })
	res = h.sync(b, conn)
	found = false
	for _, e := range h.audit(store.AuditFilter{EntityID: r.Key}) {
		if e.Field == "push:update" && e.RunID == res.RunID {
			found = true
			if !utf8.ValidString(e.New) || !strings.Contains(e.New, `éé..."`) {
				t.Errorf("a long value in the log: %q", e.New)
			}
		}
	}
	if !found {
		t.Errorf("the second update push is not in the risk's audit log")
	}
}

// Whatever differs between the hub and the remote after a run is settled
// by a full reconcile, which compares every linked record field by field:
// here a hub change the link wrongly records as synced (what a cleared
// quarantine used to leave), and a base that does not hold the hub's value.
func TestFullReconcileSettlesDrift(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	b := riskBinding("risks")
	a, c := h.addRisk("A"), h.addRisk("C")
	h.sync(b, conn)
	a = h.editRisk(a.ID, func(r *model.Risk) { r.Status = model.Rejected })
	extC := h.link(b.Name, c.ID).ExternalID
	err := h.st.Update(context.Background(), store.Actor{Name: "test"}, func(tx store.Tx) error {
		la, err := tx.Link(b.Name, a.ID)
		if err != nil {
			return err
		}
		la.HubVersion = a.Version // as if pushed
		if err := tx.PutLink(la); err != nil {
			return err
		}
		lc, err := tx.Link(b.Name, c.ID)
		if err != nil {
			return err
		}
		lc.Base[connector.FieldImpact] = "5" // as if the remote's 5 were agreed
		return tx.PutLink(lc)
	})
	if err != nil {
		t.Fatal(err)
	}
	editRemote(t, dir, func(st *fault.State) error {
		st.Records[extC].Fields[connector.FieldImpact] = "5" // no new version
		return nil
	})
	noChanges(t, h.sync(b, conn)) // an incremental run cannot see it
	res := h.sync(b, conn, Options{Full: true})
	if got := s.byID(t, h.link(b.Name, a.ID).ExternalID).fields["status"]; got != "rejected" || res.Counts.PushUpdates < 1 {
		t.Errorf("remote status of A = %q, counts %+v; want the hub's rejected pushed", got, res.Counts)
	}
	// The base says the remote's 5 is agreed, so the hub's 3 is the
	// change: sent. Either way both sides must agree afterwards.
	if hub, remote := h.risk(c.ID).Impact, s.byID(t, extC).fields["impact"]; strconv.Itoa(hub) != remote {
		t.Errorf("impact of C: hub %d, remote %q; want them to agree", hub, remote)
	}
	noChanges(t, h.sync(b, conn, Options{Full: true}))
}
