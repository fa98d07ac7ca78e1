package reconcile

import (
	"sort"
	"strings"
)

// Side names where a value comes from, and who owns a field.
type Side string

// The two sides of a binding.
const (
	Hub    Side = "hub"
	Remote Side = "remote"
)

// FieldChange is one field's outcome of a three-way merge.
type FieldChange struct {
	Field string `json:"field"`
	Base  string `json:"base"`
	Hub   string `json:"hub"`
	// Remote is the remote's value now.
	Remote string `json:"remote"`
	// Apply says which side takes the other's value: Hub means the hub
	// takes Remote; Remote means the remote takes Hub (it is pushed).
	Apply Side `json:"apply"`
	// Conflict is set when both sides changed the field differently; the
	// field's owner won.
	Conflict bool `json:"conflict,omitempty"`
	Winner   Side `json:"winner,omitempty"`
}

// MergeResult is the outcome of merging one record.
type MergeResult struct {
	// ToHub are the fields the hub takes from the remote.
	ToHub map[string]string
	// ToRemote are the fields the remote must take from the hub (the hub
	// won a conflict); the push phase sends them.
	ToRemote map[string]string
	// NewBase is the base after the merge: the remote's values, since they
	// are now known (for fields the hub won, push will move the remote).
	NewBase map[string]string
	// Changes lists every field that differs, sorted by field.
	Changes []FieldChange
}

// Conflicts counts the conflicting fields.
func (m MergeResult) Conflicts() int {
	n := 0
	for _, c := range m.Changes {
		if c.Conflict {
			n++
		}
	}
	return n
}

// Merge merges field by field with base b, hub h and remote r; owner says
// which side owns a field. Only fields the remote sent take part: a
// connector that cannot store a field never makes it change.
//
//	r = b → keep h (the hub's change, if any, is pushed later)
//	h = b → take r
//	h = r → agree
//	else  → conflict: the owner wins
func Merge(b, h, r map[string]string, owner func(field string) Side) MergeResult {
	res := MergeResult{ToHub: map[string]string{}, ToRemote: map[string]string{}, NewBase: make(map[string]string, max(len(b), len(r))+1)}
	for k, v := range b {
		res.NewBase[k] = v
	}
	fields := make([]string, 0, len(r))
	for f := range r {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		rv, hv := r[f], h[f]
		bv, known := b[f]
		res.NewBase[f] = rv
		switch {
		case rv == hv:
			// agree
		case known && rv == bv:
			// only the hub changed: the push phase sends it
		case !known || hv == bv:
			res.ToHub[f] = rv
			res.Changes = append(res.Changes, FieldChange{Field: f, Base: bv, Hub: hv, Remote: rv, Apply: Hub})
		default:
			w := owner(f)
			c := FieldChange{Field: f, Base: bv, Hub: hv, Remote: rv, Conflict: true, Winner: w}
			if w == Remote {
				res.ToHub[f] = rv
				c.Apply = Hub
			} else {
				res.ToRemote[f] = hv
				c.Apply = Remote
			}
			res.Changes = append(res.Changes, c)
		}
	}
	return res
}

// Diff returns the fields of h that differ from base b: what a push sends.
func Diff(b, h map[string]string) map[string]string {
	out := map[string]string{}
	for f, hv := range h {
		if strings.HasPrefix(f, "@") {
			continue // bookkeeping (the marker), not a field
		}
		if bv, ok := b[f]; !ok || bv != hv {
			out[f] = hv
		}
	}
	return out
}
