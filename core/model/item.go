package model

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ItemStatus is where a configuration item stands in its life.
type ItemStatus string

// The statuses of a configuration item. Items are infrastructure, not
// improvements: any status may follow any other (a retired server may be
// put back in use), so there is no transition rule.
const (
	ItemPlanned  ItemStatus = "planned"   // ordered or being built, not in use yet
	ItemInUse    ItemStatus = "in_use"    // in service
	ItemInRepair ItemStatus = "in_repair" // out of service for now
	ItemRetired  ItemStatus = "retired"   // taken out of service for good (or gone from its tool)
)

// ItemStatuses lists every valid ItemStatus in life order.
var ItemStatuses = []ItemStatus{ItemPlanned, ItemInUse, ItemInRepair, ItemRetired}

// Defaults of an item whose inventory row or remote record leaves them out.
const (
	DefaultItemStatus = ItemInUse
	// ItemKeyPrefix starts the keys the hub assigns to items (CI-1, CI-2 …).
	ItemKeyPrefix = "CI-"
)

// Valid reports whether s is a known item status.
func (s ItemStatus) Valid() bool {
	for _, t := range ItemStatuses {
		if s == t {
			return true
		}
	}
	return false
}

// ParseItemStatus reads an item status as people and tools write it:
// "In use", "in-use" and "IN_USE" are all in_use.
func ParseItemStatus(s string) ItemStatus {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.NewReplacer(" ", "_", "-", "_").Replace(s)
	return ItemStatus(s)
}

func joinItemStatuses() string {
	parts := make([]string, len(ItemStatuses))
	for i, s := range ItemStatuses {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// Item is a configuration item of the managed infrastructure register (the
// BIR, "beheerd infrastructuur register"): a server, an application, a
// network link the services run on. USM's fifth precondition asks that the
// tools keep such a register next to the workflows; risks name the items
// they affect by key.
//
// ID is a UUID (the hub marker of a pushed item); Key is the human key
// (CI-12, or what the register calls it); Source names where the item came
// from: the connector of its sync binding ("rt.main") or the inventory file
// it was imported from ("import:cmdb.csv"). Version increases with every
// stored change.
type Item struct {
	ID          string     `json:"id"`
	Key         string     `json:"key"`
	Name        string     `json:"name"`
	Type        string     `json:"type,omitempty"`
	Status      ItemStatus `json:"status"`
	Owner       string     `json:"owner,omitempty"`
	Description string     `json:"description,omitempty"`
	Source      string     `json:"source,omitempty"`
	Version     int64      `json:"version"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// ValidKey reports whether s is usable as a human key of a risk or an item:
// 1 to 64 letters, digits, '-', '_' or '.'.
func ValidKey(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// KeySeq is the number after the last '-' of a key (R-12 → 12, CI-7 → 7),
// or -1 when there is none: what orders keys naturally (R-2 before R-10)
// wherever risks or items are listed.
func KeySeq(key string) int64 {
	n, err := strconv.ParseInt(key[strings.LastIndexByte(key, '-')+1:], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// KeyHint says what a valid key looks like, for error messages.
const KeyHint = "use 1 to 64 letters, digits, '-', '_' or '.' (like CI-12)"

// Validate checks an item's own fields; every problem is a *FieldError,
// joined. An empty key is allowed (the store assigns the next CI-n).
func (it *Item) Validate() error {
	var errs []error
	if it.Key != "" && !ValidKey(it.Key) {
		errs = append(errs, &FieldError{Field: "key", Msg: fmt.Sprintf("%q is not a valid key: %s", it.Key, KeyHint)})
	}
	if strings.TrimSpace(it.Name) == "" {
		errs = append(errs, &FieldError{Field: "name", Msg: "is required"})
	}
	if !it.Status.Valid() {
		errs = append(errs, &FieldError{Field: "status", Msg: fmt.Sprintf("must be one of %s, not %q", joinItemStatuses(), it.Status)})
	}
	return errors.Join(errs...)
}

// ItemFields are an item's fields in their text form, in export order: the
// columns of an item inventory and the canonical fields of an item record.
var ItemFields = []string{"key", "name", "type", "status", "owner", "description", "source"}

// SetField sets one of an item's fields from its text form: key, name,
// type, status ("In use" is in_use), owner, description, source. It
// reports whether field is one of those; values are checked by Validate.
func (it *Item) SetField(field, value string) (known bool, err error) {
	v := strings.TrimSpace(value)
	switch field {
	case "key":
		it.Key = v
	case "name":
		it.Name = v
	case "type":
		it.Type = v
	case "status":
		it.Status = ParseItemStatus(v)
	case "owner":
		it.Owner = v
	case "description":
		it.Description = NormaliseText(value)
	case "source":
		it.Source = v
	default:
		return false, nil
	}
	return true, nil
}

// Field returns one of an item's fields in its text form ("" for a field
// items do not have).
func (it *Item) Field(field string) string {
	switch field {
	case "key":
		return it.Key
	case "name":
		return it.Name
	case "type":
		return it.Type
	case "status":
		return string(it.Status)
	case "owner":
		return it.Owner
	case "description":
		return it.Description
	case "source":
		return it.Source
	}
	return ""
}

// ParseAffects reads the items a risk affects as written in a cell or a
// flag: keys separated by commas, semicolons or white space. Keys are kept
// in the order given, each once; a key that is not valid is an error
// naming it.
func ParseAffects(s string) ([]string, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' })
	var out []string
	seen := map[string]bool{}
	var bad []string
	for _, f := range fields {
		if !ValidKey(f) {
			bad = append(bad, fmt.Sprintf("%q", f))
			continue
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	if len(bad) > 0 {
		return nil, &FieldError{Field: "affects", Msg: fmt.Sprintf("%s is not an item key: %s", strings.Join(bad, ", "), KeyHint)}
	}
	return out, nil
}
