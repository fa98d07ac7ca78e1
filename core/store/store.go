// Package store keeps usmhub's canonical model — the risk database, votes,
// sprints, scans and the audit trail — durably on disk.
//
// The Store interface is what the rest of the hub uses; Open returns its
// embedded SQLite implementation. The store knows nothing of HCL, connectors
// or the CLI: it validates what it writes with core/model and records every
// change in the audit table, attributed to the actor of the transaction.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/usmhub/usmhub/core/model"
)

// Errors callers may test for with errors.Is.
var (
	// ErrNotFound: no entity with that key or id.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the row changed since it was read (optimistic concurrency),
	// or a uniqueness rule was broken.
	ErrConflict = errors.New("conflict")
)

// Actor names who makes the changes of one transaction, as the audit log
// will show it: a person ("cli:alice"), the daemon, or a sync run (RunID set).
type Actor struct {
	Name  string
	RunID string
}

// Store is the hub's durable state. Every write happens inside Update, in one
// serialised (BEGIN IMMEDIATE) transaction that commits only when fn returns
// nil; reads happen inside View on a consistent snapshot. Implementations are
// safe for concurrent use, also by several processes on the same file.
type Store interface {
	// Update runs fn in one write transaction, recording audit rows as actor.
	Update(ctx context.Context, actor Actor, fn func(Tx) error) error
	// View runs fn in one read-only transaction.
	View(ctx context.Context, fn func(Reader) error) error
	// Close releases the database. It is safe to call more than once.
	Close() error
}

// RiskFilter selects risks. Zero values select everything.
type RiskFilter struct {
	Initiative string
	Statuses   []model.Status
	Kind       model.Kind
	Process    model.Process
}

// ItemFilter selects configuration items. Zero values select everything.
type ItemFilter struct {
	Status model.ItemStatus
	Type   string
	Source string
}

// Reader is what a transaction can read.
type Reader interface {
	// Risk returns the risk with that key or UUID.
	Risk(ref string) (model.Risk, error)
	// RiskByTitle returns the risk of the initiative with exactly that title.
	RiskByTitle(initiative, title string) (model.Risk, error)
	// Risks calls fn for every matching risk, ordered by creation (oldest
	// first), streaming: rows are never all held in memory. fn returning an
	// error stops the walk and returns that error.
	Risks(f RiskFilter, fn func(model.Risk) error) error
	// CountRisks counts the matching risks.
	CountRisks(f RiskFilter) (int, error)
	// Votes returns the current votes on a risk, by voter.
	Votes(riskID string) ([]model.Vote, error)
	// Voters returns the distinct voters of an initiative's risks.
	Voters(initiative string) ([]string, error)
	// Sprint returns an initiative's sprint by number, with its items.
	Sprint(initiative string, number int) (model.Sprint, error)
	// Sprints returns an initiative's sprints (all initiatives when empty),
	// by number, with their items.
	Sprints(initiative string) ([]model.Sprint, error)
	// Scans returns an initiative's scans by date (oldest first), with scores.
	Scans(initiative string) ([]model.Scan, error)
	// Item returns the configuration item with that key (CI-12) or UUID.
	Item(ref string) (model.Item, error)
	// Items calls fn for every matching item, by CI-n number then key,
	// streaming.
	Items(f ItemFilter, fn func(model.Item) error) error
	// CountItems counts the matching items.
	CountItems(f ItemFilter) (int, error)
	// Affects returns the keys of the items a risk (key or UUID) affects.
	Affects(riskRef string) ([]string, error)
	// AffectedBy returns the keys of the risks that name an item's key.
	AffectedBy(itemKey string) ([]string, error)
	// Audit calls fn for the audit entries matching f, oldest first.
	Audit(f AuditFilter, fn func(model.AuditEntry) error) error

	// The sync engine's state (see sync.go).

	// Link returns a binding's link of a hub entity.
	Link(binding, hubID string) (Link, error)
	// LinkByExternal returns a binding's link of a remote record.
	LinkByExternal(binding, externalID string) (Link, error)
	// Links streams a binding's links in a state (all when empty).
	Links(binding string, state LinkState, fn func(Link) error) error
	// BindingState returns a binding's cursor and health.
	BindingState(binding string) (BindingState, error)
	// RisksToPush streams, in change order, the risks matching f changed
	// after the change sequence since that have no link in the binding or
	// whose version moved past their link's hub version (every matching
	// risk when since < 0), each with its change sequence.
	RisksToPush(binding string, f RiskFilter, since int64, fn func(risk model.Risk, link *Link, seq int64) error) error
	// LinkHeads streams the heads (state, remote version, whether fields
	// are held) of a binding's links to the given remote records.
	LinkHeads(binding string, externalIDs []string, fn func(LinkHead) error) error
	// LinkedRisks streams a binding's links to the given remote records
	// whose hub risk exists, each with the risk.
	LinkedRisks(binding string, externalIDs []string, fn func(model.Risk, Link) error) error
	// PushPending reports the highest change sequence of any risk, and
	// whether RisksToPush(binding, f, since) would find a risk.
	PushPending(binding string, f RiskFilter, since int64) (maxSeq int64, pending bool, err error)
	// CountLinks counts a binding's links in a state (all when empty).
	CountLinks(binding string, state LinkState) (int, error)
	// HeldLinks streams a binding's links that hold fields.
	HeldLinks(binding string, fn func(Link) error) error
	// Quarantine streams a binding's quarantined remote records.
	Quarantine(binding string, fn func(Quarantined) error) error
	// LastRun returns a binding's most recent sync run.
	LastRun(binding string) (Run, error)
}

