package ingest

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/usmhub/usmhub/core/model"
)

// ImportActorPrefix starts the audit actor of every inventory import, which
// tells the changes an import made from those of a sync run, a person or a
// sprint.
const ImportActorPrefix = "import:"

// ImportActor is the audit actor of an import of file started by who (the
// CLI's actor, such as "cli:alice"): "import:risks.csv (cli:alice)".
func ImportActor(file, who string) string {
	name := ImportActorPrefix + filepath.Base(file)
	if who != "" {
		name += " (" + who + ")"
	}
	return name
}

// IsImportActor reports whether an audit actor is an inventory import's.
func IsImportActor(actor string) bool { return strings.HasPrefix(actor, ImportActorPrefix) }

// importFields are the fields an inventory row may change on a stored risk,
// in export order, named as in the audit trail.
var importFields = []string{"title", "description", "kind", "process", "source",
	"likelihood", "impact", "effort", "owner", "status"}

// History is what the audit trail says about one stored risk: the entry of
// its creation and the last recorded change of each field. Feed it the
// risk's entries oldest first with Add.
type History struct {
	Created *model.AuditEntry
	Last    map[string]model.AuditEntry
}

// Add takes one audit entry of the risk into account. Entries that are no
// field change (conflict records, …) are ignored.
func (h *History) Add(e model.AuditEntry) {
	if e.Field == "created" {
		h.Created = &e
		return
	}
	for _, f := range importFields {
		if e.Field == f {
			if h.Last == nil {
				h.Last = map[string]model.AuditEntry{}
			}
			h.Last[f] = e
			return
		}
	}
}

// lastChange returns the entry that gave a field its current value: its
// last recorded change, else the risk's creation; ok is false when the
// trail knows neither.
func (h *History) lastChange(field string) (model.AuditEntry, bool) {
	if e, ok := h.Last[field]; ok {
		return e, true
	}
	if h.Created != nil {
		return *h.Created, true
	}
	return model.AuditEntry{}, false
}

// KeepReason tells why an import kept the hub's value of a field.
type KeepReason string

// Why a field was kept.
const (
	// KeepBackwards: the file's status is earlier in the flow than the
	// hub's. Kept even with force.
	KeepBackwards KeepReason = "status_backwards"
	// KeepChanged: the field's last change was not made by an import (a
	// sync run, a person, a sprint).
	KeepChanged KeepReason = "changed_since_import"
	// KeepNotImported: the risk was created by a sync run or by hand, and
	// no import has changed this field since.
	KeepNotImported KeepReason = "not_imported"
)

// FieldChange is one field an import changes, old → new as the audit trail
// writes them.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// KeptField is one field where a row differs from the hub and the hub's
// value stays: Hub is kept, File is what the row says, By is the audit
// entry that gave the hub its value (zero when the trail does not know).
type KeptField struct {
	Field  string
	Hub    string
	File   string
	Reason KeepReason
	By     model.AuditEntry
}

// RowPlan is what importing one row does to the stored risk it matched.
type RowPlan struct {
	// Risk is the stored risk with Changes applied, ready for UpdateRisk.
	Risk    model.Risk
	Changes []FieldChange
	Kept    []KeptField
}

// statusRank is a status's place in the flow; rejected is aside (-1).
func statusRank(s model.Status) int {
	for i, t := range []model.Status{model.Proposed, model.Accepted, model.Planned, model.InProgress, model.Realized} {
		if s == t {
			return i
		}
	}
	return -1
}

// Backwards reports whether moving a risk from one status to the other goes
// back in the flow proposed → accepted → planned → in_progress → realized.
// Realized is final, so any move from it is backwards. Rejected is aside: a
// move to rejected (from anything but realized) is not backwards, nor is a
// move from rejected (back to proposed is how a rejected risk is proposed
// again; the flow refuses the others).
func Backwards(from, to model.Status) bool {
	if from == to {
		return false
	}
	if from == model.Realized {
		return true
	}
	f, t := statusRank(from), statusRank(to)
	return f >= 0 && t >= 0 && t < f
}

// PlanRow decides what importing row does to stored, the risk it matched,
// given the risk's audit history. Only the columns the row gives count, and
// of those only the ones that differ. Such a field is changed when its
// current value was set by an import (the file owns it), and kept, with the
// reason, when:
//   - it is the status and the row's is earlier in the flow (Backwards),
//     even with force: an import never moves a status backwards;
//   - its last change was not an import's (a sync run, a person, a sprint),
//     unless force;
//   - it was never changed since the risk was created by something other
//     than an import (the risk is live, not the file's), unless force.
//
// A status change PlanRow lets through may still be one the flow refuses
// (proposed → in_progress): UpdateRisk says so.
func PlanRow(stored model.Risk, row *RiskRow, h History, force bool) RowPlan {
	p := RowPlan{Risk: stored}
	want := merge(stored, row)
	for _, f := range importFields {
		if !row.Given[f] {
			continue
		}
		old, new := stored.Field(f), want.Field(f)
		if old == new {
			continue
		}
		by, known := h.lastChange(f)
		keep := func(r KeepReason) {
			p.Kept = append(p.Kept, KeptField{Field: f, Hub: old, File: new, Reason: r, By: by})
		}
		switch {
		case f == "status" && Backwards(stored.Status, want.Status):
			keep(KeepBackwards)
			continue
		case force:
		case !known:
			keep(KeepNotImported)
			continue
		case IsImportActor(by.Actor):
		case by.Field == "created":
			keep(KeepNotImported)
			continue
		default:
			keep(KeepChanged)
			continue
		}
		p.Risk.CopyFields(&want, f)
		p.Changes = append(p.Changes, FieldChange{Field: f, Old: old, New: new})
	}
	return p
}

// merge returns r with the columns the row gave.
func merge(r model.Risk, row *RiskRow) model.Risk {
	for col := range row.Given {
		r.CopyFields(&row.Risk, col)
	}
	return r
}

// Why explains in a phrase why the field was kept, naming who gave the hub
// its value and when.
func (k KeptField) Why() string {
	switch {
	case k.Reason == KeepBackwards:
		return fmt.Sprintf("an import never moves a status backwards, not even with -force (%s)", lastBy(k.By))
	case k.By.Actor == "":
		return "no import of it is recorded; -force overwrites it"
	case k.Reason == KeepNotImported:
		return fmt.Sprintf("%s, not by an import, and no import has set its %s since; -force overwrites it", lastBy(k.By), k.Field)
	}
	return fmt.Sprintf("changed since the last import (%s); -force overwrites it", lastBy(k.By))
}

// lastBy names who made an audit entry, and when.
func lastBy(e model.AuditEntry) string {
	if e.Actor == "" {
		return "no recorded change"
	}
	verb := "last changed by "
	if e.Field == "created" {
		verb = "created by "
	}
	s := verb + e.Actor
	if e.RunID != "" {
		s += " run " + e.RunID
	}
	if !e.At.IsZero() {
		s += " at " + e.At.UTC().Format("2006-01-02 15:04:05Z")
	}
	return s
}

// Quote formats a field's audit text for messages: text fields quoted,
// the others (status, kind, numbers) as they are.
func Quote(field, v string) string {
	switch field {
	case "title", "description", "source", "owner", "process":
		return strconv.Quote(v)
	}
	return v
}
