package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// xlsxMagic begins every .xlsx file (a zip archive).
var xlsxMagic = []byte("PK\x03\x04")

// isXLSX tells an Excel workbook by its name or its first bytes, without
// consuming anything.
func isXLSX(name string, br *bufio.Reader) bool {
	if strings.HasSuffix(strings.ToLower(name), ".xlsx") {
		return true
	}
	head, _ := br.Peek(len(xlsxMagic))
	return bytes.Equal(head, xlsxMagic)
}

// xlsxTable reads one sheet of a workbook as an inventory: the sheet named
// for the kind (risks, items …, any case) or else the first, its first row
// the header. Cells are read as the workbook stores them: a formula's last
// saved value, never the formula, and nothing is evaluated.
type xlsxTable struct {
	name, sheet string
	spec        tableSpec
	header      []string
	rows        [][]string
	i           int // the next row to read, 0-based (0 is the header)
}

// Limits on what a workbook may unpack to: an inventory of a million
// rows fits well within them, and a crafted archive (a zip bomb) is
// refused instead of filling the memory or the disk.
const (
	xlsxUnzipLimit    = 512 << 20 // all of the workbook's parts
	xlsxUnzipXMLLimit = 64 << 20  // one part held in memory; larger ones go to a temporary file
)

func newXLSXTable(name string, r io.Reader, spec tableSpec) (*xlsxTable, error) {
	f, err := excelize.OpenReader(r, excelize.Options{UnzipSizeLimit: xlsxUnzipLimit, UnzipXMLSizeLimit: xlsxUnzipXMLLimit})
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable .xlsx workbook: %w", name, err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, fmt.Errorf("%s: the workbook has no sheet", name)
	}
	sheet := sheets[0]
	for _, s := range sheets {
		if strings.EqualFold(s, spec.noun+"s") {
			sheet = s
		}
	}
	rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, fmt.Errorf("%s: sheet %q: %w", name, sheet, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: sheet %q is empty: its first row must be a header naming the columns (%s is required)", name, sheet, spec.required)
	}
	t := &xlsxTable{name: name, sheet: sheet, spec: spec, rows: rows, i: 1}
	var errs Errors
	seen := map[string]bool{}
	for i, h := range rows[0] {
		h = strings.ToLower(strings.TrimSpace(h))
		t.header = append(t.header, h)
		pos := Pos{1, i + 1}
		switch {
		case h == "":
		case !spec.known(h):
			errs = append(errs, &RowError{File: name, Pos: pos, Column: h,
				Msg: fmt.Sprintf("unknown column of sheet %q; the columns are %s", sheet, strings.Join(spec.columns, ", "))})
		case seen[h]:
			errs = append(errs, &RowError{File: name, Pos: pos, Column: h, Msg: "column appears twice"})
		}
		seen[h] = true
	}
	if !seen[spec.required] {
		errs = append(errs, &RowError{File: name, Pos: Pos{1, 1}, Msg: fmt.Sprintf("the header of sheet %q has no %s column, which is required", sheet, spec.required)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return t, nil
}

// next returns the next non-empty row; positions are row and column
// numbers (row 1 is the header).
func (t *xlsxTable) next() (*rawRow, error) {
	for ; t.i < len(t.rows); t.i++ {
		cells := t.rows[t.i]
		row := &rawRow{file: t.name, pos: Pos{t.i + 1, 1}, columnPos: map[string]Pos{}, values: map[string]string{}}
		empty := true
		for j, v := range cells {
			if j >= len(t.header) || t.header[j] == "" {
				if strings.TrimSpace(v) != "" {
					row.errs = append(row.errs, &RowError{File: t.name, Pos: Pos{t.i + 1, j + 1}, Msg: "a value in a column without a header"})
				}
				continue
			}
			if strings.TrimSpace(v) != "" {
				empty = false
			}
			if msg := badText(v); msg != "" {
				row.errs = append(row.errs, &RowError{File: t.name, Pos: Pos{t.i + 1, j + 1}, Column: t.header[j], Msg: msg})
			}
			row.values[t.header[j]] = v
			row.columnPos[t.header[j]] = Pos{t.i + 1, j + 1}
		}
		if empty && len(row.errs) == 0 {
			continue
		}
		// A row ends at its last non-empty cell; the columns after it are
		// empty, as a CSV row's would be.
		for j, h := range t.header {
			if _, ok := row.values[h]; !ok && h != "" {
				row.values[h] = ""
				row.columnPos[h] = Pos{t.i + 1, j + 1}
			}
		}
		t.i++
		return row, nil
	}
	return nil, io.EOF
}

// XLSXWriter writes an inventory as a workbook that the readers take back:
// one sheet named for the kind, a header row, a row per record. Numbers
// stay numbers and text stays text: a value beginning with "=" is written
// as a text cell, never as a formula, so opening the file runs nothing.
type XLSXWriter struct {
	f       *excelize.File
	sw      *excelize.StreamWriter
	columns []string
	row     int
}

// NewXLSXWriter starts a workbook with one sheet of the given columns.
func NewXLSXWriter(sheet string, columns []string) (*XLSXWriter, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		f.Close()
		return nil, fmt.Errorf("xlsx: %w", err)
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("xlsx: %w", err)
	}
	x := &XLSXWriter{f: f, sw: sw, columns: columns, row: 1}
	header := make([]any, len(columns))
	for i, c := range columns {
		header[i] = c
	}
	return x, x.put(header)
}

// Write adds a row: values by column; ints and floats become numbers,
// everything else text.
func (x *XLSXWriter) Write(values map[string]any) error {
	cells := make([]any, len(x.columns))
	for i, c := range x.columns {
		switch v := values[c].(type) {
		case int, int64, float64:
			cells[i] = v
		case nil:
			cells[i] = ""
		default:
			cells[i] = fmt.Sprint(v)
		}
	}
	return x.put(cells)
}

func (x *XLSXWriter) put(cells []any) error {
	cell, err := excelize.CoordinatesToCellName(1, x.row)
	if err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	x.row++
	if err := x.sw.SetRow(cell, cells); err != nil {
		return fmt.Errorf("xlsx row %d: %w", x.row-1, err)
	}
	return nil
}

// Close finishes the workbook and writes it to w.
func (x *XLSXWriter) Close(w io.Writer) error {
	defer x.f.Close()
	if err := x.sw.Flush(); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	if err := x.f.Write(w); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	return nil
}
