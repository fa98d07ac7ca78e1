package reconcile

import (
	"context"
	"maps"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
	"github.com/usmhub/usmhub/internal/testconnectors/fault"
)

// Push creates, then nothing: every hub risk gets one remote record with
// its marker and fields, and the run after writes nothing and echoes
// nothing back.
func TestPushCreatesThenNoEcho(t *testing.T) {
	for _, sd := range sides {
		t.Run(sd.name, func(t *testing.T) {
			h := newHub(t)
			s := sd.make(t)
			var risks []model.Risk
			for i := range 3 {
				risks = append(risks, h.addRisk("Risk "+strconv.Itoa(i), func(r *model.Risk) {
					r.Description = "line one\nline two"
					r.Owner = "alice"
					r.Effort = 2.5
				}))
			}
			b := riskBinding("risks")

			res := h.sync(b, s.conn)
			if got := res.Counts; got.PushCreates != 3 || got.HubCreates != 0 || got.Conflicts != 0 || got.Quarantined != 0 || got.Errors != 0 {
				t.Fatalf("first run counts = %+v, want 3 creates pushed and nothing else", got)
			}
			if n := len(s.records()); n != 3 {
				t.Fatalf("remote holds %d records, want 3", n)
			}
			for _, r := range risks {
				recs := s.byMarker(r.ID)
				if len(recs) != 1 {
					t.Fatalf("%s: %d remote records carry its marker, want 1", r.Key, len(recs))
				}
				if diff := cmp.Diff(RiskFields(r), recs[0].fields); diff != "" {
					t.Errorf("%s: remote fields (-hub +remote):\n%s", r.Key, diff)
				}
				l := h.link(b.Name, r.ID)
				if l.State != store.LinkLinked || l.ExternalID != recs[0].id || l.RemoteVersion == "" || l.HubVersion != r.Version {
					t.Errorf("%s: link = %+v, want linked to %s at hub version %d", r.Key, l, recs[0].id, r.Version)
				}
				base := maps.Clone(l.Base)
				if m := base[markerKey]; m != connector.Marker(r.ID) {
					t.Errorf("%s: the base holds marker %q", r.Key, m)
				}
				delete(base, markerKey)
				if diff := cmp.Diff(RiskFields(r), base); diff != "" {
					t.Errorf("%s: link base (-hub +base):\n%s", r.Key, diff)
				}
			}

			before := remoteCalls(t, s)
			db := h.raw()
			data := []string{"audit", "links", "quarantine", "risks"}
			stored, held := h.dump(db, data...), s.snapshot()
			for run := range 2 {
				res = h.sync(b, s.conn)
				noChanges(t, res)
				if res.Counts.HubUpdates+res.Counts.PushUpdates != 0 {
					t.Fatalf("run %d: %+v", run+2, res.Counts)
				}
			}
			if diff := cmp.Diff(stored, h.dump(db, data...)); diff != "" {
				t.Errorf("quiet runs wrote (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(held, s.snapshot()); diff != "" {
				t.Errorf("quiet runs wrote the remote (-before +after):\n%s", diff)
			}
			if s.records()[0].marker == "" || len(s.records()) != 3 {
				t.Fatalf("remote changed: %+v", s.records())
			}
			if before != nil {
				after := remoteCalls(t, s)
				if after["push"] != before["push"] || after["find"] != before["find"] {
					t.Errorf("calls before %v, after %v: want no push and no find", before, after)
				}
			}
			noChanges(t, h.plan(b, s.conn))
		})
	}
}

// remoteCalls returns the fault connector's call counts (nil for others).
func remoteCalls(t *testing.T, s *side) map[string]int {
	if !fileExists(s.dir, "state.json") {
		return nil
	}
	return maps.Clone(remote(t, s.dir).Calls)
}

// Records created remotely appear in the hub with their fields; remote
// edits flow in, hub edits flow out, and nothing flows back.
func TestPullCreatesAndEditsBothWays(t *testing.T) {
	for _, sd := range sides {
		t.Run(sd.name, func(t *testing.T) {
			h := newHub(t)
			s := sd.make(t)
			fields := func(title string) map[string]string {
				return map[string]string{"title": title, "description": "first\nsecond", "kind": "opportunity",
					"process": "improve", "source": "retro", "likelihood": "4", "impact": "5", "effort": "2.5",
					"owner": "carol", "status": "accepted"}
			}
			id1, id2 := s.create(fields("Remote one")), s.create(fields("Remote two"))
			b := riskBinding("risks")

			res := h.sync(b, s.conn)
			// The hub takes both, and gives the remote its keys.
			if c := res.Counts; c.HubCreates != 2 || c.PushUpdates != 2 || c.PushCreates != 0 || c.Quarantined != 0 {
				t.Fatalf("counts = %+v, want 2 hub creates and their keys pushed", c)
			}
			r1 := h.riskByTitle("Remote one")
			want := model.Risk{ID: r1.ID, Key: r1.Key, Initiative: initiative, Kind: model.Opportunity, Title: "Remote one",
				Description: "first\nsecond", Process: model.Improve, Source: "retro", Likelihood: 4, Impact: 5, Effort: 2.5,
				Owner: "carol", Status: model.Accepted, Version: r1.Version, CreatedAt: r1.CreatedAt, UpdatedAt: r1.UpdatedAt}
			if diff := cmp.Diff(want, r1); diff != "" {
				t.Fatalf("hub risk (-want +got):\n%s", diff)
			}
			if got := s.byID(t, id1).fields["key"]; got != r1.Key {
				t.Errorf("remote key = %q, want the hub's %q", got, r1.Key)
			}
			noChanges(t, h.sync(b, s.conn))

			// A remote edit flows in.
			s.edit(id1, map[string]string{"title": "Remote one, edited", "likelihood": "2"})
			res = h.sync(b, s.conn)
			if c := res.Counts; c.HubUpdates != 1 || c.PushUpdates != 0 || c.Conflicts != 0 {
				t.Fatalf("after a remote edit: %+v", c)
			}
			r1 = h.risk(r1.ID)
			if r1.Title != "Remote one, edited" || r1.Likelihood != 2 {
				t.Fatalf("hub risk after a remote edit: %+v", r1)
			}
			var audited []string
			for _, e := range h.audit(store.AuditFilter{RunID: res.RunID}) {
				audited = append(audited, e.Field+"="+e.New+" by "+e.Actor)
			}
			sort.Strings(audited)
			if diff := cmp.Diff([]string{"likelihood=2 by sync:risks", "title=Remote one, edited by sync:risks"}, audited); diff != "" {
				t.Errorf("audit of the run (-want +got):\n%s", diff)
			}

			// A hub edit flows out.
			r2 := h.riskByTitle("Remote two")
			h.editRisk(r2.ID, func(r *model.Risk) { r.Owner = "dave"; r.Status = model.Planned })
			res = h.sync(b, s.conn)
			if c := res.Counts; c.PushUpdates != 1 || c.HubUpdates != 0 {
				t.Fatalf("after a hub edit: %+v", c)
			}
			if got := s.byID(t, id2).fields; got["owner"] != "dave" || got["status"] != "planned" {
				t.Fatalf("remote after a hub edit: %v", got)
			}
			noChanges(t, h.sync(b, s.conn))
			noChanges(t, h.plan(b, s.conn))
		})
	}
}

// Both sides change a field: its owner wins, the audit log holds the
// conflict with both values and the run id, and the loser ends up with the
// winner's value.
func TestConflictOwnerWins(t *testing.T) {
	cases := []struct {
		name      string
		authority Authority
		// the winner of title and of status
		title, status Side
	}{
		{"hub by default", Authority{}, Hub, Hub},
		{"remote by default", Authority{Default: Remote}, Remote, Remote},
		{"hub, status remote", Authority{Default: Hub, Fields: map[string]Side{"status": Remote}}, Hub, Remote},
		{"remote, title hub", Authority{Default: Remote, Fields: map[string]Side{"title": Hub}}, Hub, Remote},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t)
			conn, dir := faultInProcess(t, nil)
			s := faultSide(t, conn, dir)
			r := h.addRisk("Base title")
			other := h.addRisk("Untouched")
			b := riskBinding("risks", func(b *Binding) { b.Authority = tc.authority })
			h.sync(b, conn)
			ext := h.link(b.Name, r.ID).ExternalID

			h.editRisk(r.ID, func(r *model.Risk) { r.Title = "Hub title"; r.Status = model.Accepted })
			s.edit(ext, map[string]string{"title": "Remote title", "status": "rejected"})
			res := h.sync(b, conn)
			if res.Counts.Conflicts != 2 {
				t.Fatalf("conflicts = %d, want 2 (%+v)", res.Counts.Conflicts, res.Changes)
			}
			value := func(w Side, hub, rem string) string {
				if w == Hub {
					return hub
				}
				return rem
			}
			wantTitle := value(tc.title, "Hub title", "Remote title")
			wantStatus := value(tc.status, "accepted", "rejected")

			// The audit log holds each conflict, with both values, in this run.
			got := map[string]model.AuditEntry{}
			for _, e := range h.audit(store.AuditFilter{EntityID: r.ID}) {
				if strings.HasPrefix(e.Field, "conflict:") {
					got[e.Field] = e
				}
			}
			for field, w := range map[string]struct {
				hub, remote string
				winner      Side
			}{"title": {"Hub title", "Remote title", tc.title}, "status": {"accepted", "rejected", tc.status}} {
				e, ok := got["conflict:"+field]
				if !ok {
					t.Fatalf("no audit entry conflict:%s (have %v)", field, got)
				}
				if e.RunID != res.RunID || !strings.Contains(e.Old, w.hub) || !strings.Contains(e.New, w.remote) ||
					!strings.Contains(e.New, string(w.winner)+" wins") {
					t.Errorf("conflict:%s audit = %+v, want run %s, hub %q, remote %q, %s wins", field, e, res.RunID, w.hub, w.remote, w.winner)
				}
			}

			// Both sides hold the winner's values after this run, and stay.
			for range 2 {
				hr, rr := h.risk(r.ID), s.byID(t, ext)
				if hr.Title != wantTitle || string(hr.Status) != wantStatus {
					t.Errorf("hub: title %q status %q, want %q %q", hr.Title, hr.Status, wantTitle, wantStatus)
				}
				if rr.fields["title"] != wantTitle || rr.fields["status"] != wantStatus {
					t.Errorf("remote: %v, want title %q status %q", rr.fields, wantTitle, wantStatus)
				}
				if h.risk(other.ID).Version != other.Version {
					t.Errorf("the untouched risk changed")
				}
				res = h.sync(b, conn)
				if res.Counts.Changes() {
					t.Fatalf("the run after the conflict changed more: %+v %+v", res.Counts, res.Changes)
				}
			}
		})
	}
}

