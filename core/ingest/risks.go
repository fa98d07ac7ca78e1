// Package ingest reads what people write by hand — risk inventories as CSV
// or JSON, scan results as CSV — into core/model values, naming every bad
// row by its line and column.
//
// It parses and validates; it never stores. Callers decide what a row means
// for the store (create or update) inside their own transaction; PlanRow
// tells them which of a row's fields may change a stored risk, given the
// risk's audit trail.
package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/usmhub/usmhub/core/model"
)

// RiskColumns are the columns a risk inventory may have, in export order.
var RiskColumns = []string{"key", "title", "description", "kind", "process", "source",
	"likelihood", "impact", "effort", "owner", "status"}

// Defaults for columns a row leaves out: core/model's (model.NewRisk).
const (
	DefaultKind       = model.DefaultKind
	DefaultLikelihood = model.DefaultLikelihood
	DefaultImpact     = model.DefaultImpact
	DefaultEffort     = model.DefaultEffort
	DefaultStatus     = model.DefaultStatus
)

// Pos is a position in an input file (1-based).
type Pos struct {
	Line, Col int
}

// RowError is one problem of one row, at a position.
type RowError struct {
	File   string
	Pos    Pos
	Column string // the column or JSON field, "" for the whole row
	Msg    string
}

func (e *RowError) Error() string {
	where := fmt.Sprintf("%s:%d,%d", e.File, e.Pos.Line, e.Pos.Col)
	if e.Column != "" {
		return fmt.Sprintf("%s: %s: %s", where, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s: %s", where, e.Msg)
}

// Errors is a list of row errors; it is returned whole, so a user fixes every
// bad row in one go.
type Errors []*RowError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// RiskRow is one parsed row of a risk inventory.
type RiskRow struct {
	// Pos is where the row starts; ColumnPos where each given column starts.
	Pos       Pos
	ColumnPos map[string]Pos
	// Risk holds the row's values, with defaults filled in for columns not
	// given (Given tells which were).
	Risk  model.Risk
	Given map[string]bool
}

// Err builds a RowError on a column of this row.
func (r *RiskRow) Err(file, column, msg string) *RowError {
	pos, ok := r.ColumnPos[column]
	if !ok {
		pos = r.Pos
	}
	return &RowError{File: file, Pos: pos, Column: column, Msg: msg}
}

// RiskReader reads a risk inventory row by row. Next returns io.EOF at the
// end; a *RowError for a bad row (reading may go on); any other error is
// fatal for the input.
type RiskReader interface {
	Next() (*RiskRow, error)
}

// NewRiskReader returns a reader for a CSV or JSON inventory; the format is
// taken from the name's extension (.json is JSON) or, failing that, from the
// content: JSON when its first character (after a byte-order mark and white
// space) is '['.
func NewRiskReader(name string, r io.Reader) (RiskReader, error) {
	t, err := newTable(name, r, riskTable)
	if err != nil {
		return nil, err
	}
	return &riskReader{t: t}, nil
}

// riskTable is the shape of a risk inventory.
var riskTable = tableSpec{columns: RiskColumns, required: "title", noun: "risk"}

// riskReader turns a table's rows into risks.
type riskReader struct{ t rowSource }

func (rr *riskReader) Next() (*RiskRow, error) {
	raw, err := rr.t.next()
	if raw == nil {
		return nil, err
	}
	row := &RiskRow{Pos: raw.pos, ColumnPos: raw.columnPos, Given: map[string]bool{}}
	return row, raw.finish(fill(raw.file, row, raw.values))
}

// tableSpec is the shape of an inventory: its columns (export order), the
// one every row needs, and what a row is called in messages.
type tableSpec struct {
	columns  []string
	required string
	noun     string
}

func (t tableSpec) known(col string) bool {
	for _, c := range t.columns {
		if c == col {
			return true
		}
	}
	return false
}

// rawRow is one row of an inventory as text: the values of the columns
// given, where each starts, and the problems found reading it (JSON).
type rawRow struct {
	file      string
	pos       Pos
	columnPos map[string]Pos
	values    map[string]string
	errs      Errors
}

// finish joins the problems found reading the row with those of filling
// it (an Errors, or nil), sorted by position.
func (r *rawRow) finish(fillErr error) error {
	errs := append(Errors(nil), r.errs...)
	if fillErr != nil {
		var more Errors
		if errors.As(fillErr, &more) {
			errs = append(errs, more...)
		} else {
			return fillErr
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sortErrors(errs)
	return errs
}

// rowSource reads an inventory row by row: next returns io.EOF at the end,
// a row with a *RowError for a bad row (reading may go on; the row may be
// nil when nothing of it could be read), any other error is fatal.
type rowSource interface {
	next() (*rawRow, error)
}

// newTable opens a CSV or JSON inventory of the given shape; the format is
// taken from the name's extension or the content (see NewRiskReader).
func newTable(name string, r io.Reader, spec tableSpec) (rowSource, error) {
	br := bufio.NewReader(r)
	if isXLSX(name, br) {
		return newXLSXTable(name, br, spec)
	}
	br = bufio.NewReader(newTextReader(name, br)) // text from here on: checked as it is read
	if isJSON(name, br) {
		return newJSONRisks(name, br, spec)
	}
	return newCSVRisks(name, br, spec)
}

// isJSON sniffs the format without consuming anything.
func isJSON(name string, br *bufio.Reader) bool {
	if strings.HasSuffix(strings.ToLower(name), ".json") {
		return true
	}
	for n := 1; n <= 4096; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			return false
		}
		c := b[n-1]
		switch {
		case n <= 3 && bytes.HasPrefix([]byte(bom), b):
			continue // inside a byte-order mark
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		}
		_ = err
		return c == '['
	}
	return false
}

const bom = "\ufeff"

type csvRisks struct {
	name   string
	spec   tableSpec
	r      *csv.Reader
	header []string
}

func newCSVRisks(name string, r io.Reader, spec tableSpec) (*csvRisks, error) {
	cr, sep := newCSVReader(r)
	cr.FieldsPerRecord = -1 // we report wrong counts ourselves, by line
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file: the first line must be a header naming the columns (%s is required)", name, spec.required)
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{{File: name, Pos: Pos{pe.Line, pe.Column}, Msg: pe.Err.Error()}}
		}
		return nil, named(name, err)
	}
	var errs Errors
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, bom)))
		header[i] = h
		line, col := cr.FieldPos(i)
		pos := Pos{line, col}
		switch {
		case !spec.known(h):
			errs = append(errs, &RowError{File: name, Pos: pos, Column: h,
				Msg: fmt.Sprintf("unknown column; the columns are %s%s", strings.Join(spec.columns, ", "), separatorNote(sep, h))})
		case seen[h]:
			errs = append(errs, &RowError{File: name, Pos: pos, Column: h, Msg: "column appears twice"})
		}
		seen[h] = true
	}
	if !seen[spec.required] {
		line, _ := cr.FieldPos(0)
		errs = append(errs, &RowError{File: name, Pos: Pos{line, 1}, Msg: fmt.Sprintf("the header has no %s column, which is required", spec.required)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &csvRisks{name: name, spec: spec, r: cr, header: header}, nil
}

func (c *csvRisks) next() (*rawRow, error) {
	for {
		rec, err := c.r.Read()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &RowError{File: c.name, Pos: Pos{pe.Line, pe.Column}, Msg: pe.Err.Error()}
			}
			return nil, named(c.name, err)
		}
		line, _ := c.r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(c.header) {
			return nil, &RowError{File: c.name, Pos: Pos{line, 1},
				Msg: fmt.Sprintf("has %d field(s), the header has %d", len(rec), len(c.header))}
		}
		row := &rawRow{file: c.name, pos: Pos{line, 1}, columnPos: map[string]Pos{}, values: map[string]string{}}
		for i, h := range c.header {
			l, col := c.r.FieldPos(i)
			row.columnPos[h] = Pos{l, col}
			row.values[h] = RestoreFormula(rec[i]) // what an export neutralised
		}
		return row, nil
	}
}

