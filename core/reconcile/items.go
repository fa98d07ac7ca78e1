package reconcile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// itemFields are the canonical fields of an item record, in a stable order.
// The key travels only when a record is first taken (the hub never changes
// an item's key); the source is the hub's: the binding's connector.
var itemFields = []string{connector.FieldItemName, connector.FieldItemType, connector.FieldItemStatus, connector.FieldItemOwner, connector.FieldItemDescription}

// ItemFields returns an item's canonical fields as the protocol carries
// them.
func ItemFields(it model.Item) map[string]string {
	return map[string]string{
		connector.FieldItemKey:         it.Key,
		connector.FieldItemName:        it.Name,
		connector.FieldItemType:        it.Type,
		connector.FieldItemStatus:      string(it.Status),
		connector.FieldItemOwner:       it.Owner,
		connector.FieldItemDescription: normalise(it.Description),
	}
}

// items runs an item binding: the configuration items of the tool that
// keeps the managed infrastructure register (the BIR) come into the hub,
// and, where the connector and the direction allow, the hub's items go out.
func (r *run) items() error {
	c := r.desc.Capability(connector.KindItem)
	pull, push := r.b.Direction.pulls() && c.Pull, r.b.Direction.pushes() && c.Push
	if !pull && !push {
		return fmt.Errorf("connector %s can neither pull nor push configuration items in direction %s", r.b.Connector, r.b.Direction)
	}
	if pull {
		if err := r.pull(puller{record: r.pullItem, gone: func(tx store.Tx, l store.Link) error {
			return r.itemGone(tx, l, "not listed by a full reconcile")
		}}); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
	}
	if push {
		if err := r.pushItems(); err != nil {
			return fmt.Errorf("push: %w", err)
		}
	}
	return nil
}

// itemHubFields reads a record's item fields in the hub's spelling: the
// status through map_status (or as the hub spells it), the rest as sent.
// A status it cannot read is returned as the problem.
func (r *run) itemHubFields(f map[string]string) (map[string]string, string) {
	out := make(map[string]string, len(f))
	for _, k := range append([]string{connector.FieldItemKey}, itemFields...) {
		if v, ok := f[k]; ok {
			out[k] = v
		}
	}
	if k := connector.FieldItemDescription; out[k] != "" {
		out[k] = normalise(out[k])
	}
	v, ok := f[connector.FieldItemStatus]
	if !ok {
		return out, ""
	}
	if hv, ok := r.sm.toHub[strings.ToLower(strings.TrimSpace(v))]; ok {
		out[connector.FieldItemStatus] = hv
		return out, ""
	}
	if s := model.ParseItemStatus(v); s.Valid() {
		out[connector.FieldItemStatus] = string(s)
		return out, ""
	}
	return out, fmt.Sprintf("status %q is no item status (%s); map it in the sync's map_status, e.g. map_status = { in_use = %q }",
		v, itemStatusList(), v)
}

