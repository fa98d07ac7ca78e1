package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// utf8BOM starts files that spreadsheets save as "CSV UTF-8".
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// csvReader reads the rows of a CSV data file.
type csvReader struct {
	t          *table
	r          *csv.Reader
	cols       int   // the columns of the header
	bom        int64 // the bytes of the byte-order mark
	start, end int64 // where the last row is in the file (its bytes, line end included)
}

// newCSVReader reads the header of a CSV file into t. An empty file has no
// columns and no rows.
func newCSVReader(t *table, br *bufio.Reader) (*csvReader, error) {
	var bom int64
	if b, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		t.bom, bom = true, int64(len(utf8BOM))
		_, _ = br.Discard(len(utf8BOM))
	}
	t.comma = sniffComma(br)
	r := csv.NewReader(br)
	r.Comma = t.comma
	r.FieldsPerRecord = -1 // checked below, with a clearer message
	r.ReuseRecord = true
	cr := &csvReader{t: t, r: r, bom: bom}
	header, err := r.Read()
	if err == io.EOF {
		return cr, nil
	}
	if err != nil {
		return nil, cr.parseError(err)
	}
	for i, name := range header {
		c := canonicalColumn(name)
		if j := t.col(c); c != "" && j >= 0 {
			return nil, fmt.Errorf("%s:1: column %q appears twice (columns %d and %d)", t.path, name, j+1, i+1)
		}
		t.discover(t.addColumn(name))
	}
	cr.cols = len(header)
	return cr, nil
}

// sniffComma returns the separator of a CSV file: a semicolon when its
// first line has semicolons and no commas, else a comma.
func sniffComma(br *bufio.Reader) rune {
	b, _ := br.Peek(br.Size())
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if bytes.IndexByte(b, ';') >= 0 && bytes.IndexByte(b, ',') < 0 {
		return ';'
	}
	return ','
}

func (cr *csvReader) next() (row, error) {
	cr.start = cr.bom + cr.r.InputOffset()
	cells, err := cr.r.Read()
	cr.end = cr.bom + cr.r.InputOffset()
	if err != nil {
		if err == io.EOF {
			return row{}, io.EOF
		}
		return row{}, cr.parseError(err)
	}
	line, _ := cr.r.FieldPos(0)
	if len(cells) != cr.cols {
		return row{}, fmt.Errorf("%s:%d: %d columns, but the header has %d (check the separators and quotes on this line)",
			cr.t.path, line, len(cells), cr.cols)
	}
	return row{cells: cells, pos: int64(line)}, nil
}

// parseError names the file and line of a CSV syntax error.
func (cr *csvReader) parseError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if pe.StartLine != pe.Line {
			return fmt.Errorf("%s:%d: %w (in the row that starts on line %d)", cr.t.path, pe.Line, pe.Err, pe.StartLine)
		}
		return fmt.Errorf("%s:%d: %w", cr.t.path, pe.Line, pe.Err)
	}
	return fmt.Errorf("read %s: %w", cr.t.path, err)
}

// offset returns the bytes of the file (after a byte-order mark) read so far.
func (cr *csvReader) offset() int64 { return cr.r.InputOffset() }

// span returns where the row next returned last is in the file: its bytes,
// from start to end.
func (cr *csvReader) span() (start, end int64) { return cr.start, cr.end }

// csvWriter writes rows as CSV, with the file's separator and byte-order
// mark.
type csvWriter struct {
	t      *table
	w      *csv.Writer
	under  io.Writer // what w writes to
	record []string
}

// newCSVWriter writes the byte-order mark (when the file had one) and the
// header.
func (t *table) newCSVWriter(w io.Writer) (*csvWriter, error) {
	if t.bom {
		if _, err := w.Write(utf8BOM); err != nil {
			return nil, err
		}
	}
	cw := csv.NewWriter(w)
	cw.Comma = t.comma
	if err := cw.Write(t.columns); err != nil {
		return nil, err
	}
	return &csvWriter{t: t, w: cw, under: w, record: make([]string, len(t.columns))}, nil
}

func (cw *csvWriter) write(r row) error {
	clear(cw.record)
	copy(cw.record, r.cells)
	return cw.w.Write(cw.record)
}

func (cw *csvWriter) close() error {
	cw.w.Flush()
	return cw.w.Error()
}

// copy writes the bytes of src from start to end as they are: rows of a
// file this writer's encoding wrote.
func (cw *csvWriter) copy(src io.ReaderAt, start, end int64) error {
	cw.w.Flush() // the rows before first
	if err := cw.w.Error(); err != nil {
		return err
	}
	_, err := io.Copy(cw.under, io.NewSectionReader(src, start, end-start))
	return err
}
