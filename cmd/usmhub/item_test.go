package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// The BIR by hand: an item inventory imports all or nothing (bad rows named
// by FILE:LINE,COL), importing it again changes nothing, a risk names the
// items it affects, and risk show, item show, item list and the log say so.
func TestItemImportAffectsShow(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("bad.csv", "key,name,status\nCI-1,web-01,in use\nbad key,db-01,gone\n")
	_, stderr, code := h.Run("item", "import", "bad.csv")
	if code != 1 || !strings.Contains(stderr, `bad.csv:3,1: key: "bad key" is not a valid key`) || !strings.Contains(stderr, `bad.csv:3,15: status: must be one of planned, in_use, in_repair, retired, not "gone"`) {
		t.Fatalf("bad inventory: code %d, stderr:\n%s", code, stderr)
	}
	if out := h.OK("item", "list", "-json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("a bad inventory stored items: %s", out)
	}
	h.Write("cmdb.csv", "key,name,type,status,owner\nCI-1,web-01,server,In use,ops\n,db-01,database,in-repair,\n")
	if out := h.OK("item", "import", "cmdb.csv"); !strings.Contains(out, "2 created, 0 updated, 0 unchanged") {
		t.Errorf("first import: %s", out)
	}
	if out := h.OK("item", "import", "cmdb.csv"); !strings.Contains(out, "0 created, 0 updated, 2 unchanged") {
		t.Errorf("second import: %s", out)
	}
	h.OK("risk", "add", "-title", "Disk full")
	if _, stderr, code := h.Run("risk", "update", "R-1", "-affects", "CI-1,no/key"); code != 2 || !strings.Contains(stderr, `"no/key"`) {
		t.Errorf("a bad -affects: code %d, %s", code, stderr)
	}
	h.OK("risk", "update", "R-1", "-affects", "CI-2, CI-1, CI-9")
	show := h.OK("risk", "show", "R-1")
	for _, want := range []string{"CI-2 db-01 (in_repair)", "CI-1 web-01 (in_use)", "CI-9 (not in the BIR)", `affects: "" → "CI-2,CI-1,CI-9"`} {
		if !strings.Contains(show, want) {
			t.Errorf("risk show lacks %q:\n%s", want, show)
		}
	}
	var items []struct {
		Key        string   `json:"key"`
		Source     string   `json:"source"`
		AffectedBy []string `json:"affected_by"`
	}
	h.JSONOf(&items, "item", "list", "-json")
	if len(items) != 2 || items[0].Key != "CI-1" || items[0].Source != "import:cmdb.csv" || strings.Join(items[1].AffectedBy, ",") != "R-1" {
		t.Errorf("item list -json: %+v", items)
	}
	if out := h.OK("item", "show", "CI-1"); !strings.Contains(out, "Affected by:  R-1 Disk full (proposed)") {
		t.Errorf("item show:\n%s", out)
	}
	if out := h.OK("log", "-entity", "CI-2"); !strings.Contains(out, "import:cmdb.csv") {
		t.Errorf("log of CI-2:\n%s", out)
	}
	// Export, and import the export: nothing changes.
	h.Write("again.csv", h.OK("item", "export"))
	if out := h.OK("item", "import", "again.csv"); !strings.Contains(out, "0 created, 0 updated, 2 unchanged") {
		t.Errorf("import of the export: %s", out)
	}
}

// TestItemExportXLSXImportsBack: the BIR exported as a workbook imports
// into another hub as the same items, and again into the first as no change.
func TestItemExportXLSXImportsBack(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("cmdb.csv", "key,name,type,status,owner,description\nCI-1,web-01,server,in use,ops,=1+2\nCI-2,db-01,database,in repair,,\n")
	h.OK("item", "import", "cmdb.csv")
	xlsx := filepath.Join(h.Dir, "bir.xlsx")
	h.OK("item", "export", "-o", xlsx)
	if out := h.OK("item", "import", xlsx); !strings.Contains(out, "0 created, 0 updated, 2 unchanged") {
		t.Errorf("the workbook imported into its own hub: %s", out)
	}
	other := newHub(t, testConfig)
	if out := other.OK("item", "import", xlsx); !strings.Contains(out, "2 created") {
		t.Fatalf("the workbook imported into another hub: %s", out)
	}
	if a, b := h.OK("item", "list", "-json"), other.OK("item", "list", "-json"); !strings.Contains(b, `=1+2`) || strings.Count(a, `"key"`) != strings.Count(b, `"key"`) {
		t.Errorf("items differ after the round trip:\n%s\n%s", a, b)
	}
}
