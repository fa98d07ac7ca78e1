package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// A data file (risks, votes, scans) is a table: named columns and rows of
// text cells, kept in CSV, JSON or an Excel workbook (xlsx.go).
//
// CSV: the first row is the header; column names match case-insensitively,
// ignoring surrounding blanks, with spaces and dashes read as underscores
// ("Updated At" is updated_at). The separator is a comma, or a semicolon
// when the header has semicolons and no commas (as a spreadsheet in a Dutch
// or German locale saves it). A UTF-8 byte-order mark is allowed and kept.
//
// JSON: an array of objects, one per row. Strings, numbers (kept as
// written) and booleans are cell values; null is empty. Keys the connector
// does not know may hold any JSON value and are written back unchanged.
//
// Columns the connector does not know are kept, in place, when it rewrites
// a file, and so is the order of the rows: a spreadsheet stays the user's.

// table is the layout of one data file: its columns, in file order.
type table struct {
	path    string         // as opened: errors name it
	format  string         // formatCSV or formatJSON
	columns []string       // as written in the file
	index   map[string]int // canonical column name → position in columns
	comma   rune           // CSV separator
	bom     bool           // CSV starts with a UTF-8 byte-order mark
	sheet   string         // xlsx: the sheet of the rows
	// otherSheets counts the sheets of an xlsx workbook besides sheet.
	otherSheets int

	// fromFile marks, by position, the columns the file has; disc lists
	// them in the order the file showed them (CSV: its header; JSON: the
	// first row with each key), which may differ from their positions
	// when the connector added a column before a JSON row showed it.
	fromFile []bool
	disc     []int

	// cache of positions: for names (by identity of its first element),
	// valid while the table has n columns.
	cache struct {
		names []string
		n     int
		pos   []int
	}
}

// The data file formats.
const (
	formatCSV  = "csv"
	formatJSON = "json"
)

// row is one row of a table.
type row struct {
	cells []string // by column position; may be shorter than the columns
	// raw holds, by column position, JSON values of unknown columns that
	// are not strings; they are written back verbatim.
	raw map[int][]byte
	// pos locates the row for messages: the line (CSV) or the byte offset
	// of the object (JSON; see table.where).
	pos int64
}

// newTable returns an empty table with the given columns (the columns of
// a file that is not there yet, which it will have).
func newTable(path, format string, columns []string) *table {
	format = fileFormat(path, format)
	t := &table{path: path, format: format, index: map[string]int{}, comma: ','}
	for _, c := range columns {
		t.discover(t.addColumn(c))
	}
	return t
}

// underscores reads spaces and dashes in column names as underscores.
var underscores = strings.NewReplacer(" ", "_", "-", "_")

// canonicalColumn is how a column name is matched.
func canonicalColumn(name string) string {
	return underscores.Replace(strings.ToLower(strings.TrimSpace(name)))
}

// addColumn appends a column and returns its position.
func (t *table) addColumn(name string) int {
	t.columns = append(t.columns, name)
	t.fromFile = append(t.fromFile, false)
	i := len(t.columns) - 1
	if c := canonicalColumn(name); c != "" {
		if _, dup := t.index[c]; !dup {
			t.index[c] = i
		}
	}
	return i
}

// discover records that the file has column i.
func (t *table) discover(i int) {
	if !t.fromFile[i] {
		t.fromFile[i] = true
		t.disc = append(t.disc, i)
	}
}

// fileColumns returns the columns the file has, in the order it showed
// them.
func (t *table) fileColumns() []string {
	cols := make([]string, len(t.disc))
	for k, i := range t.disc {
		cols[k] = t.columns[i]
	}
	return cols
}

// col returns the position of a column by canonical name, -1 when absent.
func (t *table) col(name string) int {
	if i, ok := t.index[name]; ok {
		return i
	}
	return -1
}

// positions returns the position of each column in names (-1 when
// absent). The slice is shared: do not change it. It is cached for one
// list of names at a time, until a column is added.
func (t *table) positions(names []string) []int {
	c := &t.cache
	if len(c.names) == len(names) && len(names) > 0 && &c.names[0] == &names[0] && c.n == len(t.columns) {
		return c.pos
	}
	pos := make([]int, len(names))
	for i, name := range names {
		pos[i] = t.col(name)
	}
	c.names, c.n, c.pos = names, len(t.columns), pos
	return pos
}

// get returns the cell of a column (by canonical name), "" when absent.
func (t *table) get(r row, name string) string {
	if i, ok := t.index[name]; ok && i < len(r.cells) {
		return r.cells[i]
	}
	return ""
}

// set sets the cell of a column (by canonical name), adding the column
// when the table lacks it.
func (t *table) set(r *row, name, value string) {
	i, ok := t.index[name]
	if !ok {
		i = t.addColumn(name)
	}
	for len(r.cells) <= i {
		r.cells = append(r.cells, "")
	}
	r.cells[i] = value
	delete(r.raw, i) // the JSON value as read is no longer the cell's
}

// rowReader streams the rows of a data file.
type rowReader interface {
	// next returns the next row, io.EOF after the last. The row's cells
	// are valid until the next call.
	next() (row, error)
	// offset returns how many bytes of the file were read so far (an
	// estimate of the share of the file the rows took).
	offset() int64
}

// openFile opens a data file to read (tests count the calls).
var openFile = os.Open

