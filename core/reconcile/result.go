package reconcile

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Counts are what a run did (or, planned, would do).
type Counts struct {
	Pulled      int `json:"pulled"`
	HubCreates  int `json:"hub_creates"`
	HubUpdates  int `json:"hub_updates"`
	HubDeletes  int `json:"hub_deletes"`
	Conflicts   int `json:"conflicts"`
	PushCreates int `json:"push_creates"`
	PushUpdates int `json:"push_updates"`
	PushDeletes int `json:"push_deletes"`
	Linked      int `json:"linked"`
	Quarantined int `json:"quarantined"`
	Errors      int `json:"errors"`
}

// Map returns the counts by name, for the run record.
func (c Counts) Map() map[string]int {
	return map[string]int{"pulled": c.Pulled, "hub_creates": c.HubCreates, "hub_updates": c.HubUpdates,
		"hub_deletes": c.HubDeletes, "conflicts": c.Conflicts, "push_creates": c.PushCreates,
		"push_updates": c.PushUpdates, "push_deletes": c.PushDeletes, "linked": c.Linked,
		"quarantined": c.Quarantined, "errors": c.Errors}
}

// Waiting is what waits for a person when a run ends: the binding is not
// in agreement with its tool until these are settled.
type Waiting struct {
	// Held counts the fields of linked records that wait (per-field
	// quarantine), in either direction.
	Held int `json:"held_fields"`
	// Quarantined counts the records kept out whole (a remote record the
	// hub cannot create, a create the remote refused).
	Quarantined int `json:"quarantined_records"`
	// Pending counts the creates whose outcome is not known yet.
	Pending int `json:"pending_creates"`
}

// Any reports whether anything waits.
func (w Waiting) Any() bool { return w.Held+w.Quarantined+w.Pending > 0 }

// ErrIncomplete is wrapped by the error of a run that ended with records
// failed or waiting: the run did its work, yet the two sides do not agree.
var ErrIncomplete = errors.New("the sync is incomplete")

// Unsettled returns an ErrIncomplete error saying what failed or waits, or
// nil when the run left both sides in agreement.
func (res *Result) Unsettled() error {
	c, w := res.Counts, res.Waiting
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(c.Errors, "record(s) failed in this run")
	add(w.Held, "field(s) held")
	add(w.Quarantined, "record(s) quarantined")
	add(w.Pending, "create(s) pending")
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s (usmhub status %s shows each with its reason)", ErrIncomplete, strings.Join(parts, ", "), res.Binding)
}

// Changes reports whether the counts hold any change to either side.
func (c Counts) Changes() bool {
	return c.HubCreates+c.HubUpdates+c.HubDeletes+c.PushCreates+c.PushUpdates+c.PushDeletes+c.Linked+c.Conflicts+c.Quarantined > 0
}

// Change is one entity's change, field by field.
type Change struct {
	// Direction is "pull" (the hub takes the remote's change) or "push"
	// (the remote takes the hub's).
	Direction  string        `json:"direction"`
	Op         string        `json:"op"` // create, update, delete, link, quarantine
	Key        string        `json:"key,omitempty"`
	HubID      string        `json:"hub_id,omitempty"`
	ExternalID string        `json:"external_id,omitempty"`
	Fields     []FieldChange `json:"fields,omitempty"`
	Reason     string        `json:"reason,omitempty"`
}

// MaxChanges bounds the changes a Result lists (the counts stay exact).
const MaxChanges = 2000

// Result is what one run of one binding did.
type Result struct {
	RunID   string   `json:"run_id"`
	Binding string   `json:"binding"`
	Plan    bool     `json:"plan"`
	Counts  Counts   `json:"counts"`
	Waiting Waiting  `json:"waiting"`
	Changes []Change `json:"changes"`
	// Held lists the fields that wait when the run ends, with the reason
	// and how each clears (at most MaxChanges; Waiting counts them all).
	Held      []Change `json:"held,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
	// Err is the run's failure as the caller reports it (secrets scrubbed);
	// empty when the run succeeded.
	Err string `json:"error,omitempty"`
	// DeleteLimitExceeded: (a plan) the run would stop at the binding's
	// deletion limit; sync -allow-deletes confirms.
	DeleteLimitExceeded bool          `json:"delete_limit_exceeded,omitempty"`
	Duration            time.Duration `json:"duration_ns"`
}

func (res *Result) add(c Change) {
	if len(res.Changes) >= MaxChanges {
		res.Truncated = true
		return
	}
	res.Changes = append(res.Changes, c)
}
