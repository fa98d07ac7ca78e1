package ingest

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/usmhub/usmhub/core/model"
)

// ScanColumns are the columns of a scan result file; dimension and score are
// required.
var ScanColumns = []string{"dimension", "score", "respondents", "note"}

// scanTable is the shape of a scan's scores in a workbook (sheet "scans",
// or the first).
var scanTable = tableSpec{columns: ScanColumns, required: "dimension", noun: "scan"}

// ReadScanScores reads a scan's CSV (',' or ';' between cells) or .xlsx
// workbook (header row; columns dimension, score, and optionally
// respondents and note) into scores. Every bad row is reported, by line (or
// row) and column, in one Errors value.
func ReadScanScores(name string, r io.Reader) ([]model.ScanScore, error) {
	br := bufio.NewReader(r)
	if isXLSX(name, br) {
		return readXLSXScores(name, br)
	}
	cr, sep := newCSVReader(newTextReader(name, br))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file: the first line must be the header dimension,score", name)
	}
	if err != nil {
		return nil, named(name, err)
	}
	var errs Errors
	idx := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		line, col := cr.FieldPos(i)
		known := false
		for _, c := range ScanColumns {
			known = known || c == h
		}
		if !known {
			errs = append(errs, &RowError{File: name, Pos: Pos{line, col}, Column: h,
				Msg: "unknown column; the columns are " + strings.Join(ScanColumns, ", ") + separatorNote(sep, h)})
			continue
		}
		if _, dup := idx[h]; dup {
			errs = append(errs, &RowError{File: name, Pos: Pos{line, col}, Column: h, Msg: "column appears twice"})
		}
		idx[h] = i
	}
	for _, req := range []string{"dimension", "score"} {
		if _, ok := idx[req]; !ok {
			errs = append(errs, &RowError{File: name, Pos: Pos{1, 1}, Msg: "the header has no " + req + " column, which is required"})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var scores []model.ScanScore
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				errs = append(errs, &RowError{File: name, Pos: Pos{pe.Line, pe.Column}, Msg: pe.Err.Error()})
				break
			}
			return nil, named(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			errs = append(errs, &RowError{File: name, Pos: Pos{line, 1}, Msg: fmt.Sprintf("has %d field(s), the header has %d", len(rec), len(header))})
			continue
		}
		at := func(col string) (string, Pos) {
			i, ok := idx[col]
			if !ok {
				return "", Pos{}
			}
			l, c := cr.FieldPos(i)
			return strings.TrimSpace(rec[i]), Pos{l, c}
		}
		scores = append(scores, scoreOf(name, line, at, seen, &errs))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(scores) == 0 {
		return nil, fmt.Errorf("%s: no scores: add one row per dimension below the header", name)
	}
	return scores, nil
}

// scoreOf parses one row of scores; at gives a column's trimmed value and
// where it starts, seen the line each dimension was first scored on.
func scoreOf(name string, line int, at func(col string) (string, Pos), seen map[string]int, errs *Errors) model.ScanScore {
	var s model.ScanScore
	dim, pos := at("dimension")
	if dim == "" {
		*errs = append(*errs, &RowError{File: name, Pos: pos, Column: "dimension", Msg: "is required"})
	} else if first, dup := seen[dim]; dup {
		*errs = append(*errs, &RowError{File: name, Pos: pos, Column: "dimension", Msg: fmt.Sprintf("%q is already scored on line %d", dim, first)})
	} else {
		seen[dim] = line
	}
	s.Dimension = dim
	v, pos := at("score")
	if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		*errs = append(*errs, &RowError{File: name, Pos: pos, Column: "score", Msg: fmt.Sprintf("must be a number, not %q", v)})
	} else {
		s.Score = f
	}
	if v, pos := at("respondents"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			*errs = append(*errs, &RowError{File: name, Pos: pos, Column: "respondents", Msg: fmt.Sprintf("must be a whole number of 0 or more, not %q", v)})
		}
		s.Respondents = n
	}
	s.Note, _ = at("note")
	return s
}

// readXLSXScores reads the scores from a workbook through the inventories'
// sheet reader: cells as stored (a formula's saved value, never evaluated),
// positions as row and column numbers.
func readXLSXScores(name string, r io.Reader) ([]model.ScanScore, error) {
	t, err := newXLSXTable(name, r, scanTable)
	if err != nil {
		return nil, err
	}
	hasScore := false
	for _, h := range t.header {
		hasScore = hasScore || h == "score"
	}
	if !hasScore {
		return nil, Errors{&RowError{File: name, Pos: Pos{1, 1}, Msg: fmt.Sprintf("the header of sheet %q has no score column, which is required", t.sheet)}}
	}
	var (
		scores []model.ScanScore
		errs   Errors
	)
	seen := map[string]int{}
	for {
		row, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		errs = append(errs, row.errs...)
		at := func(col string) (string, Pos) {
			v, ok := row.values[col]
			if !ok {
				return "", Pos{}
			}
			return strings.TrimSpace(v), row.columnPos[col]
		}
		scores = append(scores, scoreOf(name, row.pos.Line, at, seen, &errs))
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	if len(scores) == 0 {
		return nil, fmt.Errorf("%s: sheet %q has no scores: add one row per dimension below the header", name, t.sheet)
	}
	return scores, nil
}
