package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/usmhub/usmhub/core/ingest"
	"github.com/xuri/excelize/v2"
)

// An Excel workbook (.xlsx) as a data file
//
// A data file whose name ends in .xlsx (risks_file = "risks.xlsx", or
// format = "xlsx" for every file) is a workbook: the sheet named for the
// file's kind (risks, votes, scans; any case), or else the first, is the
// table; its first row is the header, as in a CSV file. Cells are read as
// the workbook stores them: numbers as their number, text as its text, and
// nothing is evaluated. A formula cell is read as its formula ("=SUM(A1)"),
// never as the value it last showed, so that the hub sees what is really
// there and refuses or quarantines it like any other bad value.
//
// A push reads the whole sheet into memory and writes a new workbook (to a
// temporary file in the folder, renamed over the old one): memory grows
// with the file, unlike CSV's streaming. The new workbook has the one
// sheet, with every column the user had, in place; numbers in the numeric
// columns are written as numbers, every other cell as text. Text that a
// spreadsheet would run as a formula (=, +, -, @ first) gets a leading
// single quote (core/ingest's NeutraliseFormula), which reading drops again:
// the connector never writes a formula.

// formatXLSX is the format of a data file that is a workbook.
const formatXLSX = "xlsx"

// fileFormat returns the format of the data file at path: xlsx when its
// name ends in .xlsx, else the configured format.
func fileFormat(path, format string) string {
	if strings.HasSuffix(strings.ToLower(path), ".xlsx") {
		return formatXLSX
	}
	if format == formatXLSX { // a votes or scans file named otherwise
		return formatCSV
	}
	return format
}

// xlsxReader reads the rows of a sheet, all read when the file is opened.
type xlsxReader struct {
	t    *table
	rows [][]string
	i    int   // the next row, 0-based (0 is the header)
	size int64 // the file's bytes read
}