// plan shows exactly what the following sync does, and writes nothing:
// not in the store, not in the remote.
func TestPlanEqualsSyncAndWritesNothing(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	b := riskBinding("risks")
	a, c, d := h.addRisk("A"), h.addRisk("C"), h.addRisk("D")
	h.sync(b, conn)
	bID := s.create(map[string]string{"title": "Remote B", "kind": "threat", "likelihood": "2", "impact": "2", "status": "proposed"})
	h.sync(b, conn)

	// Changes of every kind: a hub create and edit, a remote create and
	// edit, a conflict, a bad remote record.
	h.addRisk("E new in the hub")
	h.editRisk(a.ID, func(r *model.Risk) { r.Owner = "erin" })
	s.edit(h.link(b.Name, c.ID).ExternalID, map[string]string{"impact": "5"})
	s.edit(bID, map[string]string{"title": "Remote B, edited"})
	h.editRisk(d.ID, func(r *model.Risk) { r.Title = "D hub" })
	s.edit(h.link(b.Name, d.ID).ExternalID, map[string]string{"title": "D remote"})
	s.create(map[string]string{"title": "Remote F", "kind": "threat", "likelihood": "1", "impact": "1", "status": "proposed"})
	s.create(map[string]string{"title": "Remote bad", "kind": "threat", "likelihood": "high", "impact": "1", "status": "proposed"})

	db := h.raw()
	dump, version := h.dump(db), dataVersion(t, db)
	records := remote(t, dir)

	plan := h.plan(b, conn)
	if version2 := dataVersion(t, db); version2 != version {
		t.Errorf("PRAGMA data_version moved from %d to %d: plan committed", version, version2)
	}
	if diff := cmp.Diff(dump, h.dump(db)); diff != "" {
		t.Errorf("plan changed the store (-before +after):\n%s", diff)
	}
	after := remote(t, dir)
	if after.Seq != records.Seq || !cmp.Equal(after.Records, records.Records) || after.PushWrites != records.PushWrites {
		t.Errorf("plan changed the remote")
	}
	if after.Calls["push"] != records.Calls["push"] {
		t.Errorf("plan pushed: %v → %v", records.Calls, after.Calls)
	}

	res := h.incomplete(b, conn)
	want := Counts{Pulled: 5, HubCreates: 1, HubUpdates: 2, Conflicts: 1, PushCreates: 1, PushUpdates: 3, Quarantined: 1}
	if diff := cmp.Diff(want, res.Counts); diff != "" {
		t.Errorf("sync counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(res.Counts, plan.Counts); diff != "" {
		t.Errorf("plan counts differ from the sync's (-sync +plan):\n%s", diff)
	}
	if diff := cmp.Diff(comparable(res.Changes), comparable(plan.Changes)); diff != "" {
		t.Errorf("plan changes differ from the sync's (-sync +plan):\n%s", diff)
	}
	if !plan.Plan || res.Plan {
		t.Errorf("Plan flags: plan %v, sync %v", plan.Plan, res.Plan)
	}
	noChanges(t, h.plan(b, conn))
	noChanges(t, h.incomplete(b, conn))
}

// comparable sorts changes and blanks what plan cannot know the same: hub
// ids (those of risks a pull creates are made in a transaction that is
// rolled back); the keys name the risks.
func comparable(cs []Change) []Change {
	out := make([]Change, len(cs))
	for i, c := range cs {
		c.HubID = ""
		c.Fields = append([]FieldChange(nil), c.Fields...)
		for j := range c.Fields {
			if c.Fields[j].Field == "marker" {
				c.Fields[j].Hub = "usmhub-…" // derived from the hub id
			}
		}
		out[i] = c
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Direction+a.Op+a.Key+a.ExternalID < b.Direction+b.Op+b.Key+b.ExternalID
	})
	return out
}

