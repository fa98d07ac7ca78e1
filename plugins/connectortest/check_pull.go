package connectortest

import (
	"errors"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// checkPullFull: a full pull returns every record pushed before it, with
// its marker and exactly the pushed fields, and a cursor; a second full pull
// gives the same records the same external ids and versions.
func checkPullFull(e *env) {
	var mine []created
	if e.desc.Capability(e.fx.Kind).Push {
		mine = e.create(3)
	}
	p := e.pull("")
	for _, c := range mine {
		r, ok := p.byID[c.res.ExternalID]
		if !ok {
			e.t.Errorf("full pull did not return record %s, created before it (marker %s)", c.res.ExternalID, c.marker)
			continue
		}
		if r.Deleted {
			e.t.Errorf("full pull returned record %s as deleted; it was just created", r.ExternalID)
		}
		if r.Marker != c.marker {
			e.t.Errorf("full pull: record %s has marker %q, want %q (the hub links lost creates by it)", r.ExternalID, r.Marker, c.marker)
		}
		e.wantFields("full pull of record "+r.ExternalID, r.Fields, c.fields)
	}
	if n := len(p.byID); n < e.fx.MinRecords {
		e.t.Errorf("full pull returned %d records, want at least Fixture.MinRecords = %d", n, e.fx.MinRecords)
	}
	if len(p.byID) > 0 && p.cursor == "" {
		e.t.Error("full pull returned records but an empty cursor: the hub could never pull incrementally")
	}

	again := e.pull("")
	for id, r := range p.byID {
		r2, ok := again.byID[id]
		switch {
		case !ok:
			e.t.Errorf("record %s was in the first full pull but not in the second, with nothing changed: external ids must be stable", id)
		case r2.Version != r.Version:
			e.t.Errorf("record %s: Version %q in the first full pull, %q in the second, with nothing changed", id, r.Version, r2.Version)
		}
	}
}

// checkPullIncremental: a pull from the cursor of a full pull returns what
// changed since (an update, then a create, and a delete when the connector
// pulls deletes); widening it with Lookback never drops a record.
func checkPullIncremental(e *env) {
	recs := e.create(2)
	a, b := recs[0], recs[1]
	p1 := e.pull("")
	for _, c := range recs {
		if _, ok := p1.byID[c.res.ExternalID]; !ok {
			e.t.Fatalf("full pull did not return record %s, created before it", c.res.ExternalID)
		}
	}
	if p1.cursor == "" {
		e.t.Fatal("full pull returned an empty cursor")
	}

	// An update after the full pull.
	v := e.updateValue(a.fields[e.fx.UpdateField])
	up := sdk.Change{Op: sdk.OpUpdate, ExternalID: a.res.ExternalID, Version: a.res.Version,
		Fields: map[string]string{e.fx.UpdateField: v}}
	e.wantOK([]sdk.Change{up}, 0, e.push(up)[0])

	p2 := e.pull(p1.cursor)
	r, ok := p2.byID[a.res.ExternalID]
	switch {
	case !ok:
		e.t.Errorf("incremental pull from the full pull's cursor did not return record %s, updated after that pull: the update would be lost", a.res.ExternalID)
	case r.Fields[e.fx.UpdateField] != v:
		e.t.Errorf("incremental pull: record %s has %s = %q, want the update %q", r.ExternalID, e.fx.UpdateField, r.Fields[e.fx.UpdateField], v)
	}
	if len(p2.byID) > 0 && p2.cursor == "" {
		e.t.Error("incremental pull returned records but an empty cursor")
	}

	// Widening the window may repeat records, never lose one.
	wide, err := e.tryPull(sdk.PullRequest{Kind: e.fx.Kind, Cursor: p1.cursor, Lookback: time.Hour})
	if err != nil {
		e.t.Fatalf("Pull(cursor, Lookback 1h) = %v, want success", err)
	}
	for _, id := range p2.order {
		if _, ok := wide.byID[id]; !ok {
			e.t.Errorf("record %s came in the incremental pull without lookback but not with Lookback 1h: a wider window must not drop records", id)
		}
	}

	// A create after the incremental pull.
	cur := next(p1.cursor, p2)
	c := e.create(1)[0]
	p3 := e.pull(cur)
	if _, ok := p3.byID[c.res.ExternalID]; !ok {
		e.t.Errorf("incremental pull did not return record %s, created after the previous pull", c.res.ExternalID)
	}

	// A delete after it.
	if !e.desc.Capability(e.fx.Kind).Delete || !e.fx.PullsDeletes {
		e.t.Log("deletes in incremental pulls not checked: the connector does not declare delete, or Fixture.PullsDeletes is false")
		return
	}
	cur = next(cur, p3)
	del := sdk.Change{Op: sdk.OpDelete, ExternalID: b.res.ExternalID, Marker: b.marker}
	e.wantOK([]sdk.Change{del}, 0, e.push(del)[0])
	p4 := e.pull(cur)
	if r, ok := p4.byID[b.res.ExternalID]; !ok || !r.Deleted {
		e.t.Errorf("incremental pull after deleting record %s did not report it deleted (Fixture.PullsDeletes is set)", b.res.ExternalID)
	}
}

// next is the cursor to pull from after p: its own, or prev when it sent
// no batch.
func next(prev string, p pulled) string {
	if p.batches == 0 || p.cursor == "" {
		return prev
	}
	return p.cursor
}

// invalidCursor is what the kit passes as a cursor the connector never made.
const invalidCursor = "garbage!!"

// checkPullInvalidCursor: a cursor the connector never made is an error of
// class invalid; no panic, no silent full pull.
func checkPullInvalidCursor(e *env) {
	delivered := 0
	var panicked any
	err := func() error {
		defer func() { panicked = recover() }()
		return e.conn.Pull(e.ctx, sdk.PullRequest{Kind: e.fx.Kind, Cursor: invalidCursor}, func(b sdk.Batch) error {
			delivered += len(b.Records)
			return nil
		})
	}()
	switch {
	case panicked != nil:
		e.t.Fatalf("Pull(cursor %q) panicked: %v", invalidCursor, panicked)
	case err == nil:
		e.t.Fatalf("Pull(cursor %q) succeeded (%d records); want an error of class invalid: an unreadable cursor must not silently become a full or empty pull", invalidCursor, delivered)
	case classOf(err) != sdk.ClassInvalid:
		e.t.Errorf("Pull(cursor %q) = %v (class %q), want class invalid so the hub knows the cursor, not the remote, is at fault", invalidCursor, err, classOf(err))
	}
	if delivered > 0 {
		e.t.Errorf("Pull(cursor %q) delivered %d records before failing", invalidCursor, delivered)
	}
}

// errStop is what the kit's send returns to stop a pull.
var errStop = errors.New("connectortest: the hub could not store this batch")

// checkPullStops: when send fails, Pull stops sending and returns an error.
func checkPullStops(e *env) {
	if e.desc.Capability(e.fx.Kind).Push {
		e.create(2)
	}
	calls := 0
	err := e.conn.Pull(e.ctx, sdk.PullRequest{Kind: e.fx.Kind}, func(sdk.Batch) error {
		calls++
		return errStop
	})
	if calls == 0 {
		if e.desc.Capability(e.fx.Kind).Push {
			e.t.Fatal("the full pull sent no batch although the kit had just created records")
		}
		e.t.Log("the full pull sent no batch, so there was no send to fail")
		return
	}
	if calls > 1 {
		e.t.Errorf("Pull called send %d times after send failed; it must stop at the first failure", calls)
	}
	if err == nil {
		e.t.Error("Pull returned nil although send failed: the hub would take an unstored batch as received")
	}
}
