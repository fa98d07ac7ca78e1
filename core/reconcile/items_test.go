package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// assetRegister is a tool's register of assets as a connector serves it:
// records with versions, a change feed by sequence (the cursor), creates
// looked up by marker. It is the shape of RT's assets (connectors/rt,
// proved against a real RT in e2e/rt); here the engine's rules are tested
// on their own.
type assetRegister struct {
	push    bool
	seq     int
	records map[string]*connector.Record
	changed map[string]int // external id → seq of its last change
	pushes  int
}

func newAssetRegister(push bool) *assetRegister {
	return &assetRegister{push: push, records: map[string]*connector.Record{}, changed: map[string]int{}}
}

func (a *assetRegister) put(id string, fields map[string]string, deleted bool) {
	a.seq++
	rec := a.records[id]
	if rec == nil {
		rec = &connector.Record{ExternalID: id, Fields: map[string]string{}}
		a.records[id] = rec
	}
	for k, v := range fields {
		rec.Fields[k] = v
	}
	rec.Deleted = deleted
	rec.Version = strconv.Itoa(a.seq)
	a.changed[id] = a.seq
}

func (a *assetRegister) Describe(context.Context) (connector.Description, error) {
	return connector.Description{Name: "assets",
		Capabilities: []connector.Capability{{Kind: connector.KindItem, Pull: true, Push: a.push}}}, nil
}

func (a *assetRegister) Configure(context.Context, connector.Config) error { return nil }

func (a *assetRegister) Check(context.Context) error { return nil }

func (a *assetRegister) Publish(context.Context, connector.Report) (connector.Published, error) {
	return connector.Published{}, connector.ErrUnsupported
}

func (a *assetRegister) Pull(_ context.Context, req connector.PullRequest, send func(connector.Batch) error) error {
	since, _ := strconv.Atoi(req.Cursor)
	var ids []string
	for id, s := range a.changed {
		if s > since && (req.Cursor != "" || !a.records[id].Deleted) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return a.changed[ids[i]] < a.changed[ids[j]] })
	var recs []connector.Record
	for _, id := range ids {
		r := *a.records[id]
		r.Fields = copyFields(r.Fields)
		recs = append(recs, r)
	}
	return send(connector.Batch{Records: recs, Cursor: strconv.Itoa(a.seq)})
}

func (a *assetRegister) Push(_ context.Context, req connector.PushRequest) ([]connector.Result, error) {
	a.pushes++
	out := make([]connector.Result, len(req.Changes))
	for i, c := range req.Changes {
		id := c.ExternalID
		if c.Op == connector.OpCreate {
			id = fmt.Sprintf("A%d", len(a.records)+1)
		}
		f := copyFields(c.Fields)
		a.put(id, f, false)
		a.records[id].Marker = c.Marker
		out[i] = connector.Result{ExternalID: id, Version: a.records[id].Version, Fields: copyFields(a.records[id].Fields)}
	}
	return out, nil
}

func (a *assetRegister) Find(_ context.Context, _ connector.EntityKind, marker string) (*connector.Record, error) {
	for _, r := range a.records {
		if r.Marker == marker {
			c := *r
			return &c, nil
		}
	}
	return nil, nil
}

func (h *hub) items() map[string]model.Item {
	h.t.Helper()
	out := map[string]model.Item{}
	h.view(func(r store.Reader) error {
		return r.Items(store.ItemFilter{}, func(it model.Item) error { out[it.Key] = it; return nil })
	})
	return out
}

