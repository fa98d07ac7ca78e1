package sync

import (
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
	RunID     string        `json:"run_id"`
	Binding   string        `json:"binding"`
	Plan      bool          `json:"plan"`
	Counts    Counts        `json:"counts"`
	Changes   []Change      `json:"changes"`
	Truncated bool          `json:"truncated,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
}

func (res *Result) add(c Change) {
	if len(res.Changes) >= MaxChanges {
		res.Truncated = true
		return
	}
	res.Changes = append(res.Changes, c)
}
