// Package reconcile is the reconciler: it keeps the hub's canonical model and a
// connector's remote records in agreement, one binding (a sync block) at a
// time, so that nothing is doubled, lost or echoed whatever is killed when.
//
// A run claims its binding with a lease, resolves pending creates with
// Find, pulls changed records page by page (each page and its cursor in one
// transaction), merges field by field against the last agreed base with the
// binding's authority settling conflicts, and pushes hub changes, writing a
// pending link before every create. Plan runs the same code in a
// transaction that is rolled back, without pushing.
//
// The package reads and writes the store and talks to connectors through
// the plugin SDK's Connector interface; it knows nothing of HCL or the CLI.
package reconcile

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
)

// Direction is which way a binding syncs.
type Direction string

// Directions.
const (
	Push Direction = "push"
	Pull Direction = "pull"
	Both Direction = "both"
)

// pulls and pushes report what a direction includes.
func (d Direction) pulls() bool  { return d == Pull || d == Both }
func (d Direction) pushes() bool { return d == Push || d == Both }

// OnDelete is what happens to one side when the other deletes its record.
type OnDelete string

// Delete policies.
const (
	// Close rejects the hub risk (or closes the remote record).
	Close OnDelete = "close"
	// Orphan unlinks and keeps the other side as it is.
	Orphan OnDelete = "orphan"
	// Delete deletes the other side too (for the hub: rejects the risk and
	// unlinks it, since the risk database never forgets a risk).
	Delete OnDelete = "delete"
)

// Authority says which side owns each field: the owner wins a conflict.
type Authority struct {
	Default Side
	Fields  map[string]Side
}

// Owner returns the side that owns field.
func (a Authority) Owner(field string) Side {
	if s, ok := a.Fields[field]; ok {
		return s
	}
	if a.Default == "" {
		return Hub
	}
	return a.Default
}

// Binding is one sync block, resolved from the config.
type Binding struct {
	Name       string
	Kind       connector.EntityKind
	Connector  string // "<type>.<name>"
	Initiative string
	Direction  Direction
	Authority  Authority
	// MapStatus maps hub statuses to the remote's spelling.
	MapStatus map[string]string
	// Filter limits the binding to hub entities whose canonical fields have
	// these values (e.g. kind = "threat").
	Filter   map[string]string
	OnDelete OnDelete
	Schedule string
	// Lookback widens incremental pulls backwards (default 5 minutes).
	Lookback time.Duration
	// FullEvery is how often a full reconcile lists every remote record to
	// catch deletions an incremental feed misses (default 24h; <0 never).
	FullEvery time.Duration
	// BatchSize is how many changes one Push carries (default 100).
	BatchSize int
	// SoundingBoard, when set, limits pulled votes to its members.
	SoundingBoard []string
	// MaxDeletePercent and MaxDeleteMin bound the linked records one run
	// may delete or close on the hub's side: at most MaxDeletePercent of
	// them, and always up to MaxDeleteMin (defaults 10 and 5); a run that
	// would pass the limit fails before deleting more (Options.AllowDeletes
	// confirms).
	MaxDeletePercent float64
	MaxDeleteMin     int
	// AdoptForeign lets the binding take over remote records that carry
	// another hub's marker (a hub that synced the same project before);
	// without it they are quarantined and left alone.
	AdoptForeign bool
	// Fingerprint identifies the connector's configuration, secrets
	// included: a binding paused by a permanent failure tries again as
	// soon as it changes (the operator fixed the key).
	Fingerprint string
}

// deleteLimit is how many of linked records one run may delete or close.
func (b Binding) deleteLimit(linked int) int {
	n := int(math.Ceil(float64(linked) * b.MaxDeletePercent / 100))
	return max(n, b.MaxDeleteMin)
}

// Defaults for a binding's tuning.
const (
	DefaultLookback  = 5 * time.Minute
	DefaultFullEvery = 24 * time.Hour
	DefaultBatchSize = 100
	// DefaultMaxDeletePercent and DefaultMaxDeleteMin: a run may delete
	// or close 10% of a binding's linked records, and always 5.
	DefaultMaxDeletePercent = 10
	DefaultMaxDeleteMin     = 5
)

func (b Binding) withDefaults() Binding {
	if b.Lookback == 0 {
		b.Lookback = DefaultLookback
	}
	if b.FullEvery == 0 {
		b.FullEvery = DefaultFullEvery
	}
	if b.BatchSize <= 0 {
		b.BatchSize = DefaultBatchSize
	}
	if b.MaxDeletePercent == 0 {
		b.MaxDeletePercent = DefaultMaxDeletePercent
	}
	if b.MaxDeleteMin == 0 {
		b.MaxDeleteMin = DefaultMaxDeleteMin
	}
	if b.OnDelete == "" {
		b.OnDelete = Close
	}
	if b.Direction == "" {
		b.Direction = Both
	}
	return b
}

// matches reports whether hub fields pass the binding's filter.
func (b Binding) matches(fields map[string]string) bool {
	for k, v := range b.Filter {
		if !strings.EqualFold(fields[k], v) {
			return false
		}
	}
	return true
}

// pushScope names what the binding pushes (its initiative and filter): a
// push high-water mark measured in another scope does not hold.
func (b Binding) pushScope() string {
	keys := make([]string, 0, len(b.Filter))
	for k := range b.Filter {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteString(b.Initiative)
	for _, k := range keys {
		fmt.Fprintf(&sb, "|%s=%s", k, strings.ToLower(b.Filter[k]))
	}
	return sb.String()
}

// riskScope is the store filter of the binding's risks; fields the store
// cannot filter on are checked with matches.
func (b Binding) riskScope() (initiative string, kind model.Kind, process model.Process) {
	return b.Initiative, model.Kind(b.Filter[connector.FieldKind]), model.Process(b.Filter[connector.FieldProcess])
}

// Validate checks a binding's values.
func (b Binding) Validate() error {
	switch b.Kind {
	case connector.KindRisk, connector.KindVote, connector.KindScan, connector.KindSprint, connector.KindItem:
	default:
		return fmt.Errorf("sync %s: kind must be risk, sprint, vote, scan or item, not %q", b.Name, b.Kind)
	}
	switch b.Direction {
	case Push, Pull, Both, "":
	default:
		return fmt.Errorf("sync %s: direction must be push, pull or both, not %q", b.Name, b.Direction)
	}
	switch b.OnDelete {
	case Close, Orphan, Delete, "":
	default:
		return fmt.Errorf("sync %s: on_delete must be close, orphan or delete, not %q", b.Name, b.OnDelete)
	}
	return nil
}
