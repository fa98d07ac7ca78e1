package reconcile

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// agreed are the fields every side must hold the same after convergence.
var agreed = []string{"key", "title", "kind", "likelihood", "impact", "owner", "status"}

// converged fails unless every hub risk is held by the side's binding with
// the hub's values, and the side holds no other record.
func converged(t *testing.T, h *hub, binding string, s *side) {
	t.Helper()
	risks := h.risks()
	if n := len(s.records()); n != len(risks) {
		t.Errorf("%s: remote holds %d records, hub %d risks", binding, n, len(risks))
	}
	for _, r := range risks {
		l := h.link(binding, r.ID)
		if l.State != store.LinkLinked {
			t.Errorf("%s: %s link %+v", binding, r.Key, l)
			continue
		}
		rec := s.byID(t, l.ExternalID)
		hubFields, remoteFields := map[string]string{}, map[string]string{}
		for _, f := range agreed {
			hubFields[f], remoteFields[f] = RiskFields(r)[f], rec.fields[f]
		}
		if diff := cmp.Diff(hubFields, remoteFields); diff != "" {
			t.Errorf("%s: %s (-hub +remote):\n%s", binding, r.Key, diff)
		}
	}
}

// ERP: one tool, authoritative for everything. Its side wins conflicts;
// creates and edits flow both ways; the two sides converge.
func TestERPStrategy(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	b := riskBinding("erp", func(b *Binding) { b.Authority = Authority{Default: Remote} })
	a := h.addRisk("Hub A")
	bID := s.create(sdkFields("Remote B"))
	h.sync(b, conn)
	converged(t, h, b.Name, s)

	ext := h.link(b.Name, a.ID).ExternalID
	h.editRisk(a.ID, func(r *model.Risk) { r.Title = "A by the hub"; r.Owner = "hub owner" })
	s.edit(ext, map[string]string{"title": "A by the tool"})
	s.edit(bID, map[string]string{"status": "accepted"})
	res := h.sync(b, conn)
	if c := res.Counts; c.Conflicts != 1 || c.HubUpdates != 2 || c.PushUpdates != 1 {
		t.Fatalf("counts = %+v, want the tool's title, B's status in; the owner out", c)
	}
	if got := h.risk(a.ID); got.Title != "A by the tool" || got.Owner != "hub owner" {
		t.Errorf("hub A = %q owned by %q", got.Title, got.Owner)
	}
	converged(t, h, b.Name, s)
	noChanges(t, h.sync(b, conn))
}

// Best of breed: a tracker is authoritative for risks (both directions,
// its side wins), a second tool mirrors them (push only). Whatever changes
// where, after a round of runs all three hold the same.
func TestBestOfBreedStrategy(t *testing.T) {
	h := newHub(t)
	tconn, tdir := faultInProcess(t, nil)
	tracker := faultSide(t, tconn, tdir)
	mconn, mdir := fileBinary(t)
	mirror := fileSide(t, mconn, mdir)
	tb := riskBinding("tracker", func(b *Binding) { b.Authority = Authority{Default: Remote} })
	mb := riskBinding("mirror", func(b *Binding) { b.Connector = "file.mirror"; b.Direction = Push })
	round := func() (*Result, *Result) {
		t.Helper()
		return h.sync(tb, tconn), h.sync(mb, mconn)
	}

	a := h.addRisk("Hub A")
	bID := tracker.create(sdkFields("Tracker B"))
	tr, mr := round()
	if tr.Counts.PushCreates != 1 || tr.Counts.HubCreates != 1 || mr.Counts.PushCreates != 2 {
		t.Fatalf("first round: tracker %+v, mirror %+v", tr.Counts, mr.Counts)
	}
	converged(t, h, tb.Name, tracker)
	converged(t, h, mb.Name, mirror)

	// The tracker changes B, the hub changes A, and both change A's title:
	// the tracker, authoritative, wins it.
	h.editRisk(a.ID, func(r *model.Risk) { r.Owner = "hub owner"; r.Title = "A by the hub" })
	tracker.edit(h.link(tb.Name, a.ID).ExternalID, map[string]string{"title": "A by the tracker"})
	tracker.edit(bID, map[string]string{"likelihood": "5", "owner": "tracker owner"})
	tr, mr = round()
	if tr.Counts.Conflicts != 1 || mr.Counts.PushUpdates != 2 || mr.Counts.Conflicts != 0 {
		t.Fatalf("second round: tracker %+v, mirror %+v", tr.Counts, mr.Counts)
	}
	if got := h.risk(a.ID); got.Title != "A by the tracker" || got.Owner != "hub owner" {
		t.Errorf("hub A = %q owned by %q", got.Title, got.Owner)
	}
	converged(t, h, tb.Name, tracker)
	converged(t, h, mb.Name, mirror)

	// A risk new in the hub reaches both; then nothing moves.
	h.addRisk("Hub C")
	round()
	converged(t, h, tb.Name, tracker)
	converged(t, h, mb.Name, mirror)
	tr, mr = round()
	noChanges(t, tr)
	noChanges(t, mr)
}