// openTable opens the data file at path and reads its header: it returns
// the table, a reader of its rows and the open file (close it), or an
// error wrapping fs.ErrNotExist when there is no file in a folder that is
// there (see source.go: a file whose folder is missing, or a dangling link,
// is another error).
func openTable(path, format string) (*table, rowReader, *os.File, error) {
	f, err := openFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if missing := absent(path); missing != nil {
			return nil, nil, nil, missing
		}
	}
	if err != nil {
		return nil, nil, nil, unreadable(err)
	}
	t, rr, err := readTable(f, path, format)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	return t, rr, f, nil
}

// readTable reads the header of a data file from r.
func readTable(r io.Reader, path, format string) (*table, rowReader, error) {
	format = fileFormat(path, format)
	t := &table{path: path, format: format, index: map[string]int{}, comma: ','}
	br := bufio.NewReaderSize(r, 64<<10)
	switch format {
	case formatJSON:
		rr, err := newJSONReader(t, br)
		return t, rr, err
	case formatXLSX:
		rr, err := newXLSXReader(t, br)
		return t, rr, err
	default:
		rr, err := newCSVReader(t, br)
		return t, rr, err
	}
}

// where names a row's place in its file for messages: path:line.
func (t *table) where(r row) string {
	if t.format != formatJSON {
		return fmt.Sprintf("%s:%d", t.path, r.pos)
	}
	return fmt.Sprintf("%s:%d", t.path, lineAt(t.path, r.pos))
}

// lineAt returns the line of the first byte at or after offset off in the
// file at path that is not a blank or a comma (a JSON row starts there); 1
// when the file cannot be read: the message still names the file.
func lineAt(path string, off int64) int {
	f, err := os.Open(path)
	if err != nil {
		return 1
	}
	defer f.Close()
	br := bufio.NewReader(f)
	line := 1
	for n := int64(0); ; n++ {
		b, err := br.ReadByte()
		if err != nil {
			return line
		}
		// Up to off, and then past the blanks and comma before the row.
		if n >= off && b != ' ' && b != '\t' && b != '\r' && b != '\n' && b != ',' {
			return line
		}
		if b == '\n' {
			line++
		}
	}
}

// rowWriter writes a data file row by row, in its format: the header
// first (newRowWriter), then each row, then close.
type rowWriter struct {
	t     *table
	cols  int // the columns the header has
	stale bool
	w     interface {
		write(row) error
		close() error
	}

	// Rows copied as they are (CSV): the bytes of src from rawStart to
	// rawEnd wait to be copied, so that neighbours go in one copy.
	src              io.ReaderAt
	rawStart, rawEnd int64
}

// newRowWriter writes the table's header to w.
func (t *table) newRowWriter(w io.Writer) (*rowWriter, error) {
	rw := &rowWriter{t: t, cols: len(t.columns)}
	if t.format == formatJSON {
		rw.w = t.newJSONWriter(w)
		return rw, nil
	}
	if t.format == formatXLSX {
		xw, err := t.newXLSXWriter(w)
		if err != nil {
			return nil, err
		}
		rw.w = xw
		return rw, nil
	}
	cw, err := t.newCSVWriter(w)
	if err != nil {
		return nil, err
	}
	rw.w = cw
	return rw, nil
}

// write writes a row. Once a CSV table has a column its header has not,
// it writes nothing more and reports stale: the file must be written again.
// (A JSON file has no header: a row has the keys of its cells.)
func (rw *rowWriter) write(r row) error {
	if rw.stale = rw.stale || (rw.t.format != formatJSON && len(rw.t.columns) != rw.cols); rw.stale {
		return nil
	}
	if err := rw.flushRaw(); err != nil {
		return err
	}
	return rw.w.write(r)
}

// copyRaw writes a row of a CSV file as it is there: the bytes of src
// from start to end. The caller knows that writing the row would give the
// same bytes (the connector wrote the file, and the row and the header
// have not changed).
func (rw *rowWriter) copyRaw(src io.ReaderAt, start, end int64) error {
	if rw.stale = rw.stale || len(rw.t.columns) != rw.cols; rw.stale {
		return nil
	}
	if rw.src == src && rw.rawEnd == start && rw.rawEnd > rw.rawStart {
		rw.rawEnd = end // the next row: one copy
		return nil
	}
	if err := rw.flushRaw(); err != nil {
		return err
	}
	rw.src, rw.rawStart, rw.rawEnd = src, start, end
	return nil
}

// flushRaw copies the rows waiting to be copied.
func (rw *rowWriter) flushRaw() error {
	if rw.rawEnd <= rw.rawStart {
		return nil
	}
	cw, ok := rw.w.(*csvWriter)
	if !ok {
		return fmt.Errorf("write %s: rows of a %s file cannot be copied as they are", rw.t.path, rw.t.format)
	}
	start, end := rw.rawStart, rw.rawEnd
	rw.rawStart, rw.rawEnd = 0, 0
	if err := cw.copy(rw.src, start, end); err != nil {
		return fmt.Errorf("copy rows of %s: %w", rw.t.path, err)
	}
	return nil
}

// close ends the file (it does not close w).
func (rw *rowWriter) close() error {
	if err := rw.flushRaw(); err != nil {
		return err
	}
	return rw.w.close()
}

// encode writes the table's header and rows in its format.
func (t *table) encode(w io.Writer, rows []row) error {
	rw, err := t.newRowWriter(w)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := rw.write(r); err != nil {
			return err
		}
	}
	if rw.stale {
		return fmt.Errorf("write %s: a column was added while writing", t.path)
	}
	return rw.close()
}