func itemStatusList() string {
	parts := make([]string, len(model.ItemStatuses))
	for i, s := range model.ItemStatuses {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// pullItem takes one pulled record into the register: a linked item
// merges it field by field against the last agreed base (the binding's
// authority settles what both changed), a new one is linked to the item
// with its key (imported before) or created.
func (r *run) pullItem(tx store.Tx, rec connector.Record, full bool) error {
	r.res.Counts.Pulled++
	if h, ok := r.heads[rec.ExternalID]; ok && !rec.Deleted && h.State == store.LinkLinked && h.RemoteVersion != "" && h.RemoteVersion == rec.Version {
		return nil // unchanged (and, in a full listing, marked seen with its page)
	}
	link, err := tx.LinkByExternal(r.b.Name, rec.ExternalID)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if known && full && link.SeenRun != r.res.RunID {
		link.SeenRun = r.res.RunID
		if err := tx.PutLink(link); err != nil {
			return err
		}
	}
	if rec.Deleted {
		if known && link.State == store.LinkLinked {
			return r.itemGone(tx, link, "deleted remotely")
		}
		return nil
	}
	fields, problem := r.itemHubFields(rec.Fields)
	hubID := ""
	if known {
		hubID = link.HubID
	}
	if problem != "" {
		return r.quarantine(tx, rec, hubID, problem)
	}
	var it model.Item
	if known && link.State == store.LinkLinked {
		it, err = tx.Item(link.HubID)
		if errors.Is(err, store.ErrNotFound) {
			known = false
		} else if err != nil {
			return err
		}
	}
	if !known || link.State != store.LinkLinked {
		return r.newItem(tx, rec, fields, full)
	}
	delete(fields, connector.FieldItemKey)
	m := Merge(link.Base, ItemFields(it), fields, r.b.Authority.Owner)
	if len(m.ToHub) > 0 {
		cand := it
		for f, v := range m.ToHub {
			cand.SetField(f, v)
		}
		if err := cand.Validate(); err != nil {
			return r.quarantine(tx, rec, it.ID, flatten(err))
		}
		if err := tx.UpdateItem(&cand); err != nil {
			return err
		}
		it = cand
		r.res.Counts.HubUpdates++
		r.res.add(Change{Direction: "pull", Op: "update", Key: it.Key, HubID: it.ID, ExternalID: rec.ExternalID, Fields: m.Changes})
	}
	r.res.Counts.Conflicts += m.Conflicts()
	link.Base, link.RemoteVersion = m.NewBase, rec.Version
	if len(m.ToRemote) == 0 {
		link.HubVersion = it.Version
	}
	if full {
		link.SeenRun = r.res.RunID
	}
	if err := tx.PutLink(link); err != nil {
		return err
	}
	return tx.ReleaseQuarantine(r.b.Name, rec.ExternalID) // an earlier version was refused
}

// newItem takes a record the binding has no link for: the item with its key
// (imported, or held by another binding) is adopted; else a new item is
// created with the binding's connector as its source.
func (r *run) newItem(tx store.Tx, rec connector.Record, fields map[string]string, full bool) error {
	key := strings.TrimSpace(fields[connector.FieldItemKey])
	var it model.Item
	op := "create"
	if key != "" {
		existing, err := tx.Item(key)
		switch {
		case err == nil:
			if l, err := tx.Link(r.b.Name, existing.ID); err == nil && l.ExternalID != rec.ExternalID && l.State == store.LinkLinked {
				return r.quarantine(tx, rec, existing.ID, fmt.Sprintf("key %s is already linked to remote record %s of this binding", key, l.ExternalID))
			}
			it, op = existing, "link"
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	cand := it
	if op == "create" {
		cand = model.Item{Key: key, Status: model.DefaultItemStatus}
	}
	for _, f := range itemFields {
		if v, ok := fields[f]; ok {
			cand.SetField(f, v)
		}
	}
	cand.Source = r.b.Connector
	if err := cand.Validate(); err != nil {
		return r.quarantine(tx, rec, "", flatten(err))
	}
	var changes []FieldChange
	if op == "create" {
		if err := tx.CreateItem(&cand); err != nil {
			return err
		}
		r.res.Counts.HubCreates++
		changes = created(ItemFields(cand))
	} else {
		for _, f := range itemFields {
			if o, n := it.Field(f), cand.Field(f); o != n {
				changes = append(changes, FieldChange{Field: f, Hub: o, Remote: n, Apply: Hub})
			}
		}
		if err := tx.UpdateItem(&cand); err != nil {
			return err
		}
		r.res.Counts.Linked++
	}
	r.res.add(Change{Direction: "pull", Op: op, Key: cand.Key, HubID: cand.ID, ExternalID: rec.ExternalID, Fields: changes})
	base := ItemFields(cand)
	l := store.Link{Binding: r.b.Name, HubID: cand.ID, ExternalID: rec.ExternalID, State: store.LinkLinked,
		RemoteVersion: rec.Version, Base: base, HubVersion: cand.Version}
	if rec.Marker != "" {
		l.Base[markerKey] = rec.Marker
	}
	if full {
		l.SeenRun = r.res.RunID
	}
	if err := tx.PutLink(l); err != nil {
		return err
	}
	return tx.ReleaseQuarantine(r.b.Name, rec.ExternalID)
}

// itemGone settles an item whose remote record was deleted (or not listed
// by a full reconcile): on_delete close or delete retire it (the register
// keeps its history, and the risks naming it still do), orphan keeps it as
// it is; the link goes either way.
func (r *run) itemGone(tx store.Tx, l store.Link, why string) error {
	if err := r.spendDelete(tx, 1); err != nil {
		return err
	}
	if r.b.OnDelete != Orphan {
		it, err := tx.Item(l.HubID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case it.Status != model.ItemRetired:
			it.Status = model.ItemRetired
			if err := tx.UpdateItem(&it); err != nil {
				return err
			}
			r.res.Counts.HubDeletes++
			r.res.add(Change{Direction: "pull", Op: "delete", Key: it.Key, HubID: it.ID, ExternalID: l.ExternalID, Reason: "retired: " + why})
		}
	}
	return tx.DeleteLink(r.b.Name, l.HubID)
}

// pushItems sends the hub's items to a tool that takes them: items never
// linked are created (a pending link first, resolved through Find), linked
// ones send the fields that differ from the last agreed base.
func (r *run) pushItems() error {
	reload := func(rd store.Reader, hubID string) (pushItem, error) {
		it, err := rd.Item(hubID)
		return r.createItem(it.ID, it.Key, it.Version, ItemFields(it)), err
	}
	if err := r.resolvePending(reload, nil); err != nil {
		return fmt.Errorf("resolve pending creates: %w", err)
	}
	var batch []pushItem
	var settled []store.Link
	if err := r.view(func(rd store.Reader) error {
		return rd.Items(store.ItemFilter{}, func(it model.Item) error {
			l, err := rd.Link(r.b.Name, it.ID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				batch = append(batch, r.createItem(it.ID, it.Key, it.Version, ItemFields(it)))
			case err != nil:
				return err
			case (l.HubVersion == it.Version && !r.opts.Full && len(l.Held) == 0) || l.State == store.LinkPending || l.State == store.LinkOrphaned || l.State == store.LinkDeleted:
			case l.State == store.LinkQuarantined && l.ExternalID == "":
				batch = append(batch, r.createItem(it.ID, it.Key, it.Version, ItemFields(it)))
			default:
				if p, ok := r.updateItem(it.ID, it.Key, it.Version, &l, ItemFields(it)); ok {
					batch = append(batch, p)
				} else if l.HubVersion != it.Version {
					l.HubVersion = it.Version
					settled = append(settled, l)
				}
			}
			return nil
		})
	}); err != nil {
		return err
	}
	for start := 0; start < len(batch); start += r.b.BatchSize {
		if err := r.flush(batch[start:min(start+r.b.BatchSize, len(batch))]); err != nil {
			return err
		}
	}
	if err := r.settle(settled); err != nil {
		return err
	}
	return r.retryCreates(reload, nil)
}
