package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/usmhub/usmhub/core/ingest"
	"github.com/usmhub/usmhub/core/meter"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// RiskResult is what a risk import did (or, in a dry run, would do); its
// JSON is `usmhub risk import -json` (docs/JSON.md).
type RiskResult struct {
	File      string `json:"file"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	// Kept counts the rows of which at least one field kept the hub's value.
	Kept   int  `json:"kept"`
	DryRun bool `json:"dry_run,omitempty"`
	Force  bool `json:"force,omitempty"`
	// Creates lists the risks created, Changes every field changed.
	Creates []Create `json:"creates"`
	Changes []Change `json:"changes"`
	// KeptFields lists every field where a row differs from the hub and
	// the hub's value stayed, with the reason and who set it last.
	KeptFields []Kept `json:"kept_fields"`
	// MatchedByTitle lists the rows without a key matched by their title.
	MatchedByTitle []TitleMatch `json:"matched_by_title"`
}

// RiskOptions say how to import a risk inventory.
type RiskOptions struct {
	// Initiative is the key of the initiative the rows belong to.
	Initiative string
	// Actor names who imports (the CLI's user); the import's own audit
	// actor is derived from it and the file's name.
	Actor string
	// DryRun rolls everything back: the result says what would change.
	DryRun bool
	// Force overwrites fields changed since the last import and fields of
	// risks never imported; a status still never moves backwards.
	Force bool
	// Progress, when set, is called before each row with the rows read so
	// far and the share of the file read (0–1).
	Progress func(rows int, fraction float64)
}

// ImportRisks imports the risk inventory in f (named path: CSV with a header
// row, or a JSON array; .xlsx by its name) into st in one transaction: all
// of it, or — when a row is bad — nothing, and then the error is
// ingest.Errors naming every bad row. The import's changes are recorded
// under an actor of their own (ingest.ImportActor), so that the next import
// tells them from everybody else's.
func ImportRisks(ctx context.Context, st store.Store, path string, f *os.File, opts RiskOptions) (*RiskResult, error) {
	res := &RiskResult{File: path, DryRun: opts.DryRun, Force: opts.Force, Creates: []Create{},
		Changes: []Change{}, KeptFields: []Kept{}, MatchedByTitle: []TitleMatch{}}
	actor := store.Actor{Name: ingest.ImportActor(path, opts.Actor)}
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	counted := meter.NewReader(f, size)
	var tick func(rows int)
	if opts.Progress != nil {
		tick = func(rows int) { opts.Progress(rows, counted.Fraction()) }
	}
	err := st.Update(ctx, actor, func(tx store.Tx) error {
		if err := importRisks(tx, opts.Initiative, path, counted, opts.Force, res, tick); err != nil {
			return err
		}
		if opts.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		var rowErrs ingest.Errors
		if errors.As(err, &rowErrs) {
			return nil, rowErrs
		}
		return nil, fmt.Errorf("nothing imported: %w", err)
	}
	return res, nil
}

// importRisks applies every row of an inventory in tx, matching existing
// risks by key when given, else by title within the initiative. A matched
// risk takes the row's fields as ingest.PlanRow decides from its audit
// trail: never a status backwards, and a field changed since the last
// import (or of a risk never imported) only with force. Any bad row makes it
// return ingest.Errors listing all of them (the caller rolls back).
func importRisks(tx store.Tx, initiative, name string, r io.Reader, force bool, res *RiskResult, tick func(rows int)) error {
	rd, err := ingest.NewRiskReader(name, r)
	if err != nil {
		return err
	}
	var errs ingest.Errors
	seenKey := map[string]int{}
	seenTitle := map[string]int{}
	for rows := 0; ; rows++ {
		if tick != nil {
			tick(rows)
		}
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		var one *ingest.RowError
		var many ingest.Errors
		switch {
		case errors.As(err, &many):
			errs = append(errs, many...)
			continue
		case errors.As(err, &one):
			errs = append(errs, one)
			continue
		case err != nil:
			return err
		}
		in := row.Risk
		if in.Key != "" {
			if l, dup := seenKey[in.Key]; dup {
				errs = append(errs, row.Err(name, "key", fmt.Sprintf("%s is already on line %d", in.Key, l)))
				continue
			}
			seenKey[in.Key] = row.Pos.Line
		}
		tkey := strings.ToLower(in.Title)
		if l, dup := seenTitle[tkey]; dup && in.Key == "" {
			errs = append(errs, row.Err(name, "title", fmt.Sprintf("%q is already on line %d; give the rows keys to import both", in.Title, l)))
			continue
		}
		seenTitle[tkey] = row.Pos.Line
		line := row.Pos.Line
		existing, err := match(tx, initiative, in)
		switch {
		case errors.Is(err, store.ErrNotFound):
			in.Initiative = initiative
			if err := tx.CreateRisk(&in); err != nil {
				errs = append(errs, row.Err(name, "", err.Error()))
				continue
			}
			res.Created++
			res.Creates = append(res.Creates, Create{Line: line, Key: in.Key, Title: in.Title})
		case err != nil:
			errs = append(errs, row.Err(name, "key", err.Error()))
		default:
			if in.Key == "" {
				res.MatchedByTitle = append(res.MatchedByTitle, TitleMatch{Line: line, Key: existing.Key, Title: existing.Title})
			}
			var h ingest.History
			if err := tx.Audit(store.AuditFilter{EntityID: existing.ID}, func(a model.AuditEntry) error {
				h.Add(a)
				return nil
			}); err != nil {
				return fmt.Errorf("%s:%d: read the history of %s: %w", name, line, existing.Key, err)
			}
			plan := ingest.PlanRow(existing, row, h, force)
			for _, k := range plan.Kept {
				res.KeptFields = append(res.KeptFields, keptOf(line, existing.Key, k))
			}
			if len(plan.Kept) > 0 {
				res.Kept++
			}
			if len(plan.Changes) == 0 {
				res.Unchanged++
				continue
			}
			if err := tx.UpdateRisk(&plan.Risk); err != nil {
				col := ""
				if errors.Is(err, model.ErrTransition) {
					col = "status"
				}
				errs = append(errs, row.Err(name, col, fmt.Sprintf("%s: %v", existing.Key, err)))
				continue
			}
			res.Updated++
			for _, c := range plan.Changes {
				res.Changes = append(res.Changes, Change{Line: line, Key: existing.Key, FieldChange: c})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// match finds the stored risk a row refers to.
func match(tx store.Tx, initiative string, in model.Risk) (model.Risk, error) {
	if in.Key != "" {
		r, err := tx.Risk(in.Key)
		if err == nil && r.Initiative != initiative {
			return r, fmt.Errorf("%s belongs to initiative %q, not %q", in.Key, r.Initiative, initiative)
		}
		return r, err
	}
	return tx.RiskByTitle(initiative, in.Title)
}
