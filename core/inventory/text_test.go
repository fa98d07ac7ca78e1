package inventory

import (
	"strings"
	"testing"

	"github.com/usmhub/usmhub/core/ingest"
)

// An import's account is in file order, each line at FILE:LINE; a dry run
// adds what it would create, and its summary says nothing was stored.
func TestRiskResultAccount(t *testing.T) {
	res := &RiskResult{File: "r.csv", DryRun: true, Created: 1, Updated: 1, Unchanged: 2, Kept: 1,
		Creates:        []Create{{Line: 4, Key: "R-3", Title: "New"}},
		Changes:        []Change{{Line: 2, Key: "R-1", FieldChange: ingest.FieldChange{Field: "title", Old: "a", New: "b"}}},
		KeptFields:     []Kept{{Line: 5, Key: "R-2", Field: "status", Hub: "accepted", File: "proposed", Message: "a status never moves back"}},
		MatchedByTitle: []TitleMatch{{Line: 3, Key: "R-2", Title: "Old"}},
	}
	notes := strings.Join(res.Notes(), "\n")
	if want := "r.csv:3: note: row matched R-2 by its title \"Old\" (the row has no key)\nr.csv:5: warning: R-2 status: keeps "; !strings.HasPrefix(notes, want) {
		t.Errorf("notes:\n%s\nwant to begin:\n%s", notes, want)
	}
	lines := res.Lines()
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "r.csv:2: R-1 title: ") || lines[1] != `r.csv:4: would create R-3 "New"` {
		t.Errorf("lines: %q", lines)
	}
	if s := res.Summary(); s != "would import (dry run, nothing stored) r.csv: 1 created, 1 updated, 2 unchanged, 1 kept (changed since last import)" {
		t.Errorf("summary: %s", s)
	}
	res.DryRun = false
	if len(res.Lines()) != 1 || !strings.HasPrefix(res.Summary(), "imported r.csv: ") {
		t.Errorf("stored: %q, %s", res.Lines(), res.Summary())
	}
	items := &ItemResult{File: "i.csv", DryRun: true, Creates: []Create{{Line: 2, Key: "CI-1", Title: "Web"}},
		Changes: []Change{{Line: 3, Key: "CI-2", FieldChange: ingest.FieldChange{Field: "name", Old: "x", New: "y"}}}}
	if l := items.Lines(); len(l) != 2 || !strings.HasPrefix(l[0], "i.csv:3: CI-2 name: ") || l[1] != `i.csv:2: would create CI-1 "Web"` {
		t.Errorf("item lines: %q", l)
	}
}
