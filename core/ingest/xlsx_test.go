package ingest

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// workbook builds an .xlsx with the given sheets, rows of cells (strings,
// numbers, or formula strings beginning with "=" set as formulas).
func workbook(t *testing.T, sheets map[string][][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	first := true
	for name, rows := range sheets {
		if first {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				t.Fatal(err)
			}
			first = false
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			for j, v := range row {
				cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
				if s, ok := v.(string); ok && strings.HasPrefix(s, "=") {
					if err := f.SetCellFormula(name, cell, s[1:]); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := f.SetCellValue(name, cell, v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestXLSXInventory: the risks sheet of a workbook reads like a CSV file:
// header row, columns in any order, numbers as numbers, empty rows
// skipped; a formula is never evaluated (its saved value, here none, is
// read); positions are row and column numbers.
func TestXLSXInventory(t *testing.T) {
	data := workbook(t, map[string][][]any{
		"Risks": {
			{"Title", "likelihood", "impact", "effort", "key"},
			{"Slow resets", 4, 5, 1.5, "R-1"},
			{},
			{"=HYPERLINK(\"http://x\",\"click\")", 2, 2, 1, "R-2"},
		},
	})
	rd, err := NewRiskReader("inventory.xlsx", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	row, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	if r := row.Risk; r.Key != "R-1" || r.Title != "Slow resets" || r.Likelihood != 4 || r.Impact != 5 || r.Effort != 1.5 {
		t.Errorf("row 2 = %+v", r)
	}
	_, err = rd.Next()
	if err == nil || !strings.Contains(err.Error(), "inventory.xlsx:4,") || !strings.Contains(err.Error(), "title") {
		t.Errorf("the formula row (no saved value, so no title): %v; want an error at row 4 naming title", err)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("after the last row: %v", err)
	}

	bad := workbook(t, map[string][][]any{"Sheet": {{"title", "urgency"}, {"A", 1}}})
	_, err = NewRiskReader("bad.xlsx", bytes.NewReader(bad))
	if err == nil || !strings.Contains(err.Error(), `bad.xlsx:1,2: urgency: unknown column of sheet "Sheet"`) {
		t.Errorf("unknown column: %v", err)
	}
	if _, err := NewRiskReader("cut.xlsx", bytes.NewReader(data[:len(data)/2])); err == nil || !strings.Contains(err.Error(), "not a readable .xlsx workbook") {
		t.Errorf("a cut-off workbook: %v", err)
	}
}