// A full reconcile of a remote that did not change changes nothing: every
// record it lists is seen, none is taken for deleted.
func TestFullReconcileOfUnchangedRemote(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	b := riskBinding("risks")
	for i := range 3 {
		h.addRisk("Risk " + strconv.Itoa(i))
	}
	s.create(map[string]string{"title": "Remote", "kind": "threat", "likelihood": "2", "impact": "2", "status": "proposed"})
	h.sync(b, conn)
	h.sync(b, conn)
	for i := range 2 {
		res := h.sync(b, conn, Options{Full: true})
		if res.Counts.Pulled != 4 {
			t.Errorf("full run %d pulled %d, want all 4", i, res.Counts.Pulled)
		}
		noChanges(t, res)
	}
	for _, r := range h.risks() {
		if r.Status != model.Proposed {
			t.Errorf("%s %q is %s after full reconciles of an unchanged remote", r.Key, r.Title, r.Status)
		}
	}
	if n := len(h.links(b.Name, store.LinkLinked)); n != 4 {
		t.Errorf("%d links linked, want 4", n)
	}
}

// on_delete settles a remote delete (a tombstone an incremental pull
// brings, or a record a full reconcile no longer lists) on the hub side,
// and the hub never creates the record again.
func TestOnDelete(t *testing.T) {
	for _, how := range []string{"tombstone", "unlisted"} {
		for _, policy := range []OnDelete{Close, Orphan, Delete} {
			t.Run(how+"/"+string(policy), func(t *testing.T) {
				h := newHub(t)
				conn, dir := faultInProcess(t, nil)
				b := riskBinding("risks", func(b *Binding) { b.OnDelete = policy })
				gone, kept := h.addRisk("Gone remotely"), h.addRisk("Kept")
				h.sync(b, conn)
				ext := h.link(b.Name, gone.ID).ExternalID
				editRemote(t, dir, func(s *fault.State) error {
					if how == "unlisted" {
						s.Purge(ext)
						return nil
					}
					return s.Delete(ext)
				})

				res := h.sync(b, conn)
				if how == "unlisted" {
					noChanges(t, res) // an incremental pull cannot tell
					res = h.sync(b, conn, Options{Full: true})
				}
				if c := res.Counts; c.HubDeletes != 1 || c.HubUpdates != 0 || c.PushCreates != 0 || c.PushUpdates != 0 {
					t.Fatalf("counts = %+v, want one hub delete", c)
				}
				if len(res.Changes) != 1 || !strings.Contains(res.Changes[0].Reason, "on_delete = "+string(policy)) {
					t.Errorf("changes = %+v", res.Changes)
				}
				wantStatus, wantState := model.Rejected, store.LinkDeleted
				if policy == Orphan {
					wantStatus, wantState = model.Proposed, store.LinkOrphaned
				}
				if got := h.risk(gone.ID).Status; got != wantStatus {
					t.Errorf("status = %s, want %s", got, wantStatus)
				}
				if l := h.link(b.Name, gone.ID); l.State != wantState || l.ExternalID != ext {
					t.Errorf("link = %+v, want %s to %s", l, wantState, ext)
				}
				if got := h.risk(kept.ID); got.Status != model.Proposed || got.Version != kept.Version {
					t.Errorf("the other risk changed: %+v", got)
				}

				// The hub edits the risk: it is not created again remotely.
				h.editRisk(gone.ID, func(r *model.Risk) { r.Owner = "someone" })
				res = h.sync(b, conn, Options{Full: true})
				noChanges(t, res)
				if n := len(remote(t, dir).Live()); n != 1 {
					t.Errorf("remote holds %d live records, want 1", n)
				}
				noChanges(t, h.sync(b, conn))
			})
		}
	}
}

