package connectortest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// env is what one check works with: its connector, described, and the
// fixture.
type env struct {
	t    *testing.T
	ctx  context.Context
	conn sdk.Connector
	desc sdk.Description
	fx   *Fixture
	k    *kit
}

// skipUnlessCapable skips the check when the connector lacks a capability
// it needs, naming the capability.
func (e *env) skipUnlessCapable(n needs) {
	e.t.Helper()
	c := e.desc.Capability(e.fx.Kind)
	switch {
	case n.pull && !c.Pull:
		e.t.Skipf("connector %q does not declare capability: pull %s", e.desc.Name, e.fx.Kind)
	case n.push && !c.Push:
		e.t.Skipf("connector %q does not declare capability: push %s", e.desc.Name, e.fx.Kind)
	case n.delete && !c.Delete:
		e.t.Skipf("connector %q does not declare capability: delete %s", e.desc.Name, e.fx.Kind)
	case n.publish && !e.desc.PublishesReports:
		e.t.Skipf("connector %q does not declare capability: publishes reports", e.desc.Name)
	}
}

// configure runs Configure(Fixture.Config) and Check, failing the check when
// either fails.
func (e *env) configure() {
	e.t.Helper()
	e.configureWith(e.fx.Config, "Fixture.Config")
}

// configureWith runs Configure(values) and Check, failing the check when
// either fails; what names the values in messages.
func (e *env) configureWith(values map[string]any, what string) {
	e.t.Helper()
	cfg, err := sdk.ConfigFromMap(values)
	if err != nil {
		e.t.Fatalf("connectortest: %s: %v", what, err)
	}
	if err := e.conn.Configure(e.ctx, cfg); err != nil {
		e.t.Fatalf("Configure(%s) = %v, want success", what, err)
	}
	// A connector that cannot check its remote answers ErrUnsupported: the
	// hub then says "not checked", which is allowed; any other error fails.
	if err := e.conn.Check(e.ctx); err != nil && !errors.Is(err, sdk.ErrUnsupported) {
		e.t.Fatalf("Check after Configure(%s) = %v, want success (or sdk.ErrUnsupported)", what, err)
	}
}

// newFields returns the fields of a new record, unique to this run.
func (e *env) newFields() map[string]string {
	return maps.Clone(e.fx.NewFields(int(e.k.seq.Add(1))))
}

// updateValue returns a value for Fixture.UpdateField that differs from
// current: Fixture.UpdateValue when set, else a fresh one.
func (e *env) updateValue(current string) string {
	if v := e.fx.UpdateValue; v != "" && v != current {
		return v
	}
	for range 10 {
		if v := e.newFields()[e.fx.UpdateField]; v != "" && v != current {
			return v
		}
	}
	e.t.Fatalf("connectortest: fixture: cannot make a value for UpdateField %q that differs from %q; set UpdateValue", e.fx.UpdateField, current)
	return ""
}

// created is a record the kit pushed.
type created struct {
	marker string
	fields map[string]string
	res    sdk.Result
}

// createChange returns a create of fields carrying a fresh marker.
func (e *env) createChange(fields map[string]string) sdk.Change {
	return sdk.Change{Op: sdk.OpCreate, Marker: sdk.Marker(newHubID()), Fields: fields}
}

// create pushes n new records in one batch and fails unless all succeed.
func (e *env) create(n int) []created {
	e.t.Helper()
	changes := make([]sdk.Change, n)
	for i := range changes {
		changes[i] = e.createChange(e.newFields())
	}
	results := e.push(changes...)
	out := make([]created, n)
	seen := map[string]int{}
	for i, r := range results {
		e.wantOK(changes, i, r)
		if j, dup := seen[r.ExternalID]; dup {
			e.t.Fatalf("Push: creates %d and %d of one batch got the same ExternalID %q", j, i, r.ExternalID)
		}
		seen[r.ExternalID] = i
		out[i] = created{marker: changes[i].Marker, fields: changes[i].Fields, res: r}
	}
	return out
}

// push pushes changes and returns one result per change; it fails the check
// when the call fails or the results do not match the changes.
func (e *env) push(changes ...sdk.Change) []sdk.Result {
	e.t.Helper()
	results, err := e.conn.Push(e.ctx, sdk.PushRequest{Kind: e.fx.Kind, Changes: changes})
	if err != nil {
		e.t.Fatalf("Push(%s) = %v, want per-change results (a bad change never fails the batch)", describeChanges(changes), err)
	}
	if len(results) != len(changes) {
		e.t.Fatalf("Push(%s) returned %d results, want one per change (%d)", describeChanges(changes), len(results), len(changes))
	}
	return results
}

