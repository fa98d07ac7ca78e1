package reconcile

import (
	"strings"
	"testing"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// Two rows of a file with one key are quarantined together, on the file
// connector's word (a record with a problem): the hub takes neither, does
// not create its own risk of that key in the file (a third row), sends
// nothing to a linked row that clashes, and takes the rows as usual once
// they are mended, even when the linked row itself did not change.
func TestClashingRowsQuarantinedNotTaken(t *testing.T) {
	h := newHub(t)
	inst, dir := fileBinary(t)
	b := riskBinding("file")
	mine := h.addRisk("The hub's own", func(r *model.Risk) { r.Key = "R-1" })
	row := func(key, title string) map[string]string {
		return map[string]string{"key": key, "title": title, "kind": "threat", "likelihood": "2", "impact": "3", "effort": "1", "status": "proposed"}
	}
	writeFileRows(t, dir, []map[string]string{row("R-1", "First"), row("R-1", "Second"), row("", "Good")})

	res := h.incomplete(b, inst)
	if c := res.Counts; c.HubCreates != 1 || c.Quarantined != 1 || c.PushCreates != 0 || c.Linked != 0 {
		t.Fatalf("counts = %+v, want Good taken, the clash quarantined and nothing created in the file", c)
	}
	q := h.quarantine(b.Name)
	if len(q) != 1 || q[0].ExternalID != "K-R-1" || !strings.Contains(q[0].Reason, "both have key R-1: give each row its own key") ||
		!strings.Contains(q[0].Reason, "risks.json:") {
		t.Fatalf("quarantine = %+v, want K-R-1 with both rows named", q)
	}
	if got := h.risk(mine.ID); got.Title != "The hub's own" {
		t.Errorf("the hub's R-1 took a clashing row: %+v", got)
	}
	if n := len(h.risks()); n != 2 {
		t.Errorf("hub holds %d risks, want R-1 and Good", n)
	}
	countKey := func(key string) int {
		n := 0
		for _, r := range fileRows(t, dir) {
			if r["key"] == key {
				n++
			}
		}
		return n
	}
	if n := countKey("R-1"); n != 2 {
		t.Errorf("the file holds %d rows with key R-1, want the 2 (the hub's R-1 not created beside them)", n)
	}
	h.incomplete(b, inst)               // the push of Good's marker moved the rows' lines
	noChanges(t, h.incomplete(b, inst)) // the same clash again: nothing new

	// Mended: the second row gets its own key.
	rows := fileRows(t, dir)
	for _, r := range rows {
		if r["title"] == "Second" {
			r["key"] = "R-7"
		}
	}
	writeFileRows(t, dir, rows)
	res = h.sync(b, inst)
	if c := res.Counts; c.Linked != 1 || c.HubCreates != 1 || c.PushCreates != 0 {
		t.Errorf("counts after mending = %+v, want R-1 linked by key and R-7 taken", c)
	}
	if q := h.quarantine(b.Name); len(q) != 0 {
		t.Errorf("quarantine after mending = %+v", q)
	}
	if n := countKey("R-1"); n != 1 {
		t.Errorf("the file holds %d rows with key R-1, want 1", n)
	}
	seven := h.risk("R-7")

	// A new row repeats the key of a linked one: the linked record is
	// quarantined, and a hub edit of R-7 waits.
	rows = fileRows(t, dir)
	writeFileRows(t, dir, append(rows, row("R-7", "Copy")))
	h.editRisk(seven.ID, func(r *model.Risk) { r.Title = "Edited in the hub" })
	res = h.incomplete(b, inst)
	if c := res.Counts; c.Quarantined != 1 || c.PushUpdates != 0 || c.Errors != 0 {
		t.Errorf("counts with a linked row clashing = %+v, want it quarantined and nothing pushed", c)
	}
	if q := h.quarantine(b.Name); len(q) != 1 || q[0].HubID != seven.ID {
		t.Errorf("quarantine = %+v, want R-7's record", q)
	}
	if l := h.link(b.Name, seven.ID); l.State != store.LinkLinked {
		t.Errorf("link = %+v, want it kept", l)
	}
	// Mended by removing the copy: R-7's row is as it was, and is taken
	// again; the hub's edit goes out.
	writeFileRows(t, dir, rows)
	res = h.sync(b, inst)
	if c := res.Counts; c.PushUpdates != 1 || c.Conflicts != 0 {
		t.Errorf("counts after removing the copy = %+v, want the hub's edit pushed", c)
	}
	if q := h.quarantine(b.Name); len(q) != 0 {
		t.Errorf("quarantine after mending = %+v", q)
	}
	found := false
	for _, r := range fileRows(t, dir) {
		found = found || (r["key"] == "R-7" && r["title"] == "Edited in the hub")
	}
	if !found {
		t.Errorf("the hub's edit of R-7 did not reach the file: %+v", fileRows(t, dir))
	}
	noChanges(t, h.sync(b, inst))
}

// A new row whose cells of fields with a default are empty (a column the
// connector added for other rows, left blank) is created with the
// defaults, as an import would, and the push writes them into the row.
func TestEmptyCellsOfNewRowTakeDefaults(t *testing.T) {
	h := newHub(t)
	inst, dir := fileBinary(t)
	b := riskBinding("file")
	writeFileRows(t, dir, []map[string]string{{"key": "R-4", "title": "Typed in", "likelihood": "4", "impact": "", "effort": " ", "kind": "", "status": ""}})
	res := h.sync(b, inst)
	if c := res.Counts; c.HubCreates != 1 || c.Quarantined != 0 {
		t.Fatalf("counts = %+v, want the row created", c)
	}
	r := h.risk("R-4")
	if r.Likelihood != 4 || r.Impact != 3 || r.Effort != 1 || r.Kind != model.Threat || r.Status != model.Proposed {
		t.Errorf("risk = %+v, want likelihood 4 and the defaults", r)
	}
	row := fileRows(t, dir)[0]
	if row["impact"] != "3" || row["effort"] != "1" || row["status"] != "proposed" {
		t.Errorf("row after the push = %v, want the defaults written", row)
	}
	noChanges(t, h.sync(b, inst))
}
