package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/plugins/sdk"
	"github.com/xuri/excelize/v2"
)

// openBook opens a workbook the test reads or edits as a person would.
func openBook(t *testing.T, path string) *excelize.File {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// cellByHeader returns the cell name of column header in row (1-based).
func cellByHeader(t *testing.T, f *excelize.File, sheet, header string, row int) string {
	t.Helper()
	rows, err := f.GetRows(sheet)
	if err != nil || len(rows) == 0 {
		t.Fatalf("sheet %s: %v (%d rows)", sheet, err, len(rows))
	}
	for i, h := range rows[0] {
		if h == header {
			name, _ := excelize.CoordinatesToCellName(i+1, row)
			return name
		}
	}
	t.Fatalf("sheet %s has no column %s: %q", sheet, header, rows[0])
	return ""
}

// Pull and push over a risks workbook: creates and updates are written to a
// new workbook with numbers as numbers, a person's edits and their own
// columns are taken and kept, and a formula is read as its text and never
// written back as a formula.
func TestXLSXRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.xlsx")
	c := configured(t, dir, formatXLSX)

	// Create: a new workbook with a risks sheet.
	res := mustOK(t, push(t, c, create("een"), create("twee"), create("=HYPERLINK(\"http://evil\")")))
	f := openBook(t, path)
	if got := f.GetSheetList(); len(got) != 1 || got[0] != "risks" {
		t.Fatalf("sheets of the new workbook = %q, want [risks]", got)
	}
	impact := cellByHeader(t, f, "risks", "impact", 2)
	if typ, _ := f.GetCellType("risks", impact); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
		t.Errorf("impact cell %s has type %v, want a number", impact, typ)
	}
	if v, _ := f.GetCellValue("risks", impact); v != "4" {
		t.Errorf("impact cell %s = %q, want 4", impact, v)
	}
	for row := 1; row <= 4; row++ {
		for col := 1; col <= 20; col++ {
			name, _ := excelize.CoordinatesToCellName(col, row)
			if fm, _ := f.GetCellFormula("risks", name); fm != "" {
				t.Errorf("the connector wrote formula %q in %s", fm, name)
			}
		}
	}
	p := pull(t, c, sdk.KindRisk, "")
	if len(p.records) != 3 || p.byID[res[2].ExternalID].Fields["title"] != `=HYPERLINK("http://evil")` {
		t.Fatalf("pull after create: %d records, third title %q", len(p.records), p.byID[res[2].ExternalID].Fields["title"])
	}

	// Update.
	up := mustOK(t, push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: res[0].ExternalID, Version: res[0].Version, Fields: map[string]string{"impact": "5"}}))[0]
	if got := pull(t, c, sdk.KindRisk, "").byID[res[0].ExternalID]; got.Fields["impact"] != "5" || got.Version != up.Version {
		t.Errorf("after an update: %+v, want impact 5 at version %s", got, up.Version)
	}

	// A person edits the workbook: a title, a column of their own, and a
	// formula in a cell the hub reads.
	f = openBook(t, path)
	set := func(cell string, v any) {
		if err := f.SetCellValue("risks", cell, v); err != nil {
			t.Fatal(err)
		}
	}
	set(cellByHeader(t, f, "risks", "title", 3), "twee (bijgewerkt)")
	rows, _ := f.GetRows("risks")
	own, _ := excelize.CoordinatesToCellName(len(rows[0])+1, 1)
	set(own, "Remarks")
	ownRow2, _ := excelize.CoordinatesToCellName(len(rows[0])+1, 2)
	set(ownRow2, "ask Piet")
	if err := f.SetCellFormula("risks", cellByHeader(t, f, "risks", "likelihood", 4), "1+1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	p = pull(t, c, sdk.KindRisk, "")
	if got := p.byID[res[1].ExternalID].Fields["title"]; got != "twee (bijgewerkt)" {
		t.Errorf("the person's edit: title %q", got)
	}
	if got := p.byID[res[2].ExternalID].Fields["likelihood"]; got != "=1+1" {
		t.Errorf("a formula cell reads %q, want its text =1+1 (never its value)", got)
	}

	// A push keeps the person's column and writes the formula as text.
	mustOK(t, push(t, c, create("drie")))
	f = openBook(t, path)
	rows, err := f.GetRows("risks")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || rows[0][len(rows[0])-1] != "Remarks" || rows[1][len(rows[0])-1] != "ask Piet" {
		t.Errorf("after a push the workbook is %q; want 4 risks and the Remarks column kept", rows)
	}
	for row := 1; row <= 5; row++ {
		for col := 1; col <= len(rows[0]); col++ {
			name, _ := excelize.CoordinatesToCellName(col, row)
			if fm, _ := f.GetCellFormula("risks", name); fm != "" {
				t.Errorf("after a push, %s holds formula %q", name, fm)
			}
		}
	}
	if got := pull(t, c, sdk.KindRisk, "").byID[res[2].ExternalID].Fields["likelihood"]; got != "=1+1" {
		t.Errorf("the formula written back reads %q, want =1+1 as text", got)
	}
}

// A workbook with other sheets is not rewritten (they would be lost), and
// a risks_file ending in .xlsx is a workbook whatever the format.
func TestXLSXOtherSheetsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.xlsx")
	f := excelize.NewFile()
	f.SetSheetName("Sheet1", "Risks")
	f.SetSheetRow("Risks", "A1", &[]any{"Title", "Likelihood", "Impact", "Kind"})
	f.SetSheetRow("Risks", "A2", &[]any{"een", 3, 4, "threat"})
	f.NewSheet("Notes")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before := readFile(t, path)
	c := New().(*Connector)
	cfg, _ := sdk.ConfigFromMap(map[string]any{"dir": dir, "risks_file": "risks.xlsx"})
	if err := c.Configure(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	p := pull(t, c, sdk.KindRisk, "")
	if len(p.records) != 1 || p.records[0].Fields["likelihood"] != "3" || p.records[0].Fields["title"] != "een" {
		t.Fatalf("pull of a hand-made workbook: %+v", p.records)
	}
	_, err := c.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create("twee")}})
	if err == nil || !strings.Contains(err.Error(), `besides "Risks"`) {
		t.Errorf("push into a workbook with another sheet: %v, want a refusal naming the sheet", err)
	}
	if readFile(t, path) != before {
		t.Error("the refused push changed the workbook")
	}
}

// An empty risks sheet beside another sheet is refused too: the other
// sheet would be lost.
func TestXLSXEmptySheetBesideAnother(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.xlsx")
	f := excelize.NewFile()
	f.SetSheetName("Sheet1", "risks")
	f.NewSheet("Notes")
	f.SetCellValue("Notes", "A1", "keep me")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := configured(t, dir, formatXLSX)
	if p := pull(t, c, sdk.KindRisk, ""); len(p.records) != 0 {
		t.Fatalf("pull of an empty sheet: %d records", len(p.records))
	}
	_, err := c.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create("een")}})
	if err == nil || !strings.Contains(err.Error(), `besides "risks"`) {
		t.Errorf("push into an empty risks sheet beside Notes: %v, want a refusal", err)
	}
	if v, _ := openBook(t, path).GetCellValue("Notes", "A1"); v != "keep me" {
		t.Errorf("the Notes sheet reads %q after the refused push", v)
	}
}