// AuditFilter selects audit entries. Zero values select everything.
type AuditFilter struct {
	EntityID string    // a UUID, or a risk key such as R-12, or an item key such as CI-3
	RunID    string    // the sync run that made the changes, in full or a prefix of it
	Since    time.Time // entries at or after this time
	Limit    int       // only the newest Limit matching entries (still oldest first); 0: all
}

// Tx is what a write transaction can do. Every change is validated with
// core/model and audited field by field (old → new).
type Tx interface {
	Reader
	// CreateRisk stores a new risk, assigning ID (when empty), Key (the next
	// R-n when empty), Version 1 and the timestamps.
	CreateRisk(r *model.Risk) error
	// UpdateRisk stores r if its Version still matches the stored one
	// (ErrConflict otherwise), checks the status transition, bumps r.Version
	// and audits each changed field.
	UpdateRisk(r *model.Risk) error
	// UpdateRiskFrom is UpdateRisk for a caller that read the stored risk
	// (old) in this transaction: it skips reading it again. The update
	// still stores nothing unless the row is at old's version.
	UpdateRiskFrom(old model.Risk, r *model.Risk) error
	// CastVote records or replaces voter's vote on the risk and updates the
	// risk's vote total.
	CastVote(v model.Vote) error
	// RetractVote removes voter's vote (ErrNotFound when there is none).
	RetractVote(riskID, voter string) error
	// CreateSprint stores a sprint and its items, assigning ID and the next
	// Number of its initiative.
	CreateSprint(s *model.Sprint) error
	// SetSprintStatus moves a sprint to a status (audited).
	SetSprintStatus(initiative string, number int, status model.SprintStatus) error
	// CreateScan stores a scan and its scores, assigning ID.
	CreateScan(s *model.Scan) error
	// CreateItem stores a new configuration item, assigning ID, Key (the
	// next CI-n when empty), Version 1 and the timestamps.
	CreateItem(it *model.Item) error
	// UpdateItem stores it if its Version still matches (ErrConflict
	// otherwise), bumps it.Version and audits each changed field.
	UpdateItem(it *model.Item) error
	// SetAffects replaces the keys of the items a risk affects (audited as
	// the risk's field "affects").
	SetAffects(riskRef string, keys []string) error

	// PutLink stores a link; ErrConflict when its external id is linked to
	// another hub entity of the binding.
	PutLink(l Link) error
	// MarkSeen records that a full reconcile's run saw the links to these
	// remote records.
	MarkSeen(binding, run string, externalIDs []string) error
	// DeleteLink removes a link.
	DeleteLink(binding, hubID string) error
	// PutBindingState stores a binding's cursor and health.
	PutBindingState(s BindingState) error
	// Lease claims a binding for owner until a time (see SQLite's doc).
	Lease(binding, owner string, until, now time.Time, takeover func(holder string) bool) (bool, string, error)
	// ReleaseLease gives a binding up if owner holds it.
	ReleaseLease(binding, owner string) error
	// QuarantineRecord keeps a remote record the hub could not take.
	QuarantineRecord(q Quarantined) error
	// ReleaseQuarantine forgets a quarantined record.
	ReleaseQuarantine(binding, externalID string) error
	// RecordAudit writes an audit entry that is not a field change of a
	// stored row (a conflict and how it was settled).
	RecordAudit(e model.AuditEntry) error
	// RecordRun stores or finishes a sync run's record.
	RecordRun(run Run) error
	// AbortRuns marks a binding's runs recorded as running as aborted (call
	// it holding the binding's lease).
	AbortRuns(binding string) (int, error)
}