// Items come in from the register: created with the connector as their
// source, a changed asset updates its item, a status outside the model
// (and map_status) is quarantined with the reason, an item imported before
// is linked by its key instead of doubled, a deleted asset retires its item,
// and a quiet run takes nothing.
func TestItemsPull(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	if err := h.eng.Store.Update(ctx, store.Actor{Name: "import:cmdb.csv"}, func(tx store.Tx) error {
		return tx.CreateItem(&model.Item{Key: "CI-9", Name: "old name", Source: "import:cmdb.csv"})
	}); err != nil {
		t.Fatal(err)
	}
	reg := newAssetRegister(false)
	reg.put("1", map[string]string{"key": "CI-1", "name": "web-01", "type": "Servers", "status": "in-use", "owner": "ops"}, false)
	reg.put("2", map[string]string{"key": "CI-2", "name": "db-01", "status": "allocated"}, false)
	reg.put("9", map[string]string{"key": "CI-9", "name": "lb-01", "status": "in-use"}, false)
	reg.put("3", map[string]string{"key": "CI-3", "name": "stolen laptop", "status": "stolen"}, false)
	b := Binding{Name: "bir", Kind: connector.KindItem, Connector: "rt.main", Direction: Pull,
		Authority: Authority{Default: Remote}, MapStatus: map[string]string{"planned": "allocated", "in_use": "in-use"}}

	res := h.incomplete(b, reg)
	if c := res.Counts; c.Pulled != 4 || c.HubCreates != 2 || c.Linked != 1 || c.Quarantined != 1 {
		t.Fatalf("first pull: %+v", c)
	}
	items := h.items()
	if it := items["CI-1"]; it.Name != "web-01" || it.Status != model.ItemInUse || it.Source != "rt.main" || it.Type != "Servers" {
		t.Errorf("CI-1 = %+v", it)
	}
	if it := items["CI-2"]; it.Status != model.ItemPlanned {
		t.Errorf("CI-2 status %q: map_status should read allocated as planned", it.Status)
	}
	if it := items["CI-9"]; it.Name != "lb-01" || it.Source != "rt.main" || len(items) != 3 {
		t.Errorf("the imported CI-9 was not linked by its key: %+v (%d items)", it, len(items))
	}
	q := h.quarantine(b.Name)
	if len(q) != 1 || !strings.Contains(q[0].Reason, `status "stolen" is no item status`) || !strings.Contains(q[0].Reason, "map_status") {
		t.Errorf("quarantine = %+v", q)
	}

	// Quiet: nothing changed remotely, nothing taken.
	res = h.incomplete(b, reg)
	if res.Counts.Pulled != 0 || res.Counts.HubUpdates != 0 {
		t.Errorf("quiet run: %+v", res.Counts)
	}

	// Edits: a rename, the stolen laptop mapped after all, an asset gone.
	reg.put("1", map[string]string{"name": "web-01.example", "status": "in-repair"}, false)
	reg.put("3", map[string]string{"status": "in-use"}, false)
	reg.put("2", nil, true)
	res = h.sync(b, reg)
	if c := res.Counts; c.HubUpdates != 1 || c.HubCreates != 1 || c.HubDeletes != 1 {
		t.Fatalf("after edits: %+v", c)
	}
	items = h.items()
	if it := items["CI-1"]; it.Name != "web-01.example" || it.Status != model.ItemInRepair {
		t.Errorf("CI-1 after the edit: %+v", it)
	}
	if items["CI-2"].Status != model.ItemRetired || items["CI-3"].Status != model.ItemInUse {
		t.Errorf("CI-2 %q (want retired), CI-3 %q (want in_use)", items["CI-2"].Status, items["CI-3"].Status)
	}
	if len(h.quarantine(b.Name)) != 0 {
		t.Errorf("the quarantine of asset 3 was not released once it was taken")
	}
	var who []string
	for _, e := range h.audit(store.AuditFilter{EntityID: "CI-1"}) {
		who = append(who, e.Actor+":"+e.Field)
	}
	if got := strings.Join(who, " "); !strings.Contains(got, "sync:bir:name") || !strings.Contains(got, "sync:bir:status") {
		t.Errorf("audit of CI-1: %s", got)
	}
}

// Where the tool takes items, the hub's go out: an imported item is created
// once (a pending link, then linked), an edit is sent as the fields that
// changed, and a run with nothing to send pushes nothing.
func TestItemsPush(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	var web model.Item
	if err := h.eng.Store.Update(ctx, store.Actor{Name: "cli:alice"}, func(tx store.Tx) error {
		web = model.Item{Name: "web-01", Type: "server"}
		return tx.CreateItem(&web)
	}); err != nil {
		t.Fatal(err)
	}
	reg := newAssetRegister(true)
	b := Binding{Name: "bir", Kind: connector.KindItem, Connector: "rt.main", Direction: Both, Authority: Authority{Default: Hub}}
	res := h.sync(b, reg)
	if res.Counts.PushCreates != 1 || len(reg.records) != 1 {
		t.Fatalf("first push: %+v, %d records", res.Counts, len(reg.records))
	}
	rec := reg.records["A1"]
	if rec.Marker != connector.Marker(web.ID) || rec.Fields["name"] != "web-01" || rec.Fields["key"] != web.Key {
		t.Errorf("pushed record %+v", rec)
	}
	if err := h.eng.Store.Update(ctx, store.Actor{Name: "cli:alice"}, func(tx store.Tx) error {
		it, err := tx.Item(web.Key)
		if err != nil {
			return err
		}
		it.Owner = "ops"
		return tx.UpdateItem(&it)
	}); err != nil {
		t.Fatal(err)
	}
	res = h.sync(b, reg)
	if res.Counts.PushUpdates != 1 || reg.records["A1"].Fields["owner"] != "ops" {
		t.Fatalf("update: %+v, remote %+v", res.Counts, reg.records["A1"].Fields)
	}
	pushes := reg.pushes
	res = h.sync(b, reg)
	if reg.pushes != pushes || res.Counts.PushUpdates+res.Counts.PushCreates != 0 {
		t.Errorf("a run with nothing to send pushed: %+v", res.Counts)
	}
}
