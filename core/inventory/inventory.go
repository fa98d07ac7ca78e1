// Package inventory moves the hub's inventories — the risk database and the
// configuration items of the BIR — between the store and the files people
// edit (CSV, JSON, .xlsx): imports all or nothing, exports that import back.
//
// It is the application layer of `usmhub risk import|export` and `usmhub
// item import|export`: core/ingest parses and checks the rows, this package
// decides what each row means for the store (create, update, keep) inside
// one transaction, and writes exports whole or not at all. It may touch
// core/store, core/model, core/ingest and core/meter; it knows nothing of
// the CLI's flags or output, of HCL or of connectors.
package inventory

import (
	"errors"
	"time"

	"github.com/usmhub/usmhub/core/ingest"
)

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// Create is a record an import created (or, dry, would create).
type Create struct {
	Line  int    `json:"line"`
	Key   string `json:"key"`
	Title string `json:"title"`
}

// Change is one field an import changed (or, dry, would change).
type Change struct {
	Line int    `json:"line"`
	Key  string `json:"key"`
	ingest.FieldChange
}

// Kept is a field where a row differs from the hub and the hub's value
// stayed, with the reason and who set it last.
type Kept struct {
	Line      int               `json:"line"`
	Key       string            `json:"key"`
	Field     string            `json:"field"`
	Hub       string            `json:"hub"`
	File      string            `json:"file"`
	Reason    ingest.KeepReason `json:"reason"`
	ChangedBy string            `json:"changed_by,omitempty"`
	RunID     string            `json:"run_id,omitempty"`
	ChangedAt *time.Time        `json:"changed_at,omitempty"`
	Message   string            `json:"message"`
}

// TitleMatch is a row without a key that matched a risk by its title.
type TitleMatch struct {
	Line  int    `json:"line"`
	Key   string `json:"key"`
	Title string `json:"title"`
}

// keptOf is a kept field as the result reports it.
func keptOf(line int, key string, k ingest.KeptField) Kept {
	out := Kept{Line: line, Key: key, Field: k.Field, Hub: k.Hub, File: k.File, Reason: k.Reason,
		ChangedBy: k.By.Actor, RunID: k.By.RunID, Message: k.Why()}
	if !k.By.At.IsZero() {
		at := k.By.At
		out.ChangedAt = &at
	}
	return out
}
