package ingest

import (
	"strings"
	"testing"

	"github.com/usmhub/usmhub/core/model"
)

func TestReadItemsCSVAndJSON(t *testing.T) {
	csvIn := "key,name,type,status,owner\nCI-1,web-01,server,In use,ops\n,db-01,,in-repair,\n"
	rows, err := ReadItems("cmdb.csv", strings.NewReader(csvIn))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Item.Key != "CI-1" || rows[0].Item.Status != model.ItemInUse || rows[1].Item.Status != model.ItemInRepair || rows[1].Item.Key != "" {
		t.Fatalf("rows: %+v %+v", rows[0].Item, rows[1].Item)
	}
	jsonIn := `[{"key": "CI-1", "name": "web-01"},
  {"name": "lb", "status": "retired"}]`
	rows, err = ReadItems("cmdb.json", strings.NewReader(jsonIn))
	if err != nil || len(rows) != 2 || rows[1].Item.Status != model.ItemRetired || rows[1].Pos.Line != 2 {
		t.Fatalf("json rows: %v %+v", err, rows)
	}
}

func TestReadItemsErrorsNameEveryBadRow(t *testing.T) {
	in := "key,name,status\nCI-1,web,in_use\nbad key,db,in_use\nCI-1,again,\nCI-3,,gone\n"
	_, err := ReadItems("cmdb.csv", strings.NewReader(in))
	if err == nil {
		t.Fatal("bad rows were accepted")
	}
	want := []string{
		`cmdb.csv:3,1: key: "bad key" is not a valid key`,
		`cmdb.csv:4,1: key: key CI-1 is given twice (first on line 2)`,
		`cmdb.csv:5,6: name: is required`,
		`cmdb.csv:5,7: status: must be one of planned, in_use, in_repair, retired, not "gone"`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	_, err = ReadItems("cmdb.csv", strings.NewReader("name,colour\nweb,red\n"))
	if err == nil || !strings.Contains(err.Error(), "cmdb.csv:1,6: colour: unknown column; the columns are key, name, type, status, owner, description, source") {
		t.Errorf("unknown column: %v", err)
	}
	_, err = ReadItems("cmdb.json", strings.NewReader(`[{"name": "web"}, {"name": "x", "colour": 1}]`))
	if err == nil || !strings.Contains(err.Error(), "cmdb.json:1,33: colour: unknown field") {
		t.Errorf("unknown JSON field: %v", err)
	}
}