// sdkFields are valid remote fields of a new risk.
func sdkFields(title string) map[string]string {
	return map[string]string{connector.FieldTitle: title, connector.FieldKind: "threat", connector.FieldLikelihood: "2", connector.FieldImpact: "3", connector.FieldStatus: "proposed"}
}

// A record quarantined once and listed again unchanged (a lookback, a full
// reconcile) is nothing new: the run changes nothing and writes nothing.
func TestQuarantinedRecordListedAgain(t *testing.T) {
	for _, sd := range sides {
		t.Run(sd.name, func(t *testing.T) {
			h := newHub(t)
			s := sd.make(t)
			b := riskBinding("risks")
			s.create(map[string]string{"title": "Good", "kind": "threat", "likelihood": "2", "impact": "2", "effort": "1", "status": "proposed"})
			bad := s.create(map[string]string{"title": "Bad", "kind": "threat", "likelihood": "high", "impact": "2", "effort": "1", "status": "proposed"})
			res := h.incomplete(b, s.conn)
			if c := res.Counts; c.HubCreates != 1 || c.Quarantined != 1 {
				t.Fatalf("counts = %+v", c)
			}
			h.incomplete(b, s.conn) // the file connector's push of the key adds columns to the bad row

			// runs and bindings record each run, and a full reconcile marks
			// the links it saw; nothing else may move.
			db := h.raw()
			data := []string{"audit", "quarantine", "risks", "votes"}
			before, links := h.dump(db, data...), h.dump(db, "links")
			for _, full := range []bool{false, true} {
				res := h.incomplete(b, s.conn, Options{Full: full})
				noChanges(t, res)
				noChanges(t, h.sync(b, s.conn, Options{Plan: true, Full: full}))
				if diff := cmp.Diff(before, h.dump(db, data...)); diff != "" {
					t.Errorf("a quiet run (full %v) wrote (-before +after):\n%s", full, diff)
				}
				if !full {
					if diff := cmp.Diff(links, h.dump(db, "links")); diff != "" {
						t.Errorf("a quiet run wrote links (-before +after):\n%s", diff)
					}
				}
			}
			if q := h.quarantine(b.Name); len(q) != 1 || q[0].ExternalID != bad {
				t.Errorf("quarantine = %+v", q)
			}
		})
	}
}