// kindOf returns the sheet a data file's rows are on: its base name
// without the extension (risks, votes, scans).
func kindOf(path string) string {
	base := path[strings.LastIndexAny(path, `/\`)+1:]
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return base
}

// newXLSXReader reads the workbook in r and its sheet's header into t. An
// empty file, or an empty sheet, has no columns and no rows.
func newXLSXReader(t *table, r io.Reader) (*xlsxReader, error) {
	xr := &xlsxReader{t: t, i: 1}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.path, err)
	}
	if len(b) == 0 {
		return xr, nil // an empty file: as an empty CSV file
	}
	xr.size = int64(len(b))
	sum := sha256.Sum256(b)
	lastSheet.Lock()
	if lastSheet.sum == sum && lastSheet.path == t.path {
		sheet := lastSheet.sheet
		lastSheet.Unlock()
		return xr, xr.header(sheet)
	}
	lastSheet.Unlock()
	sheet, err := readSheet(t.path, b)
	if err != nil {
		return nil, err
	}
	lastSheet.Lock()
	lastSheet.sum, lastSheet.path, lastSheet.sheet = sum, t.path, sheet
	lastSheet.Unlock()
	return xr, xr.header(sheet)
}

// lastSheet holds the sheet read last: a push reads the file more than
// once (to open it, to write it, to find a row again), and parsing a
// workbook's XML costs far more than reading its bytes and hashing them.
var lastSheet struct {
	sync.Mutex
	sum   [sha256.Size]byte
	path  string
	sheet *sheetRows
}

// sheetRows is what a workbook holds for the connector: the sheet's name,
// how many others there are, and its rows (never changed once read).
type sheetRows struct {
	name   string
	others int
	rows   [][]string
}

// header takes a read sheet's header into the table.
func (xr *xlsxReader) header(s *sheetRows) error {
	t := xr.t
	if s == nil {
		return nil
	}
	t.sheet, t.otherSheets = s.name, s.others
	if len(s.rows) == 0 {
		return nil
	}
	for i, name := range s.rows[0] {
		c := canonicalColumn(name)
		if j := t.col(c); c != "" && j >= 0 {
			return fmt.Errorf("%s:1: column %q appears twice (columns %d and %d of sheet %q)", t.path, name, j+1, i+1, s.name)
		}
		t.discover(t.addColumn(name))
	}
	xr.rows = s.rows
	return nil
}

// readSheet parses a workbook and reads the rows of its data sheet.
func readSheet(path string, b []byte) (*sheetRows, error) {
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable .xlsx workbook: %w", path, err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, nil
	}
	sheet := sheets[0]
	for _, s := range sheets {
		if strings.EqualFold(s, kindOf(path)) {
			sheet = s
		}
	}
	rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, fmt.Errorf("%s: sheet %q: %w", path, sheet, err)
	}
	if len(rows) == 0 { // no header: the other sheets still count
		return &sheetRows{name: sheet, others: len(sheets) - 1}, nil
	}
	width := len(rows[0])
	for i, cells := range rows {
		for j := range cells {
			cells[j] = ingest.RestoreFormula(cells[j])
		}
		// A formula is read as itself, never as its last value; a formula
		// whose value is empty may be past the row's last cell.
		for j := range max(width, len(cells)) {
			name, err := excelize.CoordinatesToCellName(j+1, i+1)
			if err != nil {
				return nil, fmt.Errorf("%s: sheet %q: %w", path, sheet, err)
			}
			formula, err := f.GetCellFormula(sheet, name)
			if err != nil {
				return nil, fmt.Errorf("%s: sheet %q cell %s: %w", path, sheet, name, err)
			}
			if formula == "" {
				continue
			}
			for len(cells) <= j {
				cells = append(cells, "")
			}
			cells[j] = "=" + formula
		}
		rows[i] = cells
	}
	return &sheetRows{name: sheet, others: len(sheets) - 1, rows: rows}, nil
}

// next returns the next row that has a cell; the pos of a row is its row
// number in the sheet (the header is row 1).
func (xr *xlsxReader) next() (row, error) {
	for ; xr.i < len(xr.rows); xr.i++ {
		cells := xr.rows[xr.i]
		empty := true
		for _, c := range cells {
			if strings.TrimSpace(c) != "" {
				empty = false
				break
			}
		}
		if empty {
			continue
		}
		if len(cells) > len(xr.t.columns) {
			return row{}, fmt.Errorf("%s:%d: a value in a column without a header (column %d; the header has %d): name the column or clear the cell",
				xr.t.path, xr.i+1, len(cells), len(xr.t.columns))
		}
		xr.i++
		return row{cells: slices.Clone(cells), pos: int64(xr.i)}, nil
	}
	return row{}, io.EOF
}

// offset returns the share of the file the rows read so far took, as
// bytes.
func (xr *xlsxReader) offset() int64 {
	if len(xr.rows) <= 1 {
		return xr.size
	}
	return xr.size * int64(xr.i) / int64(len(xr.rows))
}

// xlsxWriter writes rows as a new workbook of one sheet when closed.
type xlsxWriter struct {
	t    *table
	w    io.Writer
	f    *excelize.File
	sw   *excelize.StreamWriter
	n    int // the rows written, header included
	vals []any
}

// newXLSXWriter starts a workbook with the table's sheet and header.
func (t *table) newXLSXWriter(w io.Writer) (*xlsxWriter, error) {
	if t.otherSheets > 0 {
		return nil, fmt.Errorf("%s has %d sheet(s) besides %q, which the connector would not keep when it writes the workbook: move them to another workbook", t.path, t.otherSheets, t.sheet)
	}
	sheet := t.sheet
	if sheet == "" {
		sheet = kindOf(t.path)
	}
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", t.path, err)
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", t.path, err)
	}
	xw := &xlsxWriter{t: t, w: w, f: f, sw: sw}
	header := make([]any, len(t.columns))
	for i, c := range t.columns {
		header[i] = ingest.NeutraliseFormula(c)
	}
	if err := xw.put(header); err != nil {
		f.Close()
		return nil, err
	}
	return xw, nil
}

func (xw *xlsxWriter) put(cells []any) error {
	xw.n++
	cell, err := excelize.CoordinatesToCellName(1, xw.n)
	if err == nil {
		err = xw.sw.SetRow(cell, cells)
	}
	if err != nil {
		return fmt.Errorf("write %s row %d: %w", xw.t.path, xw.n, err)
	}
	return nil
}

// write adds a row: a number in a numeric column as a number, every other
// cell as text, neutralised so that it is never a formula.
func (xw *xlsxWriter) write(r row) error {
	xw.vals = xw.vals[:0]
	for i, name := range xw.t.columns {
		cell := ""
		if i < len(r.cells) {
			cell = r.cells[i]
		}
		var v any = ingest.NeutraliseFormula(cell)
		if numericColumns[canonicalColumn(name)] {
			if n, err := strconv.ParseFloat(cell, 64); err == nil && isJSONNumber(cell) {
				v = n
			}
		}
		xw.vals = append(xw.vals, v)
	}
	return xw.put(xw.vals)
}

// close writes the workbook.
func (xw *xlsxWriter) close() error {
	defer xw.f.Close()
	if err := xw.sw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", xw.t.path, err)
	}
	if err := xw.f.Write(xw.w); err != nil {
		return fmt.Errorf("write %s: %w", xw.t.path, err)
	}
	return nil
}