// wantOK fails the check unless result i of a push succeeded with an
// external id (that of the change, for updates and deletes).
func (e *env) wantOK(changes []sdk.Change, i int, r sdk.Result) {
	e.t.Helper()
	c := changes[i]
	if r.Err != nil {
		e.t.Fatalf("Push: result %d of %d (%s) failed: %v; want success", i, len(changes), describeChange(c), r.Err)
	}
	if r.ExternalID == "" {
		e.t.Fatalf("Push: result %d of %d (%s) has no ExternalID", i, len(changes), describeChange(c))
	}
	if c.Op != sdk.OpCreate && r.ExternalID != c.ExternalID {
		e.t.Fatalf("Push: result %d of %d (%s) has ExternalID %q: results are not in request order, or the %s went to another record",
			i, len(changes), describeChange(c), r.ExternalID, c.Op)
	}
}

// describeChanges names changes for failure messages: "create, update F-2".
func describeChanges(changes []sdk.Change) string {
	parts := make([]string, len(changes))
	for i, c := range changes {
		parts[i] = describeChange(c)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func describeChange(c sdk.Change) string {
	if c.Op == sdk.OpCreate {
		return "create " + c.Marker
	}
	return string(c.Op) + " " + c.ExternalID
}

// pulled is the outcome of one Pull.
type pulled struct {
	byID    map[string]sdk.Record // last delivery of each external id
	order   []string              // external ids in delivery order (first delivery)
	cursor  string                // cursor of the last batch
	batches int
}

// pull runs a pull and fails the check when it fails or delivers malformed
// records.
func (e *env) pull(cursor string) pulled {
	e.t.Helper()
	p, err := e.tryPull(sdk.PullRequest{Kind: e.fx.Kind, Cursor: cursor})
	if err != nil {
		e.t.Fatalf("Pull(cursor %q) = %v, want success", cursor, err)
	}
	return p
}

// tryPull runs a pull and checks every delivered record is well formed.
func (e *env) tryPull(req sdk.PullRequest) (pulled, error) {
	e.t.Helper()
	p := pulled{byID: map[string]sdk.Record{}}
	err := e.conn.Pull(e.ctx, req, func(b sdk.Batch) error {
		p.batches++
		for _, r := range b.Records {
			if r.ExternalID == "" {
				return fmt.Errorf("connectortest: batch %d delivered a record without ExternalID (fields %v)", p.batches, r.Fields)
			}
			if r.UpdatedAt.IsZero() && !r.Deleted {
				return fmt.Errorf("connectortest: batch %d delivered record %q without UpdatedAt", p.batches, r.ExternalID)
			}
			if _, ok := p.byID[r.ExternalID]; !ok {
				p.order = append(p.order, r.ExternalID)
			}
			p.byID[r.ExternalID] = r
		}
		p.cursor = b.Cursor
		return nil
	})
	return p, err
}

// live returns the live (not deleted) records of a pull carrying marker.
func (p pulled) live(marker string) []sdk.Record {
	var out []sdk.Record
	for _, id := range p.order {
		if r := p.byID[id]; r.Marker == marker && !r.Deleted {
			out = append(out, r)
		}
	}
	return out
}

// current returns the record with external id id as the remote holds it now,
// through a full pull when the connector pulls, else through Find(marker).
// It returns nil when the record is gone (absent or deleted).
func (e *env) current(id, marker string) *sdk.Record {
	e.t.Helper()
	if e.desc.Capability(e.fx.Kind).Pull {
		r, ok := e.pull("").byID[id]
		if !ok || r.Deleted {
			return nil
		}
		return &r
	}
	r, err := e.conn.Find(e.ctx, e.fx.Kind, marker)
	if err != nil {
		e.t.Fatalf("Find(%q) = %v, want success", marker, err)
	}
	if r == nil || r.Deleted {
		return nil
	}
	if r.ExternalID != id {
		e.t.Fatalf("Find(%q) returned record %q, want %q", marker, r.ExternalID, id)
	}
	return r
}

// mustCurrent is current, failing the check when the record is gone.
func (e *env) mustCurrent(id, marker, why string) sdk.Record {
	e.t.Helper()
	r := e.current(id, marker)
	if r == nil {
		e.t.Fatalf("record %s (marker %s) is missing from the remote %s", id, marker, why)
	}
	return *r
}

// wantFields reports every field of want whose value in got differs.
func (e *env) wantFields(what string, got, want map[string]string) {
	e.t.Helper()
	sub := make(map[string]string, len(want))
	for k := range want {
		if v, ok := got[k]; ok {
			sub[k] = v
		}
	}
	if d := cmp.Diff(want, sub); d != "" {
		e.t.Errorf("%s: fields differ from what was pushed (-pushed +got):\n%s", what, d)
	}
}

// errClass returns the class of a result's error, "" when it succeeded.
func errClass(err *sdk.Error) sdk.ErrorClass {
	if err == nil {
		return ""
	}
	return err.Class
}

// classOf returns the class of a call's error through any wrapping.
func classOf(err error) sdk.ErrorClass {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ""
}
