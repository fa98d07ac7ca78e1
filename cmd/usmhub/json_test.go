package main

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// One JSON shape per entity (docs/JSON.md): the risk object of risk show,
// add, update and vote is the one risk list prints, and the item object of
// item show the one item list prints; context sits beside it.
func TestOneJSONShapePerEntity(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("cmdb.csv", "key,name,type,status\nCI-1,web-01,server,in use\n")
	h.OK("item", "import", "cmdb.csv")
	var added map[string]any
	h.JSONOf(&added, "risk", "add", "-title", "Disk full", "-description", "it fills up")
	var updated map[string]any
	h.JSONOf(&updated, "risk", "update", "R-1", "-affects", "CI-1")
	var list []map[string]any
	h.JSONOf(&list, "risk", "list")
	var show struct {
		Risk    map[string]any    `json:"risk"`
		Votes   []json.RawMessage `json:"votes"`
		Affects []json.RawMessage `json:"affects"`
		History []json.RawMessage `json:"history"`
	}
	h.JSONOf(&show, "risk", "show", "R-1")
	if len(list) != 1 {
		t.Fatalf("risk list: %d risks", len(list))
	}
	if diff := cmp.Diff(list[0], show.Risk); diff != "" {
		t.Errorf("risk show's risk differs from risk list's (-list +show):\n%s", diff)
	}
	if diff := cmp.Diff(list[0], updated); diff != "" {
		t.Errorf("risk update's risk differs from risk list's (-list +update):\n%s", diff)
	}
	for _, k := range []string{"key", "id", "title", "description", "priority", "status", "votes", "version", "created_at", "updated_at"} {
		if _, ok := added[k]; !ok {
			t.Errorf("risk add -json lacks %q: %v", k, added)
		}
	}
	if len(show.Affects) != 1 || len(show.History) == 0 {
		t.Errorf("risk show's context: %d affects, %d history entries", len(show.Affects), len(show.History))
	}

	var items []map[string]any
	h.JSONOf(&items, "item", "list")
	var item struct {
		Item  map[string]any    `json:"item"`
		Risks []json.RawMessage `json:"risks"`
	}
	h.JSONOf(&item, "item", "show", "CI-1")
	if len(items) != 1 {
		t.Fatalf("item list: %d items", len(items))
	}
	if diff := cmp.Diff(items[0], item.Item); diff != "" {
		t.Errorf("item show's item differs from item list's (-list +show):\n%s", diff)
	}
	if len(item.Risks) != 1 {
		t.Errorf("item show's risks: %d", len(item.Risks))
	}
}
