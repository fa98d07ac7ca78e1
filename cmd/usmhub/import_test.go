package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	inv "github.com/usmhub/usmhub/core/inventory"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// The inventory of the reported scenario: fit a sprint of 5,
// R-3 does not, the last row has no key.
const reimportCSV = `key,title,likelihood,impact,effort,owner,status
R-1,Badge changes without approval,4,4,1,ann,accepted
R-2,Printer incidents solved again,5,2,1,bob,accepted
R-3,One intake form,3,4,9,cem,accepted
,Meeting rooms without service levels,3,3,1,,proposed
`

// asSync changes a risk in the hub's store the way a sync run does: as the
// actor sync:risks, with a run id, after recording a settled conflict.
func (h *hub) asSync(key string, change func(*model.Risk)) {
	h.T.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(h.Dir, "data", "usmhub.db"))
	if err != nil {
		h.T.Fatal(err)
	}
	defer st.Close()
	err = st.Update(ctx, store.Actor{Name: "sync:risks", RunID: "run-1"}, func(tx store.Tx) error {
		r, err := tx.Risk(key)
		if err != nil {
			return err
		}
		before := r
		change(&r)
		for _, c := range []struct{ field, old, new string }{{"title", before.Title, r.Title}, {"owner", before.Owner, r.Owner}} {
			if c.old != c.new {
				if err := tx.RecordAudit(model.AuditEntry{Entity: "risk", EntityID: r.ID, Field: "conflict:" + c.field,
					Old: c.old, New: c.new}); err != nil {
					return err
				}
			}
		}
		return tx.UpdateRisk(&r)
	})
	if err != nil {
		h.T.Fatal(err)
	}
}

func statusesAndTitles(h *hub) map[string]string {
	got := map[string]string{}
	for _, it := range h.list() {
		got[it.Key] = it.Status + " " + it.Title + " " + it.Owner
	}
	return got
}