// Every hub risk has at most one remote record and every remote record at
// most one hub risk: a remote record carrying the marker of a risk with no
// link (a create whose link was lost) is linked, not created again; a
// second record carrying a linked risk's marker is quarantined.
func TestMarkersLinkOnce(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	b := riskBinding("risks")
	lost, linked := h.addRisk("Link lost"), h.addRisk("Linked")
	h.sync(b, conn, Options{}) // creates both
	// The hub forgets one link (a restored backup) and someone copies the
	// other's record, marker and all.
	if err := h.st.Update(context.Background(), store.Actor{Name: "cli:test"}, func(tx store.Tx) error {
		return tx.DeleteLink(b.Name, lost.ID)
	}); err != nil {
		t.Fatal(err)
	}
	var dup string
	editRemote(t, dir, func(st *fault.State) error {
		dup = st.Create(connector.Marker(linked.ID), RiskFields(linked)).ID
		return nil
	})
	res := h.incomplete(b, conn, Options{Full: true})
	if c := res.Counts; c.Linked != 1 || c.Quarantined != 1 || c.PushCreates != 0 || c.HubCreates != 0 {
		t.Fatalf("counts = %+v, want the lost link found and the copy quarantined", c)
	}
	q := h.quarantine(b.Name)
	if len(q) != 1 || q[0].ExternalID != dup || !strings.Contains(q[0].Reason, "duplicate") {
		t.Errorf("quarantine = %+v", q)
	}
	if n := len(s.records()); n != 3 {
		t.Errorf("remote holds %d records, want the 2 and the copy", n)
	}
	if l := h.link(b.Name, lost.ID); l.State != store.LinkLinked || len(s.byMarker(lost.ID)) != 1 || l.ExternalID != s.byMarker(lost.ID)[0].id {
		t.Errorf("link = %+v", l)
	}
	noChanges(t, h.incomplete(b, conn))
}

