package connectortest

import (
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// checkPushCRUD: creates, updates and deletes in one batch get one result
// each, in request order; the remote then holds exactly what was pushed;
// an update changes the version; a repeated delete is harmless.
func checkPushCRUD(e *env) {
	recs := e.create(2)
	a, b := recs[0], recs[1]
	va := e.updateValue(a.fields[e.fx.UpdateField])
	vb := e.updateValue(b.fields[e.fx.UpdateField])
	c := e.createChange(e.newFields())
	batch := []sdk.Change{
		{Op: sdk.OpUpdate, ExternalID: b.res.ExternalID, Version: b.res.Version, Fields: map[string]string{e.fx.UpdateField: vb}},
		c,
		{Op: sdk.OpUpdate, ExternalID: a.res.ExternalID, Version: a.res.Version, Fields: map[string]string{e.fx.UpdateField: va}},
	}
	res := e.push(batch...)
	for i, r := range res {
		e.wantOK(batch, i, r)
	}
	if id := res[1].ExternalID; id == a.res.ExternalID || id == b.res.ExternalID {
		e.t.Fatalf("Push: the create in a mixed batch got ExternalID %q of an existing record", id)
	}
	for _, u := range []struct {
		before created
		after  sdk.Result
		value  string
	}{{b, res[0], vb}, {a, res[2], va}} {
		if u.before.res.Version != "" && u.after.Version == u.before.res.Version {
			e.t.Errorf("Push: the update of %s returned the same Version %q as before it; the hub could not tell its own update from an older state", u.after.ExternalID, u.after.Version)
		}
		if v, ok := u.after.Fields[e.fx.UpdateField]; ok && v != u.value {
			e.t.Errorf("Push: the update of %s reports %s = %q in Result.Fields, not the value pushed (%q)", u.after.ExternalID, e.fx.UpdateField, v, u.value)
		}
	}

	gotA := e.mustCurrent(a.res.ExternalID, a.marker, "after its update")
	gotB := e.mustCurrent(b.res.ExternalID, b.marker, "after its update")
	gotC := e.mustCurrent(res[1].ExternalID, c.Marker, "after its create")
	if got := gotA.Fields[e.fx.UpdateField]; got != va {
		e.t.Errorf("record %s: %s = %q after the update, want %q", a.res.ExternalID, e.fx.UpdateField, got, va)
	}
	if got := gotB.Fields[e.fx.UpdateField]; got != vb {
		e.t.Errorf("record %s: %s = %q after the update, want %q", b.res.ExternalID, e.fx.UpdateField, got, vb)
	}
	wantA := maps.Clone(a.fields)
	wantA[e.fx.UpdateField] = va
	e.wantFields("record "+a.res.ExternalID+" after updating one field", gotA.Fields, wantA)
	e.wantFields("record "+res[1].ExternalID+" created in a mixed batch", gotC.Fields, c.Fields)

	if !e.desc.Capability(e.fx.Kind).Delete {
		e.t.Logf("delete not checked: connector %q does not declare capability: delete %s", e.desc.Name, e.fx.Kind)
		return
	}
	del := []sdk.Change{{Op: sdk.OpDelete, ExternalID: a.res.ExternalID, Marker: a.marker}}
	e.wantOK(del, 0, e.push(del...)[0])
	if r := e.current(a.res.ExternalID, a.marker); r != nil {
		e.t.Errorf("record %s is still live after its delete succeeded", a.res.ExternalID)
	}
	if e.current(b.res.ExternalID, b.marker) == nil {
		e.t.Errorf("record %s is gone after deleting another record (%s)", b.res.ExternalID, a.res.ExternalID)
	}
	r, err := e.conn.Find(e.ctx, e.fx.Kind, a.marker)
	if err != nil {
		e.t.Errorf("Find(%q) of a deleted record = %v, want nil or a record with Deleted set", a.marker, err)
	} else if r != nil && !r.Deleted {
		e.t.Errorf("Find(%q) returns deleted record %s as live", a.marker, r.ExternalID)
	}
	// A delete retried after a crash must not make things worse.
	again := e.push(del...)[0]
	if cl := errClass(again.Err); cl != "" && cl != sdk.ClassPermanent {
		e.t.Errorf("Push: repeating the delete of %s failed with %v; want success (or a permanent not-found)", a.res.ExternalID, again.Err)
	}
}

// awkwardText is canonical text that is hard to store in files and forms:
// separators, quotes, non-ASCII, inner tabs, blank lines.
const awkwardText = "Comma, \"quotes\"; semicolon | pipe\ttab, ümlaut ✓ <b>not html</b> # not a heading\nSecond line\n\nAfter a blank line"

// checkRoundTrip: what is pushed is pulled back exactly, and Find and
// Result.Fields agree with the pull.
func checkRoundTrip(e *env) {
	fields := e.newFields()
	if e.fx.TextField != "" {
		fields[e.fx.TextField] = awkwardText
	}
	ch := e.createChange(fields)
	changes := []sdk.Change{ch}
	res := e.push(changes...)[0]
	e.wantOK(changes, 0, res)
	if res.Fields != nil {
		e.wantFields("Result.Fields of the create", res.Fields, fields)
	}
	p := e.pull("")
	r, ok := p.byID[res.ExternalID]
	if !ok {
		e.t.Fatalf("full pull did not return record %s, just created", res.ExternalID)
	}
	e.wantFields("push then pull of record "+res.ExternalID, r.Fields, fields)
	found, err := e.conn.Find(e.ctx, e.fx.Kind, ch.Marker)
	if err != nil || found == nil {
		e.t.Fatalf("Find(%q) = %v, %v; want record %s", ch.Marker, found, err, res.ExternalID)
	}
	e.wantFields("push then Find of record "+res.ExternalID, found.Fields, fields)
}

// untidyText has what connectors normalise away: carriage returns and
// trailing blanks.
const untidyText = "First line  \r\nWindows line\t \r\n\r\n  Indented line\r\nLast line   \r\n"

// checkNormalisation: text the connector normalises comes back in the SDK's
// canonical form (\n line ends, no trailing blanks), the same through Pull,
// Find and Result.Fields; pushing it again changes nothing (a fixed point,
// or hub and tool would ping-pong forever).
func checkNormalisation(e *env) {
	f := e.fx.TextField
	if f == "" {
		e.t.Skip("Fixture.TextField is empty: no free-text field to check")
	}
	fields := e.newFields()
	fields[f] = untidyText
	ch := e.createChange(fields)
	res := e.push(ch)[0]
	e.wantOK([]sdk.Change{ch}, 0, res)

	got := e.mustCurrent(res.ExternalID, ch.Marker, "after its create").Fields[f]
	if strings.Contains(got, "\r") {
		e.t.Errorf("%s pulled back as %q: contains a carriage return, want \\n line ends", f, got)
	}
	for i, line := range strings.Split(got, "\n") {
		if strings.TrimRight(line, " \t") != line {
			e.t.Errorf("%s pulled back as %q: line %d ends in blanks", f, got, i+1)
		}
	}
	if v, ok := res.Fields[f]; ok && v != got {
		e.t.Errorf("Result.Fields[%s] = %q but a pull gives %q", f, v, got)
	}
	if found, err := e.conn.Find(e.ctx, e.fx.Kind, ch.Marker); err != nil || found == nil {
		e.t.Errorf("Find(%q) = %v, %v; want the record", ch.Marker, found, err)
	} else if found.Fields[f] != got {
		e.t.Errorf("Find gives %s = %q but a pull gives %q", f, found.Fields[f], got)
	}

	up := sdk.Change{Op: sdk.OpUpdate, ExternalID: res.ExternalID, Marker: ch.Marker, Fields: map[string]string{f: got}}
	e.wantOK([]sdk.Change{up}, 0, e.push(up)[0])
	if again := e.mustCurrent(res.ExternalID, ch.Marker, "after its update").Fields[f]; again != got {
		e.t.Errorf("normalisation is not a fixed point: pushed %s = %q (as pulled), pulled back %q; hub and tool would ping-pong", f, got, again)
	}
}

// checkIdempotentCreate: pushing the same create twice (same marker: a retry
// after a crash) returns the same record and leaves one record.
func checkIdempotentCreate(e *env) {
	ch := e.createChange(e.newFields())
	first := e.push(ch)[0]
	e.wantOK([]sdk.Change{ch}, 0, first)
	second := e.push(ch)[0]
	e.wantOK([]sdk.Change{ch}, 0, second)
	if second.ExternalID != first.ExternalID {
		e.t.Errorf("re-pushing the create with marker %s made record %s besides %s: a retried push duplicates", ch.Marker, second.ExternalID, first.ExternalID)
	}
	if !e.desc.Capability(e.fx.Kind).Pull {
		return
	}
	live := e.pull("").live(ch.Marker)
	if len(live) != 1 {
		ids := make([]string, len(live))
		for i, r := range live {
			ids[i] = r.ExternalID
		}
		e.t.Errorf("after pushing one create twice, a full pull shows %d live records with marker %s (%v), want 1", len(live), ch.Marker, ids)
	}
}

// checkFind: Find locates a created record by its marker (as the hub does
// when a create's link was lost), also after an update, and answers nil, nil
// for a marker nothing carries.
func checkFind(e *env) {
	c := e.create(1)[0]
	r, err := e.conn.Find(e.ctx, e.fx.Kind, c.marker)
	switch {
	case err != nil:
		e.t.Fatalf("Find(%q) = %v, want record %s", c.marker, err, c.res.ExternalID)
	case r == nil:
		e.t.Fatalf("Find(%q) = nil, want record %s: a create whose link was lost would be created again", c.marker, c.res.ExternalID)
	case r.ExternalID != c.res.ExternalID:
		e.t.Fatalf("Find(%q) returned record %s, want %s", c.marker, r.ExternalID, c.res.ExternalID)
	case r.Deleted:
		e.t.Errorf("Find(%q) returned a live record as deleted", c.marker)
	}
	if r.Marker != c.marker {
		e.t.Errorf("Find(%q) returned a record with Marker %q", c.marker, r.Marker)
	}
	e.wantFields("Find of record "+r.ExternalID, r.Fields, c.fields)

	up := sdk.Change{Op: sdk.OpUpdate, ExternalID: c.res.ExternalID, Version: c.res.Version,
		Fields: map[string]string{e.fx.UpdateField: e.updateValue(c.fields[e.fx.UpdateField])}}
	e.wantOK([]sdk.Change{up}, 0, e.push(up)[0])
	if r, err := e.conn.Find(e.ctx, e.fx.Kind, c.marker); err != nil || r == nil || r.ExternalID != c.res.ExternalID {
		e.t.Errorf("after an update, Find(%q) = %v, %v; want record %s (an update must keep the marker)", c.marker, r, err, c.res.ExternalID)
	}

	unknown := sdk.Marker(newHubID())
	r, err = e.conn.Find(e.ctx, e.fx.Kind, unknown)
	if err != nil || r != nil {
		e.t.Errorf("Find(%q) of a marker nothing carries = %v, %v; want nil, nil", unknown, r, err)
	}
}

// checkOneBadRecord: a change the remote refuses gets a Result.Err of class
// invalid, and the other changes of its batch are applied.
func checkOneBadRecord(e *env) {
	bad := e.newFields()
	maps.Copy(bad, e.fx.InvalidFields)
	batch := []sdk.Change{e.createChange(e.newFields()), e.createChange(bad), e.createChange(e.newFields())}
	res := e.push(batch...)
	e.wantOK(batch, 0, res[0])
	e.wantOK(batch, 2, res[2])
	if cl := errClass(res[1].Err); cl != sdk.ClassInvalid {
		e.t.Errorf("Push: the create with InvalidFields %v got error %v (class %q), want class invalid", e.fx.InvalidFields, res[1].Err, cl)
	}
	if r, err := e.conn.Find(e.ctx, e.fx.Kind, batch[1].Marker); err != nil || (r != nil && !r.Deleted) {
		e.t.Errorf("the refused create exists on the remote: Find(%q) = %v, %v", batch[1].Marker, r, err)
	}
	for _, i := range []int{0, 2} {
		e.mustCurrent(res[i].ExternalID, batch[i].Marker, "although only another record of its batch was bad")
	}

	g1, g2 := res[0], res[2]
	updates := []sdk.Change{
		{Op: sdk.OpUpdate, ExternalID: g1.ExternalID, Version: g1.Version, Fields: maps.Clone(e.fx.InvalidFields)},
		{Op: sdk.OpUpdate, ExternalID: g2.ExternalID, Version: g2.Version,
			Fields: map[string]string{e.fx.UpdateField: e.updateValue(batch[2].Fields[e.fx.UpdateField])}},
	}
	ures := e.push(updates...)
	if cl := errClass(ures[0].Err); cl != sdk.ClassInvalid {
		e.t.Errorf("Push: the update with InvalidFields %v got error %v (class %q), want class invalid", e.fx.InvalidFields, ures[0].Err, cl)
	}
	e.wantOK(updates, 1, ures[1])
	got := e.mustCurrent(g1.ExternalID, batch[0].Marker, "after a refused update")
	want := map[string]string{}
	for k := range e.fx.InvalidFields {
		want[k] = batch[0].Fields[k]
	}
	e.wantFields("record "+g1.ExternalID+" after a refused update", got.Fields, want)
	got2 := e.mustCurrent(g2.ExternalID, batch[2].Marker, "after its update")
	if v := updates[1].Fields[e.fx.UpdateField]; got2.Fields[e.fx.UpdateField] != v {
		e.t.Errorf("record %s: the valid update beside a refused one was not applied (%s = %q, want %q)", g2.ExternalID, e.fx.UpdateField, got2.Fields[e.fx.UpdateField], v)
	}
}

// checkStaleVersion: an update carrying a version the remote has moved past
// is refused with class conflict and changes nothing.
func checkStaleVersion(e *env) {
	if !e.fx.OptimisticConcurrency {
		e.t.Skip("Fixture.OptimisticConcurrency is false: the connector does not claim to refuse stale versions")
	}
	c := e.create(1)[0]
	if c.res.Version == "" {
		e.t.Fatalf("create of %s returned no Version; optimistic concurrency needs one", c.res.ExternalID)
	}
	v1 := e.updateValue(c.fields[e.fx.UpdateField])
	up := sdk.Change{Op: sdk.OpUpdate, ExternalID: c.res.ExternalID, Version: c.res.Version, Fields: map[string]string{e.fx.UpdateField: v1}}
	r := e.push(up)[0]
	e.wantOK([]sdk.Change{up}, 0, r)
	if r.Version == c.res.Version {
		e.t.Fatalf("the update of %s kept Version %q", c.res.ExternalID, r.Version)
	}
	stale := sdk.Change{Op: sdk.OpUpdate, ExternalID: c.res.ExternalID, Version: c.res.Version,
		Fields: map[string]string{e.fx.UpdateField: e.updateValue(v1)}}
	sr := e.push(stale)[0]
	if cl := errClass(sr.Err); cl != sdk.ClassConflict {
		e.t.Errorf("Push: an update carrying stale Version %q (now %q) got error %v (class %q), want class conflict", c.res.Version, r.Version, sr.Err, cl)
	}
	if got := e.mustCurrent(c.res.ExternalID, c.marker, "after a stale update").Fields[e.fx.UpdateField]; got != v1 {
		e.t.Errorf("record %s: %s = %q after a refused stale update, want %q", c.res.ExternalID, e.fx.UpdateField, got, v1)
	}
}

// checkConcurrentPush: pushes from several goroutines at once (the host
// may call concurrently), with a pull running beside them, lose nothing.
func checkConcurrentPush(e *env) {
	const workers, each = 4, 2
	type outcome struct {
		changes []sdk.Change
		results []sdk.Result
		err     error
	}
	outs := make([]outcome, workers)
	var wg sync.WaitGroup
	for w := range workers {
		changes := make([]sdk.Change, each)
		for i := range changes {
			changes[i] = e.createChange(e.newFields())
		}
		outs[w].changes = changes
		wg.Go(func() {
			outs[w].results, outs[w].err = e.conn.Push(e.ctx, sdk.PushRequest{Kind: e.fx.Kind, Changes: changes})
		})
	}
	var pullErr error
	if e.desc.Capability(e.fx.Kind).Pull {
		wg.Go(func() {
			_, pullErr = e.tryPull(sdk.PullRequest{Kind: e.fx.Kind})
		})
	}
	wg.Wait()
	if pullErr != nil {
		e.t.Errorf("a full pull running beside concurrent pushes failed: %v", pullErr)
	}
	ids := map[string]string{}
	for w, o := range outs {
		if o.err != nil {
			e.t.Fatalf("concurrent Push %d = %v", w, o.err)
		}
		if len(o.results) != len(o.changes) {
			e.t.Fatalf("concurrent Push %d returned %d results for %d changes", w, len(o.results), len(o.changes))
		}
		for i, r := range o.results {
			e.wantOK(o.changes, i, r)
			if other, dup := ids[r.ExternalID]; dup {
				e.t.Errorf("concurrent creates %s and %s got the same ExternalID %s", other, o.changes[i].Marker, r.ExternalID)
			}
			ids[r.ExternalID] = o.changes[i].Marker
		}
	}
	if e.desc.Capability(e.fx.Kind).Pull {
		p := e.pull("")
		for id, marker := range ids {
			if r, ok := p.byID[id]; !ok || r.Deleted {
				e.t.Errorf("record %s (marker %s), created by a concurrent push, is missing from a full pull", id, marker)
			}
		}
		return
	}
	for id, marker := range ids {
		e.mustCurrent(id, marker, "after concurrent pushes")
	}
}

// checkPublish: publishing a report creates its ticket; publishing the same
// key again updates that ticket; another key makes another one.
func checkPublish(e *env) {
	key := fmt.Sprintf("connectortest-%s-%d", e.k.runID, e.k.seq.Add(1))
	rep := sdk.Report{Key: key, Kind: "register", Title: "Conformance report " + key,
		Markdown: "## Risks\n\n| key | title |\n| --- | --- |\n| CT-1 | First |\n"}
	first, err := e.conn.Publish(e.ctx, rep)
	if err != nil {
		e.t.Fatalf("Publish(key %q) = %v, want success", key, err)
	}
	if !first.Created || first.URL == "" || first.ExternalID == "" {
		e.t.Errorf("first Publish(key %q) = %+v, want Created, a URL and an ExternalID", key, first)
	}
	rep.Markdown += "| CT-2 | Second |\n"
	second, err := e.conn.Publish(e.ctx, rep)
	if err != nil {
		e.t.Fatalf("second Publish(key %q) = %v, want success", key, err)
	}
	if second.Created || second.ExternalID != first.ExternalID || second.URL == "" {
		e.t.Errorf("second Publish(key %q) = %+v, want an update of %s (Created false, same ExternalID, a URL)", key, second, first.ExternalID)
	}
	rep.Key += "-other"
	other, err := e.conn.Publish(e.ctx, rep)
	if err != nil {
		e.t.Fatalf("Publish(key %q) = %v, want success", rep.Key, err)
	}
	if !other.Created || other.ExternalID == first.ExternalID {
		e.t.Errorf("Publish of another key %q = %+v, want a new report (Created, an ExternalID other than %s)", rep.Key, other, first.ExternalID)
	}
}