// TestImportAgainKeepsLiveState reproduces the report: import, plan and
// start a sprint, a sync retitles a risk and settles a conflict on an owner,
// someone changes a likelihood by hand; importing the same file again keeps
// all of it, with a warning per kept field, and takes only what the file
// changed of its own fields. -dry-run -force lists what -force would do and
// writes nothing; -force overwrites the fields but never moves a status
// backwards.
func TestImportAgainKeepsLiveState(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("risks.csv", reimportCSV)
	if out := h.OK("risk", "import", "risks.csv"); !strings.Contains(out, "4 created, 0 updated, 0 unchanged, 0 kept (changed since last import)") {
		t.Fatalf("first import: %s", out)
	}
	h.OK("sprint", "plan", "-start", "2026-12-01", "-end", "2026-12-14")
	h.OK("sprint", "start", "1")
	h.asSync("R-1", func(r *model.Risk) { r.Title = "Badge changes need approval (Redmine)" })
	h.asSync("R-2", func(r *model.Risk) { r.Owner = "dan" })
	h.OK("risk", "update", "R-3", "-likelihood", "5")
	live := map[string]string{
		"R-1": "in_progress Badge changes need approval (Redmine) ann",
		"R-2": "in_progress Printer incidents solved again dan",
		"R-3": "accepted One intake form cem",
		"R-4": "proposed Meeting rooms without service levels ",
	}
	if got := statusesAndTitles(h); !cmp.Equal(got, live) {
		t.Fatalf("before the second import:\n%s", cmp.Diff(live, got))
	}

	// The same file, but for R-3's impact, which only the file changed.
	h.Write("risks.csv", strings.Replace(reimportCSV, "R-3,One intake form,3,4,", "R-3,One intake form,3,5,", 1))
	out, errs, code := h.Run("risk", "import", "risks.csv")
	if code != 0 {
		t.Fatalf("second import: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"risks.csv:4: R-3 impact: 4 → 5",
		"imported risks.csv: 0 created, 1 updated, 3 unchanged, 3 kept (changed since last import)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"risks.csv:2: warning: R-1 title: keeps \"Badge changes need approval (Redmine)\", the file says \"Badge changes without approval\": changed since the last import (last changed by sync:risks run run-1",
		"risks.csv:2: warning: R-1 status: keeps in_progress, the file says accepted: an import never moves a status backwards",
		"risks.csv:3: warning: R-2 owner: keeps \"dan\", the file says \"bob\": changed since the last import (last changed by sync:risks run run-1",
		"risks.csv:3: warning: R-2 status: keeps in_progress",
		"risks.csv:4: warning: R-3 likelihood: keeps 5, the file says 3: changed since the last import (last changed by cli:",
		"risks.csv:5: note: row matched R-4 by its title",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	live["R-3"] = "accepted One intake form cem" // impact is not in the map
	if got := statusesAndTitles(h); !cmp.Equal(got, live) {
		t.Fatalf("the second import changed live state:\n%s", cmp.Diff(live, got))
	}
	var hist struct {
		History []model.AuditEntry `json:"history"`
	}
	h.JSONOf(&hist, "risk", "show", "R-3")
	last := hist.History[len(hist.History)-1]
	if last.Field != "impact" || !strings.HasPrefix(last.Actor, "import:risks.csv") {
		t.Fatalf("the import's change is audited as %+v", last)
	}

	// A dry run with -force says what it would change and keep, and writes nothing.
	out, errs, code = h.Run("risk", "import", "-dry-run", "-force", "risks.csv")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"risks.csv:2: R-1 title: \"Badge changes need approval (Redmine)\" → \"Badge changes without approval\"",
		"risks.csv:3: R-2 owner: \"dan\" → \"bob\"",
		"risks.csv:4: R-3 likelihood: 5 → 3",
		"would import (dry run, nothing stored) risks.csv: 0 created, 3 updated, 1 unchanged, 2 kept",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "R-1 status: keeps in_progress") || strings.Contains(errs, "R-1 title") {
		t.Errorf("dry run stderr:\n%s", errs)
	}
	if got := statusesAndTitles(h); !cmp.Equal(got, live) {
		t.Fatalf("the dry run wrote:\n%s", cmp.Diff(live, got))
	}

	// -force: the file's fields win, the statuses still do not go back.
	var res inv.RiskResult
	h.JSONOf(&res, "risk", "import", "-force", "risks.csv")
	if res.Created != 0 || res.Updated != 3 || res.Unchanged != 1 || res.Kept != 2 || len(res.KeptFields) != 2 ||
		res.KeptFields[0].Reason != "status_backwards" || len(res.MatchedByTitle) != 1 || res.MatchedByTitle[0].Key != "R-4" {
		t.Fatalf("forced import: %+v", res)
	}
	want := map[string]string{
		"R-1": "in_progress Badge changes without approval ann",
		"R-2": "in_progress Printer incidents solved again bob",
		"R-3": "accepted One intake form cem",
		"R-4": "proposed Meeting rooms without service levels ",
	}
	if got := statusesAndTitles(h); !cmp.Equal(got, want) {
		t.Fatalf("after -force:\n%s", cmp.Diff(want, got))
	}
}

// A risk the sync created (never imported) is live: a row that matches it
// changes nothing without -force, and says why.
func TestImportKeepsRisksNeverImported(t *testing.T) {
	h := newHub(t, testConfig)
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(h.Dir, "data", "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(ctx, store.Actor{Name: "sync:risks", RunID: "run-9"}, func(tx store.Tx) error {
		return tx.CreateRisk(&model.Risk{Key: "OPS-1", Initiative: "t", Kind: model.Threat, Title: "From Redmine",
			Likelihood: 2, Impact: 2, Effort: 1, Status: model.Accepted})
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	h.Write("r.csv", "key,title,likelihood\nOPS-1,From the sheet,4\n")
	out, errs, code := h.Run("risk", "import", "r.csv")
	if code != 0 || !strings.Contains(out, "0 created, 0 updated, 1 unchanged, 1 kept") ||
		!strings.Contains(errs, "r.csv:2: warning: OPS-1 title: keeps \"From Redmine\", the file says \"From the sheet\": created by sync:risks run run-9") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	if out := h.OK("risk", "import", "-force", "r.csv"); !strings.Contains(out, "0 created, 1 updated, 0 unchanged, 0 kept") {
		t.Fatalf("forced: %s", out)
	}
	if it := h.list(); it[0].Title != "From the sheet" || it[0].Likelihood != 4 {
		t.Fatalf("after -force: %+v", it[0])
	}
}