// A linked record the hub cannot read (a status map_status does not know),
// listed by a full reconcile, is quarantined, not taken for gone.
func TestUnreadableRecordIsNotGone(t *testing.T) {
	h := newHub(t)
	conn, dir := faultInProcess(t, nil)
	s := faultSide(t, conn, dir)
	b := riskBinding("risks", func(b *Binding) { b.MapStatus = map[string]string{"proposed": "New", "accepted": "Open"} })
	r := h.addRisk("Mapped")
	h.sync(b, conn)
	ext := h.link(b.Name, r.ID).ExternalID
	if got := s.byID(t, ext).fields["status"]; got != "New" {
		t.Fatalf("remote status = %q, want the mapped New", got)
	}
	s.edit(ext, map[string]string{"status": "Bogus", "impact": "5"})
	res := h.incomplete(b, conn, Options{Full: true})
	if c := res.Counts; c.Quarantined != 1 || c.HubDeletes != 0 || c.HubUpdates != 1 {
		t.Fatalf("counts = %+v, want the status held, the impact taken, nothing else", c)
	}
	if got := h.risk(r.ID).Impact; got != 5 {
		t.Errorf("impact = %d: a field the hub cannot read kept the others out", got)
	}
	if held := h.link(b.Name, r.ID).Held["status"]; held.Value != "Bogus" || !strings.Contains(held.Reason, "map_status") {
		t.Errorf("held status = %+v", held)
	}
	if got := h.risk(r.ID).Status; got != model.Proposed {
		t.Errorf("status = %s", got)
	}
	if l := h.link(b.Name, r.ID); l.State != store.LinkLinked {
		t.Errorf("link = %+v", l)
	}
	s.edit(ext, map[string]string{"status": "Open"})
	res = h.sync(b, conn)
	if c := res.Counts; c.HubUpdates != 1 || c.Quarantined != 0 {
		t.Fatalf("after the fix: %+v", c)
	}
	if got := h.risk(r.ID).Status; got != model.Accepted {
		t.Errorf("status = %s, want accepted", got)
	}
	if q := h.quarantine(b.Name); len(q) != 0 {
		t.Errorf("quarantine = %+v", q)
	}
}
