package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
)

// oneRow parses a CSV of a header and one row.
func oneRow(t *testing.T, csv string) *RiskRow {
	t.Helper()
	rd, err := NewRiskReader("f.csv", strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	row, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// stored is the risk R-1 as the hub holds it.
func stored(change ...func(*model.Risk)) model.Risk {
	r := model.Risk{ID: "0190b6d2-0000-7000-8000-000000000001", Key: "R-1", Initiative: "t", Kind: model.Threat,
		Title: "Hub title", Likelihood: 3, Impact: 3, Effort: 1, Owner: "ann", Status: model.Accepted, Version: 4}
	for _, c := range change {
		c(&r)
	}
	return r
}

var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// history builds a History from entries given oldest first.
func history(entries ...model.AuditEntry) History {
	var h History
	for i, e := range entries {
		e.ID, e.At, e.Entity = int64(i+1), t0.Add(time.Duration(i)*time.Minute), "risk"
		h.Add(e)
	}
	return h
}

func created(actor string) model.AuditEntry {
	return model.AuditEntry{Actor: actor, Field: "created", New: "R-1"}
}

func set(actor, run, field, old, new string) model.AuditEntry {
	return model.AuditEntry{Actor: actor, RunID: run, Field: field, Old: old, New: new}
}

const imp = "import:risks.csv (cli:alice)"

// fields lists the fields of changes and of kept fields, with the reason.
func fields(p RowPlan) (changed []string, kept []string) {
	for _, c := range p.Changes {
		changed = append(changed, c.Field)
	}
	for _, k := range p.Kept {
		kept = append(kept, k.Field+":"+string(k.Reason))
	}
	return changed, kept
}

func TestImportActorIsTold(t *testing.T) {
	a := ImportActor("/home/alice/sheets/risks.csv", "cli:alice")
	if a != "import:risks.csv (cli:alice)" || !IsImportActor(a) {
		t.Fatalf("ImportActor = %q, IsImportActor %v", a, IsImportActor(a))
	}
	for _, other := range []string{"cli:alice", "sync:risks", "daemon", ""} {
		if IsImportActor(other) {
			t.Errorf("IsImportActor(%q) = true", other)
		}
	}
}

func TestBackwards(t *testing.T) {
	back := map[[2]model.Status]bool{
		{model.InProgress, model.Accepted}: true,
		{model.Planned, model.Accepted}:    true,
		{model.Planned, model.Proposed}:    true,
		{model.Realized, model.InProgress}: true,
		{model.Realized, model.Rejected}:   true, // realized is final
		{model.Accepted, model.Planned}:    false,
		{model.Accepted, model.Accepted}:   false,
		{model.InProgress, model.Rejected}: false, // rejected is aside
		{model.Rejected, model.Proposed}:   false, // proposed again
		{model.Proposed, model.InProgress}: false, // forward, though the flow refuses it
	}
	for moves, want := range back {
		if got := Backwards(moves[0], moves[1]); got != want {
			t.Errorf("Backwards(%s, %s) = %v, want %v", moves[0], moves[1], got, want)
		}
	}
}

// The reported scenario, one risk: imported, put in progress by a sprint,
// retitled by a sync run. The same row again keeps both; -force takes the
// title but still not the status back to accepted.
func TestPlanRowKeepsWhatASprintAndASyncChanged(t *testing.T) {
	row := oneRow(t, "key,title,status,owner,likelihood\nR-1,Original title,accepted,ann,3\n")
	hub := stored(func(r *model.Risk) { r.Title, r.Status = "Title from Redmine", model.InProgress })
	h := history(
		created(imp),
		set("cli:alice", "", "status", "accepted", "planned"),
		set("cli:alice", "", "status", "planned", "in_progress"),
		set("sync:risks", "run-7", "conflict:title", "Original title", "Title from Redmine"),
		set("sync:risks", "run-7", "title", "Original title", "Title from Redmine"),
	)

	p := PlanRow(hub, row, h, false)
	changed, kept := fields(p)
	if len(changed) != 0 || !cmp.Equal(kept, []string{"title:changed_since_import", "status:status_backwards"}) {
		t.Fatalf("without force: changed %v, kept %v", changed, kept)
	}
	if p.Risk != hub {
		t.Fatalf("the planned risk differs from the hub's though nothing changes:\n%s", cmp.Diff(hub, p.Risk))
	}
	title := p.Kept[0]
	if title.Hub != "Title from Redmine" || title.File != "Original title" || title.By.Actor != "sync:risks" || title.By.RunID != "run-7" {
		t.Fatalf("kept title: %+v", title)
	}
	if why := title.Why(); !strings.Contains(why, "sync:risks run run-7") || !strings.Contains(why, "-force") {
		t.Fatalf("Why() = %q", why)
	}
	if why := p.Kept[1].Why(); !strings.Contains(why, "never moves a status backwards") || !strings.Contains(why, "cli:alice") {
		t.Fatalf("Why() = %q", why)
	}

	p = PlanRow(hub, row, h, true)
	changed, kept = fields(p)
	if !cmp.Equal(changed, []string{"title"}) || !cmp.Equal(kept, []string{"status:status_backwards"}) {
		t.Fatalf("with force: changed %v, kept %v", changed, kept)
	}
	if p.Risk.Title != "Original title" || p.Risk.Status != model.InProgress {
		t.Fatalf("with force: %q %s", p.Risk.Title, p.Risk.Status)
	}
}

// A field whose last change was an import's belongs to the file; one an
// import set at creation too; one changed by hand or by a sync does not.
func TestPlanRowFieldByField(t *testing.T) {
	row := oneRow(t, "key,title,owner,likelihood,impact,effort,status\nR-1,New title,bob,5,4,2,planned\n")
	hub := stored()
	h := history(
		created(imp),
		set("import:older.json (cli:bob)", "", "title", "First", "Hub title"),
		set("cli:alice", "", "owner", "", "ann"),
		set("import:risks.csv (cli:alice)", "", "likelihood", "2", "3"),
		set("sync:risks", "run-1", "effort", "3", "1"),
	)
	p := PlanRow(hub, row, h, false)
	want := []FieldChange{
		{Field: "title", Old: "Hub title", New: "New title"},
		{Field: "likelihood", Old: "3", New: "5"},
		{Field: "impact", Old: "3", New: "4"},
		{Field: "status", Old: "accepted", New: "planned"},
	}
	if d := cmp.Diff(want, p.Changes); d != "" {
		t.Fatalf("changes (-want +got):\n%s", d)
	}
	if _, kept := fields(p); !cmp.Equal(kept, []string{"effort:changed_since_import", "owner:changed_since_import"}) {
		t.Fatalf("kept %v", kept)
	}
	if p.Risk.Title != "New title" || p.Risk.Owner != "ann" || p.Risk.Effort != 1 || p.Risk.Likelihood != 5 || p.Risk.Status != model.Planned {
		t.Fatalf("planned risk: %+v", p.Risk)
	}
}

// A risk the sync (or a person) created and no import ever touched is live:
// a row that matches it changes nothing unless forced.
func TestPlanRowRiskNeverImported(t *testing.T) {
	row := oneRow(t, "key,title,owner,status,impact\nR-1,Sheet title,bob,proposed,3\n")
	hub := stored()
	h := history(created("sync:risks"))
	p := PlanRow(hub, row, h, false)
	if changed, kept := fields(p); len(changed) != 0 ||
		!cmp.Equal(kept, []string{"title:not_imported", "owner:not_imported", "status:status_backwards"}) {
		t.Fatalf("changed %v, kept %v", changed, kept)
	}
	if why := p.Kept[0].Why(); !strings.Contains(why, "created by sync:risks") || !strings.Contains(why, "not by an import") {
		t.Fatalf("Why() = %q", why)
	}
	p = PlanRow(hub, row, h, true)
	if changed, kept := fields(p); !cmp.Equal(changed, []string{"title", "owner"}) || !cmp.Equal(kept, []string{"status:status_backwards"}) {
		t.Fatalf("with force: changed %v, kept %v", changed, kept)
	}
	// No trail at all: kept as well.
	if _, kept := fields(PlanRow(hub, row, History{}, false)); len(kept) != 3 {
		t.Fatalf("without history: kept %v", kept)
	}
}

// Only the columns a row gives count: a row without a status column does
// not move the status to the default.
func TestPlanRowOnlyGivenColumns(t *testing.T) {
	row := oneRow(t, "key,title\nR-1,Hub title\n")
	hub := stored(func(r *model.Risk) { r.Status, r.Likelihood = model.Realized, 5 })
	p := PlanRow(hub, row, history(created(imp)), true)
	if len(p.Changes) != 0 || len(p.Kept) != 0 || p.Risk != hub {
		t.Fatalf("plan %+v", p)
	}
}
