package model

import (
	"strings"
	"testing"
)

func TestItemStatusAndValidate(t *testing.T) {
	for in, want := range map[string]ItemStatus{"In use": ItemInUse, "in-repair": ItemInRepair, " RETIRED ": ItemRetired, "planned": ItemPlanned} {
		if got := ParseItemStatus(in); got != want || !got.Valid() {
			t.Errorf("ParseItemStatus(%q) = %q, want %q", in, got, want)
		}
	}
	it := Item{Key: "CI 1", Name: "", Status: "broken"}
	err := it.Validate()
	for _, w := range []string{`key: "CI 1" is not a valid key`, "name: is required", `status: must be one of planned, in_use, in_repair, retired, not "broken"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate: %v, want %q", err, w)
		}
	}
	ok := Item{Name: "web-01", Status: ItemInUse}
	if err := ok.Validate(); err != nil {
		t.Errorf("a valid item: %v", err)
	}
	if known, _ := ok.SetField("colour", "red"); known {
		t.Error("SetField took a field items do not have")
	}
	for _, f := range ItemFields {
		if _, err := ok.SetField(f, " v "); err != nil {
			t.Errorf("SetField %s: %v", f, err)
		}
		if f != "status" && f != "description" && ok.Field(f) != "v" {
			t.Errorf("Field(%s) = %q after SetField", f, ok.Field(f))
		}
	}
}

func TestParseAffects(t *testing.T) {
	got, err := ParseAffects("CI-2, CI-1;CI-2  web.01")
	if err != nil || strings.Join(got, ",") != "CI-2,CI-1,web.01" {
		t.Errorf("ParseAffects: %v %v", got, err)
	}
	if _, err := ParseAffects("CI-1, C/2"); err == nil || !strings.Contains(err.Error(), `"C/2"`) {
		t.Errorf("a bad key: %v", err)
	}
	if got, err := ParseAffects(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
}

func TestKeySeq(t *testing.T) {
	for key, want := range map[string]int64{"R-12": 12, "CI-7": 7, "R-0": 0, "R-": -1, "ABC": -1, "a-b-3": 3, "R-x1": -1, "R--5": 5} {
		if got := KeySeq(key); got != want {
			t.Errorf("KeySeq(%q) = %d, want %d", key, got, want)
		}
	}
}