// jsonRisks reads a JSON array of objects. The whole file is checked first,
// so a syntax error anywhere (a cut-off file, data after the array) ends
// the input with one error at its position, and positions are counted from
// the start of the file.
type jsonRisks struct {
	name string
	spec tableSpec
	data []byte
	idx  *lineIndex
	dec  *json.Decoder
	done bool
}

func newJSONRisks(name string, r io.Reader, spec tableSpec) (*jsonRisks, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, named(name, err)
	}
	data = bytes.TrimPrefix(data, []byte(bom))
	j := &jsonRisks{name: name, spec: spec, data: data, idx: newLineIndex(data)}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty file: a JSON inventory is an array of objects, e.g. [{\"%s\": \"…\"}]", name, spec.required)
	}
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off := int(se.Offset) - 1 // Offset is just after the bad byte
			if off < 0 || strings.Contains(se.Error(), "unexpected end") {
				off = int(se.Offset)
			}
			return nil, Errors{{File: name, Pos: j.idx.pos(off), Msg: se.Error()}}
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	start := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
	if _, ok := probe.([]any); !ok {
		return nil, Errors{{File: name, Pos: j.idx.pos(start), Msg: "a JSON inventory must be an array of objects"}}
	}
	j.dec = json.NewDecoder(bytes.NewReader(data))
	j.dec.UseNumber()
	if _, err := j.dec.Token(); err != nil { // the '['
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return j, nil
}

