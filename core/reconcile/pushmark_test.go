package reconcile

import (
	"github.com/usmhub/usmhub/core/model"
	"testing"
)

// A pull page that leaves nothing to push, where nothing waited before it,
// moves the binding's push mark past its own changes (the push phase then
// reads none of them); a hub edit waiting before the run keeps the mark
// where it was, and is pushed.
func TestPullMovesPushMarkOnlyWhenNothingWaits(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	b := riskBinding("risks")
	a, c := h.addRisk("A"), h.addRisk("C")
	h.sync(b, conn)
	maxSeq := func() int64 {
		var n int64
		if err := h.raw().QueryRow(`SELECT MAX(change_seq) FROM risks`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ra := s.byMarker(a.ID)[0]
	s.edit(ra.id, map[string]string{"title": "A remote"})
	res := h.sync(b, conn)
	if c := res.Counts; c.HubUpdates != 1 || c.PushUpdates != 0 {
		t.Fatalf("counts = %+v", c)
	}
	if st, n := h.bindingState(b.Name), maxSeq(); st.PushedSeq != n {
		t.Errorf("push mark %d after a pull that left nothing to push, want the last change %d", st.PushedSeq, n)
	}

	before := h.bindingState(b.Name).PushedSeq
	h.editRisk(c.ID, func(r *model.Risk) { r.Title = "C in the hub" })
	s.edit(ra.id, map[string]string{"title": "A again"})
	res = h.sync(b, conn)
	if c := res.Counts; c.HubUpdates != 1 || c.PushUpdates != 1 {
		t.Fatalf("counts = %+v, want A taken and C pushed", c)
	}
	if got := s.byMarker(c.ID)[0].fields["title"]; got != "C in the hub" {
		t.Errorf("remote C = %q: the hub's edit was not pushed", got)
	}
	if st := h.bindingState(b.Name); st.PushedSeq <= before {
		t.Errorf("push mark %d (was %d), want it past C's change once C is pushed", st.PushedSeq, before)
	}
	noChanges(t, h.sync(b, conn))
}
