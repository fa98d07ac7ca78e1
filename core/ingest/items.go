package ingest

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/usmhub/usmhub/core/model"
)

// ItemColumns are the columns an item inventory (the BIR as CSV or JSON)
// may have, in export order.
var ItemColumns = model.ItemFields

// itemTable is the shape of an item inventory.
var itemTable = tableSpec{columns: ItemColumns, required: "name", noun: "item"}

// ItemRow is one parsed row of an item inventory.
type ItemRow struct {
	// Pos is where the row starts; ColumnPos where each given column starts.
	Pos       Pos
	ColumnPos map[string]Pos
	// Item holds the row's values, with defaults filled in for columns not
	// given (Given tells which were).
	Item  model.Item
	Given map[string]bool
}

// Err builds a RowError on a column of this row.
func (r *ItemRow) Err(file, column, msg string) *RowError {
	pos, ok := r.ColumnPos[column]
	if !ok {
		pos = r.Pos
	}
	return &RowError{File: file, Pos: pos, Column: column, Msg: msg}
}

// ItemReader reads an item inventory row by row, with the rules of
// RiskReader: io.EOF at the end, a *RowError or Errors for a bad row
// (reading may go on), any other error is fatal for the input.
type ItemReader interface {
	Next() (*ItemRow, error)
}

// NewItemReader returns a reader for a CSV or JSON item inventory (the
// format as NewRiskReader finds it). name is required; status defaults to
// in_use; an empty key leaves the key to the store (the next CI-n).
func NewItemReader(name string, r io.Reader) (ItemReader, error) {
	t, err := newTable(name, r, itemTable)
	if err != nil {
		return nil, err
	}
	return &itemReader{t: t}, nil
}

type itemReader struct{ t rowSource }

func (ir *itemReader) Next() (*ItemRow, error) {
	raw, err := ir.t.next()
	if raw == nil {
		return nil, err
	}
	row := &ItemRow{Pos: raw.pos, ColumnPos: raw.columnPos, Given: map[string]bool{}}
	return row, raw.finish(fillItem(raw.file, row, raw.values))
}

// fillItem parses the row's values into row.Item, applying defaults and
// validating; every problem becomes a RowError on its column.
func fillItem(file string, row *ItemRow, values map[string]string) error {
	var errs Errors
	it := &row.Item
	it.Status = model.DefaultItemStatus
	for col, raw := range values {
		if strings.TrimSpace(raw) == "" && col != "name" {
			continue // an empty cell means: not given
		}
		row.Given[col] = true
		it.SetField(col, raw)
	}
	if err := it.Validate(); err != nil {
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

// ReadItems reads a whole item inventory, all or nothing: the rows, or
// every problem of every bad row (Errors, sorted by position), including a
// key given twice.
func ReadItems(name string, r io.Reader) ([]*ItemRow, error) {
	ir, err := NewItemReader(name, r)
	if err != nil {
		return nil, err
	}
	var (
		rows []*ItemRow
		errs Errors
	)
	keys := map[string]Pos{}
	for {
		row, err := ir.Next()
		if err == io.EOF {
			break
		}
		var re *RowError
		var res Errors
		switch {
		case errors.As(err, &res):
			errs = append(errs, res...)
			continue
		case errors.As(err, &re):
			errs = append(errs, re)
			continue
		case err != nil:
			return nil, err
		}
		if k := row.Item.Key; k != "" {
			if first, dup := keys[k]; dup {
				errs = append(errs, row.Err(name, "key", fmt.Sprintf("key %s is given twice (first on line %d)", k, first.Line)))
				continue
			}
			keys[k] = row.Pos
		}
		rows = append(rows, row)
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return rows, nil
}