func (j *jsonRisks) next() (*rawRow, error) {
	if j.done || !j.dec.More() {
		return nil, io.EOF
	}
	start := int(j.dec.InputOffset())
	for start < len(j.data) && strings.ContainsRune(", \t\r\n", rune(j.data[start])) {
		start++
	}
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil { // cannot happen: the file is valid
		j.done = true
		return nil, fmt.Errorf("%s: %w", j.name, err)
	}
	row := &rawRow{file: j.name, pos: j.idx.pos(start), columnPos: map[string]Pos{}, values: map[string]string{}}
	if raw[0] != '{' {
		return nil, &RowError{File: j.name, Pos: row.pos, Msg: fmt.Sprintf("each element must be an object with the %s's fields, not %s", j.spec.noun, jsonKind(raw))}
	}
	fields, err := objectFields(raw)
	if err != nil {
		j.done = true
		return nil, fmt.Errorf("%s: %w", j.name, err)
	}
	at := func(f jsonField) Pos { return j.idx.pos(start + f.off) }
	for _, f := range fields {
		col := strings.ToLower(f.name)
		if _, dup := row.columnPos[col]; dup {
			row.errs = append(row.errs, &RowError{File: j.name, Pos: at(f), Column: f.name, Msg: "field appears twice"})
			continue
		}
		row.columnPos[col] = at(f)
		if !j.spec.known(col) {
			row.errs = append(row.errs, &RowError{File: j.name, Pos: at(f), Column: f.name,
				Msg: fmt.Sprintf("unknown field; the fields are %s", strings.Join(j.spec.columns, ", "))})
			continue
		}
		v, err := scalar(f.value)
		if err == nil && strings.ContainsRune(v, 0) {
			row.values[col] = v // the row is refused, and no "is required" besides
			err = errors.New(`holds a NUL character (\u0000), which text may not contain`)
		}
		if err != nil {
			row.errs = append(row.errs, &RowError{File: j.name, Pos: at(f), Column: col, Msg: err.Error()})
			continue
		}
		row.values[col] = v
	}
	return row, nil
}

// jsonField is one field of an object, with the offset of its key.
type jsonField struct {
	name  string
	value json.RawMessage
	off   int
}

// objectFields lists an object's fields in order, duplicates included.
func objectFields(obj []byte) ([]jsonField, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out []jsonField
	for dec.More() {
		off := int(dec.InputOffset())
		for off < len(obj) && strings.ContainsRune(", \t\r\n", rune(obj[off])) {
			off++
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, jsonField{name: name, value: v, off: off})
	}
	return out, nil
}

// jsonKind names the kind of a JSON value for messages.
func jsonKind(raw []byte) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func scalar(raw json.RawMessage) (string, error) {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case 'n':
		return "", nil
	case '{', '[', 't', 'f':
		return "", fmt.Errorf("must be a string or number, not %s", jsonKind(raw))
	}
	return string(raw), nil // a number, as written
}

// fill parses the row's string values into row.Risk, applying defaults and
// validating; every problem becomes a RowError on its column.
func fill(file string, row *RiskRow, values map[string]string) error {
	var errs Errors
	r := &row.Risk
	r.Kind, r.Likelihood, r.Impact, r.Effort, r.Status = DefaultKind, DefaultLikelihood, DefaultImpact, DefaultEffort, DefaultStatus
	for col, raw := range values {
		v := strings.TrimSpace(raw)
		if v == "" && col != "title" {
			continue // an empty cell means: not given
		}
		row.Given[col] = true
		switch col {
		case "key":
			if !ValidKey(v) {
				errs = append(errs, row.Err(file, col, fmt.Sprintf("%q is not a valid key: use letters, digits, '-', '_' or '.' (like R-12)", v)))
			}
			r.Key = v
		default:
			if _, err := r.SetField(col, raw); err != nil {
				var fe *model.FieldError
				msg := err.Error()
				if errors.As(err, &fe) {
					msg = fe.Msg
				}
				errs = append(errs, row.Err(file, col, msg))
				row.Given[col] = false // the default stays: validation of the others goes on
			}
		}
	}
	if err := r.Validate(); err != nil {
		for _, e := range unjoin(err) {
			var fe *model.FieldError
			if errors.As(e, &fe) {
				errs = append(errs, row.Err(file, fe.Field, fe.Msg))
			} else {
				errs = append(errs, row.Err(file, "", e.Error()))
			}
		}
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return errs
	}
	return nil
}

// named gives a fatal read error the file's name, unless it has it (an
// *EncodingError names its file and position).
func named(name string, err error) error {
	var ee *EncodingError
	if errors.As(err, &ee) {
		return ee
	}
	return fmt.Errorf("%s: %w", name, err)
}

func sortErrors(errs Errors) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].Pos, errs[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ValidKey reports whether s is usable as a risk's or an item's human key
// (model.ValidKey: the rule lives in the model).
func ValidKey(s string) bool { return model.ValidKey(s) }

// lineIndex maps byte offsets to line and column.
type lineIndex struct{ starts []int }

func newLineIndex(data []byte) *lineIndex {
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return &lineIndex{starts: starts}
}

func (l *lineIndex) pos(off int) Pos {
	i := sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	return Pos{Line: i + 1, Col: off - l.starts[i] + 1}
}
