package inventory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/usmhub/usmhub/core/ingest"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// ItemResult is what an item import did (or, dry, would do); its JSON is
// `usmhub item import -json` (docs/JSON.md).
type ItemResult struct {
	File      string   `json:"file"`
	Created   int      `json:"created"`
	Updated   int      `json:"updated"`
	Unchanged int      `json:"unchanged"`
	DryRun    bool     `json:"dry_run,omitempty"`
	Creates   []Create `json:"creates"`
	Changes   []Change `json:"changes"`
}

// ImportItems stores the rows of the item inventory read from path (with
// ingest.ReadItems) in one transaction, as actor (the CLI's user; the
// import's own audit actor is derived from it). A row without a key matches
// the item of that name, so importing the same file twice changes nothing.
// Items the file creates take the source "import:FILE" unless the row
// names one. A dry run rolls back and says what would change.
func ImportItems(ctx context.Context, st store.Store, path string, rows []*ingest.ItemRow, actor string, dryRun bool) (*ItemResult, error) {
	res := &ItemResult{File: path, DryRun: dryRun, Creates: []Create{}, Changes: []Change{}}
	source := "import:" + filepath.Base(path)
	err := st.Update(ctx, store.Actor{Name: ingest.ImportActor(path, actor)}, func(tx store.Tx) error {
		byName := map[string]string{}
		if err := tx.Items(store.ItemFilter{}, func(it model.Item) error {
			if _, dup := byName[it.Name]; !dup {
				byName[it.Name] = it.Key
			}
			return nil
		}); err != nil {
			return err
		}
		for _, row := range rows {
			if row.Item.Key == "" {
				row.Item.Key = byName[row.Item.Name]
			}
			if err := importItem(tx, row, source, res); err != nil {
				return fmt.Errorf("%s:%d: %w", path, row.Pos.Line, err)
			}
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, fmt.Errorf("nothing imported: %w", err)
	}
	return res, nil
}

// importItem applies one row: an item with the row's key (or, for a row
// without one, its name) takes the fields the row gives (the key stays); a
// row that matches none creates one. An item a sync keeps (its source a
// connector) is the register's: the file may fill fields, and the next sync
// brings the tool's values back.
func importItem(tx store.Tx, row *ingest.ItemRow, source string, res *ItemResult) error {
	in := row.Item
	if in.Source == "" {
		in.Source = source
	}
	if in.Key != "" {
		old, err := tx.Item(in.Key)
		switch {
		case err == nil:
			upd := old
			for _, f := range model.ItemFields {
				if f != "key" && row.Given[f] {
					upd.SetField(f, row.Item.Field(f))
				}
			}
			if !row.Given["source"] && old.Source == "" {
				upd.Source = source
			}
			if upd == old {
				res.Unchanged++
				return nil
			}
			for _, f := range model.ItemFields {
				if o, n := old.Field(f), upd.Field(f); o != n {
					res.Changes = append(res.Changes, Change{Line: row.Pos.Line, Key: old.Key,
						FieldChange: ingest.FieldChange{Field: f, Old: o, New: n}})
				}
			}
			res.Updated++
			return tx.UpdateItem(&upd)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	if err := tx.CreateItem(&in); err != nil {
		return err
	}
	res.Created++
	res.Creates = append(res.Creates, Create{Line: row.Pos.Line, Key: in.Key, Title: in.Name})
	return nil
}

// ReadItemFile reads the item inventory at path (ingest.ReadItems), every
// row checked before anything is stored; a bad row makes the error
// ingest.Errors naming every bad row.
func ReadItemFile(path string) ([]*ingest.ItemRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	rows, err := ingest.ReadItems(path, f)
	if err != nil {
		return nil, fmt.Errorf("nothing imported: %w", err)
	}
	return rows, nil
}
