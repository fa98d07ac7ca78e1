package reconcile

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/ingest"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// risks runs a risk binding: resolve pending creates, pull, push.
func (r *run) risks() error {
	c := r.desc.Capability(connector.KindRisk)
	pull, push := r.b.Direction.pulls() && c.Pull, r.b.Direction.pushes() && c.Push
	if !pull && !push {
		return fmt.Errorf("connector %s can neither pull nor push risks in direction %s", r.b.Connector, r.b.Direction)
	}
	reload := func(rd store.Reader, hubID string) (pushItem, error) {
		risk, err := rd.Risk(hubID)
		return r.createItem(risk.ID, risk.Key, risk.Version, RiskFields(risk)), err
	}
	var merge func(store.Tx, connector.Record) error
	if pull {
		merge = func(tx store.Tx, rec connector.Record) error { return r.takeRisk(tx, rec, false) }
	}
	if push {
		if err := r.resolvePending(reload, merge); err != nil {
			return fmt.Errorf("resolve pending creates: %w", err)
		}
	}
	if pull {
		p := puller{record: r.pullRisk, gone: func(tx store.Tx, l store.Link) error {
			return r.remoteDeleted(tx, l, "not listed by a full reconcile")
		}}
		if push && !r.opts.Plan && !r.opts.Full {
			initiative, kind, process := r.b.riskScope()
			p.pushed = &store.RiskFilter{Initiative: initiative, Kind: kind, Process: process}
		}
		if err := r.pull(p); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
	}
	var batch []pushItem
	bp := &batch
	if !push {
		bp = nil
	}
	visited, err := r.revisitHeld(bp)
	if err != nil {
		return fmt.Errorf("held fields: %w", err)
	}
	if push {
		if err := r.pushRisks(batch, visited); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		if err := r.retryCreates(reload, merge); err != nil {
			return err
		}
	}
	return nil
}

// retryCreates settles, within the run, creates that failed transiently (a
// 429, a 503, a plugin that died): after the wait the remote asked for, they
// are resolved like any pending create — Find first, and created again only
// when Find says they are not there.
func (r *run) retryCreates(reload func(rd store.Reader, hubID string) (pushItem, error), merge func(tx store.Tx, rec connector.Record) error) error {
	tries := r.e.Retries
	if tries == 0 {
		tries = 3
	}
	for attempt := 0; attempt < tries && r.createsFailed && !r.opts.Plan; attempt++ {
		wait := max(r.createsWait, r.e.retryBase()<<attempt)
		r.createsFailed, r.createsWait = false, 0
		r.log.Warn("creates failed transiently; resolving them through Find", "attempt", attempt+1, "wait", wait)
		select {
		case <-time.After(wait):
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
		if err := r.resolvePending(reload, merge); err != nil {
			return fmt.Errorf("resolve pending creates: %w", err)
		}
	}
	return nil
}

// resolvePending settles the creates whose outcome is unknown (the run that
// pushed them died before storing the result): Find the hub marker; found →
// link it; not found once the connector's search lag has passed → create
// again; otherwise leave it pending.
func (r *run) resolvePending(reload func(rd store.Reader, hubID string) (pushItem, error), merge func(tx store.Tx, rec connector.Record) error) error {
	var pending []store.Link
	if err := r.view(func(rd store.Reader) error {
		return rd.Links(r.b.Name, store.LinkPending, func(l store.Link) error {
			pending = append(pending, l)
			return nil
		})
	}); err != nil {
		return err
	}
	var again []pushItem
	for i, l := range pending {
		if i > 0 && i%50 == 0 && !r.opts.Plan {
			// Many slow Finds must not outlast the lease.
			if err := r.update(r.renew); err != nil {
				return err
			}
		}
		var rec *connector.Record
		err := r.retry("find", func() (err error) {
			rec, err = r.conn.Find(r.ctx, r.b.Kind, connector.Marker(l.HubID))
			return err
		})
		if err != nil {
			return fmt.Errorf("find %s: %w", connector.Marker(l.HubID), err)
		}
		if rec == nil {
			if r.e.now().Sub(l.AttemptedAt) < r.desc.SearchLag {
				continue // the first attempt may not be searchable yet
			}
			var it pushItem
			if err := r.view(func(rd store.Reader) error {
				var err error
				it, err = reload(rd, l.HubID)
				return err
			}); err != nil {
				return err
			}
			again = append(again, it)
			continue
		}
		found := *rec
		err = r.update(func(tx store.Tx) error {
			// The create did happen: link it with the values that were
			// pushed as base, and merge the record as pulled so that edits
			// made remotely since are taken, not overwritten.
			l.State, l.ExternalID, l.RemoteVersion, l.Reason = store.LinkLinked, found.ExternalID, "", ""
			if err := tx.PutLink(l); err != nil {
				return err
			}
			r.res.Counts.Linked++
			r.res.add(Change{Direction: "pull", Op: "link", HubID: l.HubID, ExternalID: found.ExternalID, Reason: "a create whose outcome was unknown was found by its marker"})
			if merge == nil {
				l.RemoteVersion = found.Version
				return tx.PutLink(l)
			}
			return merge(tx, found)
		})
		if err != nil {
			return err
		}
	}
	for start := 0; start < len(again); start += r.b.BatchSize {
		if err := r.flush(again[start:min(start+r.b.BatchSize, len(again))]); err != nil {
			return err
		}
	}
	return nil
}

// puller says how a kind takes pulled records.
type puller struct {
	// record takes one record in the page's transaction.
	record func(tx store.Tx, rec connector.Record, full bool) error
	// gone settles a linked record a full reconcile did not list.
	gone func(tx store.Tx, l store.Link) error
	// atEnd, when set, is called in the transaction that stores the final
	// cursor; pages then store no cursor of their own (the kind keeps what
	// it pulled in memory until then).
	atEnd func(tx store.Tx) error
	// pushed, when set, is the scope of a binding that also pushes risks:
	// a page that leaves nothing to push where nothing waited before
	// moves the binding's push mark past its own changes, so the push
	// phase does not read them again (they are what the remote holds).
	pushed *store.RiskFilter
}

// pull pulls changed remote records page by page, each page and its cursor
// in one transaction; a full reconcile then settles the records that
// disappeared.
func (r *run) pull(p puller) error {
	var st store.BindingState
	if err := r.view(func(rd store.Reader) error {
		var err error
		st, err = rd.BindingState(r.b.Name)
		return err
	}); err != nil {
		return err
	}
	full := r.opts.Full || st.Cursor == "" || (r.b.FullEvery > 0 && r.now.Sub(st.FullAt) >= r.b.FullEvery)
	cursor := st.Cursor
	if full {
		cursor = ""
	}
	pages := 0
	err := r.retry("pull", func() error {
		req := connector.PullRequest{Kind: r.b.Kind, Cursor: cursor, Lookback: r.b.Lookback}
		return r.conn.Pull(r.ctx, req, func(batch connector.Batch) error {
			if p.atEnd != nil {
				for _, rec := range batch.Records {
					if rec.Problem != "" {
						if err := r.update(func(tx store.Tx) error { return r.problem(tx, rec) }); err != nil {
							return fmt.Errorf("record %s: %w", rec.ExternalID, err)
						}
						continue
					}
					if err := p.record(nil, rec, full); err != nil {
						return fmt.Errorf("record %s: %w", rec.ExternalID, err)
					}
				}
				cursor = batch.Cursor
				return nil
			}
			next := st // what the page stores; st once it is stored
			err := r.update(func(tx store.Tx) error {
				next = st
				if err := r.headsOf(tx, batch.Records, full); err != nil {
					return err
				}
				defer func() { r.heads, r.linked = nil, nil }()
				caughtUp := false
				if p.pushed != nil && st.PushedScope == r.b.pushScope() && len(batch.Records) > 0 {
					_, pending, err := tx.PushPending(r.b.Name, *p.pushed, st.PushedSeq)
					if err != nil {
						return err
					}
					caughtUp = !pending
				}
				for _, rec := range batch.Records {
					record := p.record
					if rec.Problem != "" {
						record = func(tx store.Tx, rec connector.Record, _ bool) error { return r.problem(tx, rec) }
					}
					if err := record(tx, rec, full); err != nil {
						return fmt.Errorf("record %s: %w", rec.ExternalID, err)
					}
				}
				dirty := batch.Cursor != st.Cursor
				next.Cursor = batch.Cursor
				if caughtUp {
					seq, pending, err := tx.PushPending(r.b.Name, *p.pushed, st.PushedSeq)
					if err != nil {
						return err
					}
					if !pending && seq > st.PushedSeq {
						next.PushedSeq, dirty = seq, true
					}
				}
				if dirty {
					if err := tx.PutBindingState(next); err != nil {
						return err
					}
				}
				if len(batch.Records) == 0 {
					return nil
				}
				return r.renew(tx)
			})
			if err != nil {
				r.quarantined = nil // read again: the page's changes to it are gone
				return err
			}
			st = next
			cursor = batch.Cursor // a retry goes on from the last stored page
			pages++
			r.progress("pull", r.res.Counts.Pulled)
			return nil
		})
	})
	if err != nil {
		return err
	}
	if p.atEnd != nil {
		if err := r.update(func(tx store.Tx) error {
			if err := p.atEnd(tx); err != nil {
				return err
			}
			st.Cursor = cursor
			if full {
				st.FullAt = r.now
			}
			return tx.PutBindingState(st)
		}); err != nil {
			return err
		}
		return nil
	}
	if !full {
		return nil
	}
	var gone []store.Link
	if err := r.view(func(rd store.Reader) error {
		return rd.Links(r.b.Name, store.LinkLinked, func(l store.Link) error {
			if l.SeenRun != r.res.RunID {
				gone = append(gone, l)
			}
			return nil
		})
	}); err != nil {
		return err
	}
	return r.update(func(tx store.Tx) error {
		if err := r.checkDeletes(tx, len(gone)); err != nil {
			return err
		}
		for _, l := range gone {
			if err := p.gone(tx, l); err != nil {
				return err
			}
		}
		st.FullAt = r.now
		return tx.PutBindingState(st)
	})
}

// pullRisk takes one pulled remote record into the hub.
func (r *run) pullRisk(tx store.Tx, rec connector.Record, full bool) error {
	r.res.Counts.Pulled++
	return r.takeRisk(tx, rec, full)
}

// headsOf reads the links of a page's records in one query, so that the
// records whose version did not move (echoes, the bulk of a listing) cost no
// more; a full reconcile marks the page's links seen in one statement.
func (r *run) headsOf(tx store.Tx, recs []connector.Record, full bool) error {
	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = rec.ExternalID
	}
	if full {
		if err := tx.MarkSeen(r.b.Name, r.res.RunID, ids); err != nil {
			return err
		}
	}
	r.heads = make(map[string]store.LinkHead, len(recs))
	if err := tx.LinkHeads(r.b.Name, ids, func(h store.LinkHead) error { r.heads[h.ExternalID] = h; return nil }); err != nil {
		return err
	}
	// The page's deletions of linked records must fit the limit all
	// together: checked first, so the error counts them all.
	gone := 0
	var moved []string
	for _, rec := range recs {
		h, ok := r.heads[rec.ExternalID]
		if ok && rec.Deleted && h.State == store.LinkLinked {
			gone++
		}
		if ok && r.b.Kind == connector.KindRisk && !r.unchanged(rec, full) && rec.Problem == "" {
			moved = append(moved, rec.ExternalID)
		}
	}
	if len(moved) > 0 {
		r.linked = make(map[string]linkedRisk, len(moved))
		if err := tx.LinkedRisks(r.b.Name, moved, func(risk model.Risk, l store.Link) error {
			r.linked[l.ExternalID] = linkedRisk{risk: risk, link: l}
			return nil
		}); err != nil {
			return err
		}
	}
	return r.checkDeletes(tx, gone)
}

// linkedRisk is a link read with its hub risk.
type linkedRisk struct {
	risk model.Risk
	link store.Link
}

// unchanged reports whether a pulled record is known to its page's link
// heads as linked at the same version with nothing held: nothing to do (a
// full reconcile compares fields, so it never skips here).
func (r *run) unchanged(rec connector.Record, full bool) bool {
	h, ok := r.heads[rec.ExternalID]
	return ok && !full && !rec.Deleted && h.State == store.LinkLinked && !h.Held && h.RemoteVersion != "" && h.RemoteVersion == rec.Version
}

// takeRisk merges a remote record into the hub (pulled, or found by Find).
func (r *run) takeRisk(tx store.Tx, rec connector.Record, full bool) error {
	if r.unchanged(rec, full) {
		return nil
	}
	fields, unmapped := r.sm.hubFields(rec.Fields)
	var (
		link   store.Link
		cached *model.Risk
		err    error
	)
	if lr, ok := r.linked[rec.ExternalID]; ok {
		delete(r.linked, rec.ExternalID) // taken once: a record listed twice reads the link as the first left it
		link, cached = lr.link, &lr.risk
	} else {
		link, err = tx.LinkByExternal(r.b.Name, rec.ExternalID)
	}
	if errors.Is(err, store.ErrNotFound) {
		if rec.Deleted {
			return nil
		}
		if len(unmapped) > 0 {
			return r.quarantine(tx, rec, "", joinReasons(unmapped))
		}
		return r.pullNew(tx, rec, fields, full)
	}
	if err != nil {
		return err
	}
	// A full reconcile marks the link seen; where nothing else is stored,
	// seen stores that mark (else the end of the reconcile takes the record
	// for gone).
	seenBefore := link.SeenRun == r.res.RunID
	if full {
		link.SeenRun = r.res.RunID
	}
	seen := func() error {
		if !full || seenBefore {
			return nil
		}
		return tx.PutLink(link)
	}
	switch {
	case link.State == store.LinkOrphaned || link.State == store.LinkDeleted:
		return seen()
	case rec.Deleted:
		return r.remoteDeleted(tx, link, "deleted remotely")
	case link.RemoteVersion != "" && link.RemoteVersion == rec.Version && (!full || agrees(link, fields, unmapped)):
		// Nothing new: this is what stops echoes. A full reconcile also
		// compares the fields with the base, so drift a version hides (a
		// push that did not land as answered) is merged and settled.
		return seen()
	}
	var risk model.Risk
	if cached != nil {
		risk = *cached
	} else if risk, err = tx.Risk(link.HubID); errors.Is(err, store.ErrNotFound) {
		link.State, link.Reason = store.LinkOrphaned, "the hub risk no longer exists"
		return tx.PutLink(link)
	} else if err != nil {
		return err
	}
	if err := r.mergeRisk(tx, link, risk, rec, fields, unmapped); err != nil {
		return err
	}
	// Taken: a quarantine of an earlier version of the record is over.
	return r.unquarantine(tx, rec.ExternalID)
}

// mergeRisk merges the remote's fields (in the hub's spelling; rec.Fields
// in the remote's) into a linked risk, field by field against the last
// agreed base. A field the hub cannot take waits in the link (a pull hold)
// with its reason while the others are taken; base moves only for fields
// the hub took, so nothing is ever pushed over a remote value the hub has
// not seen. unmapped are remote fields that could not even be read (a
// status map_status does not know), with the reason.
func (r *run) mergeRisk(tx store.Tx, link store.Link, risk model.Risk, rec connector.Record, fields, unmapped map[string]string) error {
	base, unconfirmed := settleSent(link.Base, fields)
	hub := RiskFields(risk)
	m := Merge(base, hub, fields, r.b.Authority.Owner)
	for _, f := range sortedKeys(unconfirmed) {
		// The remote holds the old base: the update never landed, or it
		// did and someone set the old value back. It is sent again (not
		// judged a conflict), and the audit log keeps both values.
		if rv, ok := fields[f]; ok && rv == base[f] && hub[f] != rv {
			if err := tx.RecordAudit(model.AuditEntry{Entity: "risk", EntityID: risk.ID, Field: "resent:" + f,
				Old: "remote (" + r.b.Connector + " " + rec.ExternalID + "): " + rv,
				New: "hub: " + hub[f] + "; an update whose outcome was unknown (its run died) is sent again, over the remote's value if that was a later edit"}); err != nil {
				return err
			}
		}
	}

	// The holds of fields the remote sent are decided again below; push
	// holds of fields the remote changed since (or that now agree) are over.
	prev := link.Held
	held := map[string]store.Hold{}
	for f, h := range prev {
		rv, sent := fields[f]
		_, bad := unmapped[f]
		switch {
		case h.Side == store.HoldPull && (sent || bad):
		case h.Side == store.HoldPush && sent && (rv != base[f] || rv == hub[f]):
		default:
			held[f] = h
		}
	}
	hold := func(f, value, reason string) {
		held[f] = store.Hold{Side: store.HoldPull, Value: value, Reason: reason, Since: r.now}
		if h, ok := prev[f]; ok && h.Side == store.HoldPull && h.Value == value {
			held[f] = h // waiting already: not news
		}
	}
	for f, reason := range unmapped {
		hold(f, rec.Fields[f], reason)
	}
	if len(m.ToHub) > 0 {
		orig := risk
		refused := takeFields(&risk, m.ToHub)
		if len(refused) < len(m.ToHub) {
			if err := tx.UpdateRiskFrom(orig, &risk); err != nil {
				if !isRecordProblem(err) {
					return err
				}
				risk = orig
				for f := range m.ToHub {
					refused[f] = err.Error()
				}
			} else {
				r.res.Counts.HubUpdates++
			}
		}
		for f, reason := range refused {
			hold(f, rec.Fields[f], reason)
		}
	}

	var taken []FieldChange
	for _, c := range m.Changes {
		h, isHeld := held[c.Field]
		isHeld = isHeld && h.Side == store.HoldPull
		if c.Conflict {
			old, was := prev[c.Field]
			if !(isHeld && was && old.Side == store.HoldPull && old.Value == h.Value) {
				r.res.Counts.Conflicts++
				if err := tx.RecordAudit(model.AuditEntry{Entity: "risk", EntityID: risk.ID, Field: "conflict:" + c.Field,
					Old: "hub: " + c.Hub, New: fmt.Sprintf("remote (%s %s): %s; %s wins, owner of %s", r.b.Connector, rec.ExternalID, c.Remote, c.Winner, c.Field)}); err != nil {
					return err
				}
			}
		}
		if !isHeld {
			taken = append(taken, c)
		}
	}
	if len(taken) > 0 {
		r.res.add(Change{Direction: "pull", Op: "update", Key: risk.Key, HubID: risk.ID, ExternalID: rec.ExternalID, Fields: taken})
	}
	for _, f := range sortedKeys(held) {
		h := held[f]
		if old, ok := prev[f]; (ok && old == h) || h.Side != store.HoldPull {
			continue
		}
		r.res.Counts.Quarantined++
		r.res.add(Change{Direction: "pull", Op: "hold", Key: risk.Key, HubID: risk.ID, ExternalID: rec.ExternalID,
			Fields: []FieldChange{{Field: f, Base: base[f], Hub: hub[f], Remote: h.Value}}, Reason: h.Reason})
		if !r.opts.Plan {
			r.log.Warn("remote value held: the hub cannot take it", "key", risk.Key, "external_id", rec.ExternalID, "field", f, "value", h.Value, "reason", h.Reason)
		}
		if err := tx.RecordAudit(model.AuditEntry{Entity: "risk", EntityID: risk.ID, Field: "held:" + f,
			Old: "hub: " + hub[f], New: fmt.Sprintf("remote (%s %s): %s; not taken: %s", r.b.Connector, rec.ExternalID, h.Value, h.Reason)}); err != nil {
			return err
		}
	}

	newBase := m.NewBase
	for f, h := range held {
		if h.Side != store.HoldPull {
			continue
		}
		if bv, ok := base[f]; ok {
			newBase[f] = bv // not taken: the last agreed value stays the base
		} else {
			delete(newBase, f)
		}
	}
	if rec.Marker != "" || newBase[markerKey] == "" {
		newBase[markerKey] = rec.Marker
	}
	if len(held) == 0 {
		held = nil
	}
	link.Base, link.Held, link.State, link.Reason = newBase, held, store.LinkLinked, ""
	if rec.Version != "" {
		link.RemoteVersion = rec.Version
	}
	if len(r.pushDiff(&link, RiskFields(risk))) == 0 && newBase[markerKey] == connector.Marker(risk.ID) {
		link.HubVersion = risk.Version // in agreement; otherwise push sends the hub's side
	}
	return tx.PutLink(link)
}

// agrees reports whether a remote record's fields are all the link's base:
// nothing to merge on the remote's side.
func agrees(l store.Link, fields, unmapped map[string]string) bool {
	if len(unmapped) > 0 || len(l.Held) > 0 {
		return false
	}
	for f, v := range fields {
		if bv, ok := l.Base[f]; !ok || bv != v {
			return false
		}
	}
	return true
}

// takeFields applies the remote's fields to risk where the hub can take
// them: all at once when it can, else field by field, so one refused field
// (an illegal status move) does not keep the others out. It returns the
// refused fields with the reason; risk holds the rest.
func takeFields(risk *model.Risk, f map[string]string) map[string]string {
	orig := *risk
	cand := orig
	if ApplyRiskFields(&cand, f) == nil && acceptable(orig, cand) == nil {
		*risk = cand
		return map[string]string{}
	}
	refused := map[string]string{}
	for _, k := range sortedKeys(f) {
		c := *risk
		err := ApplyRiskFields(&c, map[string]string{k: f[k]})
		if err == nil {
			err = acceptable(orig, c)
		}
		if err != nil {
			refused[k] = flatten(err)
			continue
		}
		*risk = c
	}
	return refused
}

// acceptable checks what the store would refuse of a changed risk.
func acceptable(orig, cand model.Risk) error {
	if err := cand.Validate(); err != nil {
		return err
	}
	if cand.Status != orig.Status {
		return model.CheckTransition(orig.Status, cand.Status)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func joinReasons(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, m[k])
	}
	return strings.Join(parts, "; ")
}

// pushDiff is what a push of the hub's fields would send to a linked
// record: the fields that differ from base, less the held ones. A field the
// hub could not take (pull hold) is never sent over the remote's value; a
// value the remote refused (push hold) is sent again only when the value to
// send changed (the hub's value, or its spelling in map_status), by a full
// reconcile, and then with every other field that differs.
func (r *run) pushDiff(l *store.Link, hub map[string]string) map[string]string {
	diff := Diff(l.Base, hub)
	if len(l.Held) == 0 {
		return diff
	}
	again := r.opts.Full
	for f, h := range l.Held {
		if _, ok := diff[f]; ok && h.Side == store.HoldPush && r.sm.remoteValue(f, hub[f]) != h.Value {
			again = true
		}
	}
	for f, h := range l.Held {
		if h.Side == store.HoldPull || !again {
			delete(diff, f)
		}
	}
	return diff
}

// isRecordProblem tells a record the hub cannot take (validation, an
// illegal status change) from a failure of the store.
func isRecordProblem(err error) bool {
	var fe *model.FieldError
	return errors.Is(err, model.ErrTransition) || errors.As(err, &fe) || errors.Is(err, store.ErrConflict)
}

// pullNew takes a remote record no link knows: one of the hub's own (its
// marker names a hub risk: a create whose link was lost) or a new one.
func (r *run) pullNew(tx store.Tx, rec connector.Record, fields map[string]string, full bool) error {
	if hubID := connector.MarkerID(rec.Marker); hubID != "" {
		l, err := tx.Link(r.b.Name, hubID)
		switch {
		case err == nil && l.ExternalID != "" && l.ExternalID != rec.ExternalID && l.State == store.LinkLinked:
			return r.quarantine(tx, rec, hubID, fmt.Sprintf("a duplicate: remote record %s already carries the hub marker %s", l.ExternalID, rec.Marker))
		case err == nil:
			l.ExternalID, l.State, l.RemoteVersion, l.Reason = rec.ExternalID, store.LinkLinked, "", ""
			if err := tx.PutLink(l); err != nil {
				return err
			}
			r.res.Counts.Linked++
			r.res.add(Change{Direction: "pull", Op: "link", HubID: hubID, ExternalID: rec.ExternalID, Reason: "found by its hub marker"})
			return r.takeRisk(tx, rec, full)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if risk, err := tx.Risk(hubID); err == nil {
			// Ours, but this binding never linked it: take the remote as
			// agreed and let the hub's values follow on push.
			base := copyFields(fields)
			base[markerKey] = rec.Marker
			link := store.Link{Binding: r.b.Name, HubID: risk.ID, ExternalID: rec.ExternalID, State: store.LinkLinked,
				RemoteVersion: rec.Version, Base: base}
			if full {
				link.SeenRun = r.res.RunID
			}
			r.res.Counts.Linked++
			r.res.add(Change{Direction: "pull", Op: "link", Key: risk.Key, HubID: risk.ID, ExternalID: rec.ExternalID, Reason: "found by its hub marker"})
			return tx.PutLink(link)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if hubID := connector.MarkerID(rec.Marker); hubID != "" && !r.b.AdoptForeign {
		// Neither linked nor a risk of this hub: another hub's record.
		return r.quarantine(tx, rec, "", fmt.Sprintf("the record carries the marker %s of another usmhub (or of this hub's store before it was reset): it is left alone; "+
			"to take it over, set adopt_foreign = true in sync %q and run: usmhub sync -full %s", rec.Marker, r.b.Name, r.b.Name))
	}
	if !r.b.matches(fields) {
		return nil // outside the binding's scope
	}
	if adopted, err := r.adopt(tx, rec, fields, full); adopted || err != nil {
		return err
	}
	risk := model.Risk{Initiative: r.b.Initiative, Kind: ingest.DefaultKind, Likelihood: ingest.DefaultLikelihood,
		Impact: ingest.DefaultImpact, Effort: ingest.DefaultEffort, Status: ingest.DefaultStatus}
	given, copied := fields, false
	for _, f := range []string{connector.FieldKind, connector.FieldLikelihood, connector.FieldImpact, connector.FieldEffort, connector.FieldStatus} {
		if v, ok := fields[f]; ok && strings.TrimSpace(v) == "" {
			// An empty cell of a field with a default is the default, as
			// in an import: the push then writes it into the record.
			if !copied {
				given, copied = copyFields(fields), true
			}
			delete(given, f)
		}
	}
	if err := ApplyRiskFields(&risk, given); err != nil {
		return r.quarantine(tx, rec, "", err.Error())
	}
	if k := fields[connector.FieldKey]; ingest.ValidKey(k) {
		if _, err := tx.Risk(k); errors.Is(err, store.ErrNotFound) {
			risk.Key = k
		}
	}
	if err := risk.Validate(); err != nil {
		return r.quarantine(tx, rec, "", flatten(err))
	}
	if err := tx.CreateRisk(&risk); err != nil {
		if isRecordProblem(err) {
			return r.quarantine(tx, rec, "", err.Error())
		}
		return err
	}
	base := copyFields(fields)
	base[markerKey] = rec.Marker // none yet: the push phase writes it
	link := store.Link{Binding: r.b.Name, HubID: risk.ID, ExternalID: rec.ExternalID, State: store.LinkLinked,
		RemoteVersion: rec.Version, Base: base}
	if full {
		link.SeenRun = r.res.RunID
	}
	r.res.Counts.HubCreates++
	r.res.add(Change{Direction: "pull", Op: "create", Key: risk.Key, HubID: risk.ID, ExternalID: rec.ExternalID, Fields: created(fields)})
	if err := tx.PutLink(link); err != nil {
		return err
	}
	return r.unquarantine(tx, rec.ExternalID) // an earlier version was refused
}

// adopt links an unmarked remote record to the hub risk it names — by key,
// else by exact title within the initiative — when that risk is not linked
// in this binding yet: a first sync between a hub and a tool that already
// hold the same inventory (imported from the same spreadsheet) must not
// double it. The owner of the binding wins the fields that differ: the base
// is the loser's values, so the merge moves the winner's over.
func (r *run) adopt(tx store.Tx, rec connector.Record, fields map[string]string, full bool) (bool, error) {
	var risk model.Risk
	var err error
	if k := fields[connector.FieldKey]; k != "" {
		risk, err = tx.Risk(k)
	} else if t := fields[connector.FieldTitle]; t != "" {
		risk, err = tx.RiskByTitle(r.b.Initiative, t)
	} else {
		return false, nil
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && risk.Initiative != r.b.Initiative) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := tx.Link(r.b.Name, risk.ID); err == nil {
		return false, nil // linked to another record already
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	base := fields
	if r.b.Authority.Default == Remote {
		base = RiskFields(risk)
	}
	link := store.Link{Binding: r.b.Name, HubID: risk.ID, ExternalID: rec.ExternalID, State: store.LinkLinked, Base: base}
	if err := tx.PutLink(link); err != nil {
		return false, err
	}
	r.res.Counts.Linked++
	r.res.add(Change{Direction: "pull", Op: "link", Key: risk.Key, HubID: risk.ID, ExternalID: rec.ExternalID, Reason: "adopted: the hub already has this risk"})
	return true, r.takeRisk(tx, rec, full)
}

// remoteDeleted applies on_delete to the hub side of a link whose remote
// record is gone. The link stays (state orphaned or deleted) so that the
// push phase never creates the record again.
func (r *run) remoteDeleted(tx store.Tx, l store.Link, why string) error {
	if err := r.spendDelete(tx, 1); err != nil {
		return err
	}
	r.res.Counts.HubDeletes++
	if r.b.OnDelete != Orphan {
		risk, err := tx.Risk(l.HubID)
		if err == nil && risk.Status != model.Rejected && model.CheckTransition(risk.Status, model.Rejected) == nil {
			risk.Status = model.Rejected
			if err := tx.UpdateRisk(&risk); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r.res.add(Change{Direction: "pull", Op: "delete", Key: risk.Key, HubID: l.HubID, ExternalID: l.ExternalID, Reason: why + "; the risk is rejected (on_delete = " + string(r.b.OnDelete) + ")"})
		l.State = store.LinkDeleted
	} else {
		r.res.add(Change{Direction: "pull", Op: "delete", HubID: l.HubID, ExternalID: l.ExternalID, Reason: why + "; the risk is kept, unlinked (on_delete = orphan)"})
		l.State = store.LinkOrphaned
	}
	l.Reason = why
	return tx.PutLink(l)
}

// quarantine keeps a remote record the hub cannot take, with the reason;
// the rest of the page goes on.
func (r *run) quarantine(tx store.Tx, rec connector.Record, hubID, reason string) error {
	if err := r.loadQuarantine(tx); err != nil {
		return err
	}
	if q, ok := r.quarantined[rec.ExternalID]; ok && q.Reason == reason && q.HubID == hubID && maps.Equal(q.Fields, rec.Fields) {
		return nil // kept already, for the same reason: nothing new (a record listed again)
	}
	r.res.Counts.Quarantined++
	r.res.add(Change{Direction: "pull", Op: "quarantine", HubID: hubID, ExternalID: rec.ExternalID, Reason: reason})
	if !r.opts.Plan {
		r.log.Warn("record quarantined", "external_id", rec.ExternalID, "reason", reason)
	}
	q := store.Quarantined{Binding: r.b.Name, ExternalID: rec.ExternalID, HubID: hubID, Reason: reason, Fields: rec.Fields}
	if err := tx.QuarantineRecord(q); err != nil {
		return err
	}
	r.quarantined[rec.ExternalID] = q
	return nil
}

// loadQuarantine reads the binding's quarantine into r.quarantined, once a
// run (and again after a page that failed: its changes to it are gone).
func (r *run) loadQuarantine(rd store.Reader) error {
	if r.quarantined != nil {
		return nil
	}
	q := map[string]store.Quarantined{}
	if err := rd.Quarantine(r.b.Name, func(e store.Quarantined) error { q[e.ExternalID] = e; return nil }); err != nil {
		return err
	}
	r.quarantined = q
	return nil
}

// unquarantine ends the quarantine of a remote record the hub took: a statement
// only when it is quarantined (most records never are).
func (r *run) unquarantine(tx store.Tx, externalID string) error {
	if err := r.loadQuarantine(tx); err != nil {
		return err
	}
	if _, ok := r.quarantined[externalID]; !ok {
		return nil
	}
	delete(r.quarantined, externalID)
	return tx.ReleaseQuarantine(r.b.Name, externalID)
}

// problem quarantines a record its connector says cannot be taken as it
// stands (connector.Record.Problem), whatever its version. A linked record
// keeps its link, with the remote version forgotten: the record is taken
// again, and the quarantine released, once it comes without a problem, even
// unchanged.
func (r *run) problem(tx store.Tx, rec connector.Record) error {
	r.res.Counts.Pulled++
	hubID := ""
	l, err := tx.LinkByExternal(r.b.Name, rec.ExternalID)
	switch {
	case err == nil:
		hubID = l.HubID
		if l.RemoteVersion != "" {
			l.RemoteVersion = ""
			if err := tx.PutLink(l); err != nil {
				return err
			}
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return r.quarantine(tx, rec, hubID, toolSays+rec.Problem)
}

// keptOut is what a binding's quarantine means for its pushes.
type keptOut struct {
	byKey   map[string]store.Quarantined // the quarantined records by the hub key they carry
	problem map[string]bool              // external ids quarantined on the tool's word (Record.Problem)
}

// keptOut reads the binding's quarantine as the pull left it.
func (r *run) keptOut(rd store.Reader) (keptOut, error) {
	k := keptOut{byKey: map[string]store.Quarantined{}, problem: map[string]bool{}}
	err := rd.Quarantine(r.b.Name, func(q store.Quarantined) error {
		if strings.HasPrefix(q.Reason, toolSays) {
			k.problem[q.ExternalID] = true
		}
		if fields, _ := r.sm.hubFields(q.Fields); fields[connector.FieldKey] != "" {
			k.byKey[fields[connector.FieldKey]] = q
		}
		return nil
	})
	return k, err
}

// toolSays begins the reason of a record quarantined on its connector's
// word.
const toolSays = store.ToolSays

// markerKey keeps, in a link's base, the hub marker the remote record was
// last seen carrying: a record without ours (created remotely, or adopted)
// gets it written by the push phase, so Find works on every record.
const markerKey = "@marker"

// sentPrefix marks, in a link's base, the value an update in flight sent
// for a field ("@sent:likelihood"); pushed drops these once the result is
// stored.
const sentPrefix = "@sent:"

// settleSent returns the base to merge against when an update may have been
// in flight (its run died before storing the result), and the fields whose
// sent value the remote does not hold (unconfirmed). Where the remote holds
// what was sent, the push landed and that is the base. Elsewhere the last
// agreed base stays: an unconfirmed push is sent again, not judged — a
// remote still holding the old base did not change the field, so the hub's
// value stands, and a conflict needs the remote to differ from the base in
// that same field.
func settleSent(base, remote map[string]string) (settled, unconfirmed map[string]string) {
	out := make(map[string]string, len(base))
	var sent map[string]string
	for k, v := range base {
		if f, ok := strings.CutPrefix(k, sentPrefix); ok {
			if sent == nil {
				sent = map[string]string{}
			}
			sent[f] = v
			continue
		}
		out[k] = v
	}
	for f, v := range sent {
		if rv, ok := remote[f]; ok && rv == v {
			out[f] = v
		} else if ok {
			if unconfirmed == nil {
				unconfirmed = map[string]string{}
			}
			unconfirmed[f] = v
		}
	}
	return out, unconfirmed
}

func copyFields(f map[string]string) map[string]string {
	out := make(map[string]string, len(f)+1)
	for k, v := range f {
		out[k] = v
	}
	return out
}

func created(fields map[string]string) []FieldChange {
	out := make([]FieldChange, 0, len(fields))
	for f, v := range fields {
		out = append(out, FieldChange{Field: f, Remote: v, Apply: Hub})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

func flatten(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		s := ""
		for i, e := range j.Unwrap() {
			if i > 0 {
				s += "; "
			}
			s += e.Error()
		}
		return s
	}
	return err.Error()
}

// pushItem is one change to push and what it is made of.
type pushItem struct {
	hubID   string
	key     string      // the human key, for messages
	version int64       // the hub row version the change was made from
	link    *store.Link // nil for a create
	seq     int64       // the risk's change sequence, when known
	change  connector.Change
	sent    map[string]string // in the hub's spelling
}

// createItem is the create of an entity never linked.
func (r *run) createItem(hubID, key string, version int64, fields map[string]string) pushItem {
	return pushItem{hubID: hubID, key: key, version: version, sent: fields,
		change: connector.Change{Op: connector.OpCreate, Marker: connector.Marker(hubID), Fields: r.sm.remote(fields)}}
}

// updateItem is the update of a linked entity with the fields that differ
// from the link's base (less the held ones, see pushDiff); ok is false when
// there is nothing to send.
func (r *run) updateItem(hubID, key string, version int64, l *store.Link, fields map[string]string) (pushItem, bool) {
	diff := r.pushDiff(l, fields)
	if len(diff) == 0 && l.Base[markerKey] == connector.Marker(hubID) {
		return pushItem{}, false
	}
	return pushItem{hubID: hubID, key: key, version: version, link: l, sent: diff,
		change: connector.Change{Op: connector.OpUpdate, ExternalID: l.ExternalID, Marker: connector.Marker(hubID), Version: l.RemoteVersion, Fields: r.sm.remote(diff)}}, true
}

// pushRisks pushes the hub's changes: risks never linked are created (a
// pending link first), linked ones send the fields that differ from base.
// Links that hold fields are looked at first, every run: a held remote
// value the hub can take now (its own value moved) is taken, a refused
// value whose replacement differs is sent again.
func (r *run) pushRisks(batch []pushItem, visited map[string]bool) error {
	initiative, kind, process := r.b.riskScope()
	f := store.RiskFilter{Initiative: initiative, Kind: kind, Process: process}
	var settled []store.Link // version moved, fields did not (e.g. a vote)
	var st store.BindingState
	if err := r.view(func(rd store.Reader) error {
		var err error
		st, err = rd.BindingState(r.b.Name)
		return err
	}); err != nil {
		return err
	}
	// Only risks changed since the binding's high-water mark are looked
	// at (a full reconcile looks at them all); the mark moves to the last
	// change seen, but never past an update that failed and must be sent
	// again.
	scope := r.b.pushScope()
	since := st.PushedSeq
	switch {
	case r.opts.Full:
		since = -1
	case st.PushedScope != scope:
		since = 0
	}
	mark := max(since, 0)
	r.failedSeq = 0
	wait := r.keepMarkBelow // looked at again once the quarantine is over
	err := r.view(func(rd store.Reader) error {
		kept, err := r.keptOut(rd)
		if err != nil {
			return err
		}
		return rd.RisksToPush(r.b.Name, f, since, func(risk model.Risk, l *store.Link, seq int64) error {
			mark = max(mark, seq)
			if visited[risk.ID] {
				return nil
			}
			fields := RiskFields(risk)
			if !r.b.matches(fields) {
				return nil
			}
			switch {
			case l == nil || (l.State == store.LinkQuarantined && l.ExternalID == ""):
				if l != nil && r.opts.Full && l.HubVersion == risk.Version {
					return nil // refused at create, and unchanged since
				}
				if q, ok := kept.byKey[risk.Key]; ok {
					// The tool holds a record with this key that the hub
					// keeps out: a create would double it.
					wait(seq)
					if !r.opts.Plan {
						r.log.Info("create waits: the tool holds a quarantined record with the key", "key", risk.Key, "external_id", q.ExternalID)
					}
					return nil
				}
				batch = append(batch, r.createItem(risk.ID, risk.Key, risk.Version, fields))
			case l.State == store.LinkLinked && kept.problem[l.ExternalID]:
				wait(seq) // the tool cannot tell which of its records this is: nothing is sent until it can
				return nil
			case l.State == store.LinkPending:
				return nil // resolvePending decides
			case l.State == store.LinkOrphaned || l.State == store.LinkDeleted:
				if l.HubVersion != risk.Version {
					l.HubVersion = risk.Version
					settled = append(settled, *l)
				}
				return nil
			default:
				it, ok := r.updateItem(risk.ID, risk.Key, risk.Version, l, fields)
				if !ok {
					if l.HubVersion != risk.Version {
						l.HubVersion = risk.Version
						settled = append(settled, *l)
					}
					return nil
				}
				it.seq = seq
				batch = append(batch, it)
			}
			if len(batch) >= r.b.BatchSize {
				err := r.flush(batch)
				batch = batch[:0]
				return err
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if err := r.flush(batch); err != nil {
		return err
	}
	if err := r.settle(settled); err != nil {
		return err
	}
	if r.failedSeq > 0 {
		mark = min(mark, r.failedSeq-1)
	}
	if r.opts.Plan || (mark == st.PushedSeq && scope == st.PushedScope) {
		return nil
	}
	return r.update(func(tx store.Tx) error {
		st, err := tx.BindingState(r.b.Name)
		if err != nil {
			return err
		}
		st.PushedSeq, st.PushedScope = mark, scope
		return tx.PutBindingState(st)
	})
}

// revisitHeld goes over the binding's links that hold fields. A pulled
// value the hub could not take is merged again against the hub as it is now
// (the hub may take it now, or own the field and win); with a batch (the
// binding pushes), a pushed value the remote refused is sent again when the
// value to send changed. It returns the hub ids it looked at.
func (r *run) revisitHeld(batch *[]pushItem) (map[string]bool, error) {
	var links []store.Link
	if err := r.view(func(rd store.Reader) error {
		return rd.HeldLinks(r.b.Name, func(l store.Link) error { links = append(links, l); return nil })
	}); err != nil {
		return nil, err
	}
	visited := map[string]bool{}
	for _, l := range links {
		if l.State != store.LinkLinked {
			continue
		}
		visited[l.HubID] = true
		err := r.update(func(tx store.Tx) error {
			l, err := tx.Link(r.b.Name, l.HubID)
			if err != nil {
				return err
			}
			risk, err := tx.Risk(l.HubID)
			if err != nil {
				return err
			}
			pulled := map[string]string{}
			for f, h := range l.Held {
				if h.Side == store.HoldPull {
					pulled[f] = h.Value
				}
			}
			if len(pulled) > 0 {
				rec := connector.Record{ExternalID: l.ExternalID, Version: l.RemoteVersion, Marker: l.Base[markerKey], Fields: pulled}
				fields, unmapped := r.sm.hubFields(pulled)
				if err := r.mergeRisk(tx, l, risk, rec, fields, unmapped); err != nil {
					return err
				}
				if l, err = tx.Link(r.b.Name, l.HubID); err != nil {
					return err
				}
				if risk, err = tx.Risk(l.HubID); err != nil {
					return err
				}
			}
			if batch == nil {
				return nil
			}
			if it, ok := r.updateItem(risk.ID, risk.Key, risk.Version, &l, RiskFields(risk)); ok {
				*batch = append(*batch, it)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return visited, nil
}

// heldReason says why a field waits and how it is cleared.
func heldReason(h store.Hold) string {
	if h.Side == store.HoldPull {
		return "the remote's value waits: " + h.Reason + " (it is taken once the hub can take it: change the hub's value, or the remote's)"
	}
	return "the remote refused the hub's value: " + h.Reason + " (sent again when the value to send changes, e.g. after fixing map_status, or by sync -full)"
}

// settle records links whose hub version moved without a field to push
// (a vote, say), so the next run does not look at them again.
func (r *run) settle(links []store.Link) error {
	if len(links) == 0 || r.opts.Plan {
		return nil
	}
	return r.update(func(tx store.Tx) error {
		for _, l := range links {
			if err := tx.PutLink(l); err != nil {
				return err
			}
		}
		return nil
	})
}

// flush pushes a batch: pending links for its creates are committed first,
// so that a crash at any moment leaves a trace Find can resolve.
func (r *run) flush(items []pushItem) error {
	if len(items) == 0 {
		return nil
	}
	creates := false
	for _, it := range items {
		op := "update"
		var fc []FieldChange
		for f, v := range it.sent {
			c := FieldChange{Field: f, Hub: v, Apply: Remote}
			if it.link != nil {
				c.Base, c.Remote = it.link.Base[f], it.link.Base[f]
			}
			fc = append(fc, c)
		}
		if it.link != nil && it.link.Base[markerKey] != it.change.Marker {
			fc = append(fc, FieldChange{Field: "marker", Base: it.link.Base[markerKey], Remote: it.link.Base[markerKey], Hub: it.change.Marker, Apply: Remote})
		}
		sort.Slice(fc, func(i, j int) bool { return fc[i].Field < fc[j].Field })
		if it.change.Op == connector.OpCreate {
			op, creates = "create", true
		}
		if r.opts.Plan { // a run counts what the remote took (pushed)
			r.countPush(it)
		}
		r.res.add(Change{Direction: "push", Op: op, Key: it.key, HubID: it.hubID, ExternalID: it.change.ExternalID, Fields: fc})
	}
	if r.opts.Plan {
		return nil
	}
	now := r.e.now()
	if err := r.update(func(tx store.Tx) error {
		for _, it := range items {
			if it.change.Op != connector.OpCreate {
				// Record what this update sends, so that a crash before its
				// result is stored is settled by the next pull: a remote
				// holding the sent value took it (see settleSent).
				l := *it.link
				l.Base = copyFields(l.Base)
				for f, v := range it.sent {
					l.Base[sentPrefix+f] = v
				}
				if err := tx.PutLink(l); err != nil {
					return err
				}
				continue
			}
			if err := tx.PutLink(store.Link{Binding: r.b.Name, HubID: it.hubID, State: store.LinkPending,
				Base: it.sent, HubVersion: it.version, AttemptedAt: now}); err != nil {
				return err
			}
		}
		return r.renew(tx)
	}); err != nil {
		return err
	}
	req := connector.PushRequest{Kind: r.b.Kind, Changes: make([]connector.Change, len(items))}
	for i, it := range items {
		req.Changes[i] = it.change
	}
	var results []connector.Result
	call := func() (err error) {
		results, err = r.conn.Push(r.ctx, req)
		return err
	}
	var err error
	if creates {
		// A create is retried only through Find: the call may have created
		// records before it failed, so its creates stay pending and are
		// resolved (retryCreates, else the next run) by finding them first.
		err = call()
		var se *connector.Error
		if err != nil && connector.ClassOf(err) == connector.ClassTransient && !r.hasUpdates(items) {
			r.createsFailed = true
			if errors.As(err, &se) {
				r.createsWait = max(r.createsWait, se.RetryAfter)
			}
			r.log.Warn("push of creates failed; they stay pending", "creates", len(items), "error", err)
			return nil
		}
	} else {
		err = r.retry("push", call)
	}
	if err != nil {
		return fmt.Errorf("push %d change(s): %w", len(items), err)
	}
	if len(results) != len(items) {
		return fmt.Errorf("push %d change(s): the connector answered %d results", len(items), len(results))
	}
	var stale []pushItem
	err = r.update(func(tx store.Tx) error {
		for i, it := range items {
			res := results[i]
			if res.Err == nil {
				if err := r.pushed(tx, it, res); err != nil {
					return err
				}
				continue
			}
			if res.Err.Class == connector.ClassConflict && it.link != nil && r.b.Kind == connector.KindRisk {
				stale = append(stale, it)
			}
			if err := r.pushFailed(tx, it, res.Err); err != nil {
				return err
			}
		}
		return nil
	})
	r.progress("push", r.res.Counts.PushCreates+r.res.Counts.PushUpdates)
	if err != nil {
		return err
	}
	return r.refresh(stale)
}

func (r *run) hasUpdates(items []pushItem) bool {
	for _, it := range items {
		if it.change.Op != connector.OpCreate {
			return true
		}
	}
	return false
}

// refresh re-reads records whose update the remote refused as stale and
// merges them, so the remote's change is taken (or overruled by authority)
// instead of being overwritten blindly.
func (r *run) refresh(items []pushItem) error {
	for _, it := range items {
		var rec *connector.Record
		if err := r.retry("find", func() (err error) {
			rec, err = r.conn.Find(r.ctx, r.b.Kind, it.change.Marker)
			return err
		}); err != nil {
			return fmt.Errorf("re-read %s after a conflict: %w", it.key, err)
		}
		if rec == nil {
			continue // gone: the next full reconcile settles it
		}
		found := *rec
		if err := r.update(func(tx store.Tx) error { return r.takeRisk(tx, found, false) }); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) countPush(it pushItem) {
	if it.change.Op == connector.OpCreate {
		r.res.Counts.PushCreates++
	} else {
		r.res.Counts.PushUpdates++
	}
}

// pushed stores a change the remote took, and writes it to the audit log:
// what the hub did to which remote record.
func (r *run) pushed(tx store.Tx, it pushItem, res connector.Result) error {
	r.countPush(it)
	l := store.Link{Binding: r.b.Name, HubID: it.hubID, State: store.LinkLinked, HubVersion: it.version}
	base := map[string]string{}
	if it.link != nil {
		l = *it.link
		l.State, l.Reason, l.HubVersion = store.LinkLinked, "", it.version
		for k, v := range it.link.Base {
			if !strings.HasPrefix(k, sentPrefix) {
				base[k] = v
			}
		}
		// Sent and taken: a refusal of an earlier value is over.
		held := map[string]store.Hold{}
		for f, h := range l.Held {
			if _, sent := it.sent[f]; !sent || h.Side != store.HoldPush {
				held[f] = h
			}
		}
		l.Held = held
	}
	for k, v := range it.sent {
		base[k] = v
	}
	base[markerKey] = it.change.Marker
	l.RemoteVersion = res.Version
	if res.Fields != nil {
		// The record as the remote holds it now: the fields sent, as the
		// remote normalised them, become the base. A field the hub did not
		// send that differs from the base was changed remotely meanwhile:
		// the base stays, and the version is forgotten so that the next
		// pull merges the record instead of taking it for this push's echo.
		got, err := r.sm.hub(res.Fields)
		if err != nil {
			got, _ = r.sm.hubFields(res.Fields)
		}
		for k, v := range got {
			if _, sent := it.sent[k]; sent {
				base[k] = v
			} else if bv, known := base[k]; it.link != nil && (!known || bv != v) {
				l.RemoteVersion = ""
			}
		}
	}
	l.Base = base
	if res.ExternalID != "" {
		l.ExternalID = res.ExternalID
	}
	if err := r.auditPush(tx, it, l.ExternalID); err != nil {
		return err
	}
	if err := tx.PutLink(l); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// The remote answered with a record another hub risk is
			// linked to: never link two risks to one record.
			l.State, l.Reason, l.ExternalID = store.LinkQuarantined, err.Error(), ""
			r.res.Counts.Quarantined++
			return tx.PutLink(l)
		}
		return err
	}
	return nil
}

// auditPush writes a push the remote took to the audit log: the operation,
// the connector and remote id, and the fields sent in the remote's spelling.
func (r *run) auditPush(tx store.Tx, it pushItem, externalID string) error {
	var parts []string
	for _, f := range sortedKeys(it.change.Fields) {
		v := it.change.Fields[f]
		if len(v) > 120 {
			cut := 117
			for cut > 0 && !utf8.RuneStart(v[cut]) {
				cut-- // never half a character
			}
			v = v[:cut] + "..."
		}
		parts = append(parts, fmt.Sprintf("%s=%q", f, v))
	}
	if len(parts) == 0 && it.change.Marker != "" {
		// No field changed: the push wrote the hub's marker on a record
		// that lacked it (created remotely, or found by its fields).
		parts = append(parts, fmt.Sprintf("marker=%q", it.change.Marker))
	}
	return tx.RecordAudit(model.AuditEntry{Entity: r.entity(), EntityID: it.hubID, Field: "push:" + string(it.change.Op),
		New: fmt.Sprintf("%s %s: %s", r.b.Connector, externalID, strings.Join(parts, " "))})
}

// failed keeps the push's high-water mark below an update to send again.
func (r *run) failed(it pushItem) { r.keepMarkBelow(it.seq) }

// keepMarkBelow keeps the push's high-water mark below the change seq (0:
// not known), so the next run looks at that risk again.
func (r *run) keepMarkBelow(seq int64) {
	if seq > 0 && (r.failedSeq == 0 || seq < r.failedSeq) {
		r.failedSeq = seq
	}
}

// entity names the binding's kind of hub entity in the audit log.
func (r *run) entity() string {
	switch r.b.Kind {
	case connector.KindSprint:
		return "sprint"
	case connector.KindItem:
		return "item"
	}
	return "risk"
}

// pushFailed handles a change the remote refused.
func (r *run) pushFailed(tx store.Tx, it pushItem, e *connector.Error) error {
	switch e.Class {
	case connector.ClassTransient:
		r.log.Warn("push failed, will retry", "key", it.key, "error", e)
		if it.link == nil {
			// The create stays pending: resolved through Find later in this
			// run (retryCreates) or the next; what stays pending shows.
			r.createsFailed = true
			r.createsWait = max(r.createsWait, e.RetryAfter)
			return nil
		}
		// An update is sent again next run: its hub version did not move
		// (and the push's high-water mark stays below it).
		r.res.Counts.Errors++
		r.failed(it)
		return nil
	case connector.ClassConflict:
		// The remote changed since we read it: flush re-reads the record
		// (Find) and merges it; the next push sends what the hub still owns,
		// against the version just read.
		r.res.Counts.Errors++
		r.failed(it)
		r.log.Info("push conflict: the remote changed; merging it", "key", it.key, "error", e)
		return nil
	}
	r.res.Counts.Quarantined++
	r.res.add(Change{Direction: "push", Op: "quarantine", Key: it.key, HubID: it.hubID, ExternalID: it.change.ExternalID, Reason: e.Error()})
	r.log.Warn("push refused", "key", it.key, "error", e)
	if it.link == nil {
		// Refused at create: nothing exists remotely; tried again when the
		// entity changes.
		return tx.PutLink(store.Link{Binding: r.b.Name, HubID: it.hubID, State: store.LinkQuarantined,
			HubVersion: it.version, Base: it.sent, Reason: e.Error()})
	}
	// Refused update: the record stays linked and its other fields keep
	// syncing; the fields sent wait (push holds) with the reason, the base
	// stays what both sides last agreed on. A field the remote took after
	// all shows as agreeing on the next pull and is released there.
	l := *it.link
	l.State, l.Reason, l.HubVersion = store.LinkLinked, "", it.version
	held := map[string]store.Hold{}
	for f, h := range l.Held {
		held[f] = h
	}
	for f := range it.sent {
		held[f] = store.Hold{Side: store.HoldPush, Value: it.change.Fields[f], Reason: e.Error(), Since: r.now}
	}
	l.Held = held
	var fields []string
	for _, f := range sortedKeys(it.sent) {
		fields = append(fields, fmt.Sprintf("%s=%q", f, it.change.Fields[f]))
	}
	if err := tx.RecordAudit(model.AuditEntry{Entity: r.entity(), EntityID: it.hubID, Field: "push:refused",
		New: fmt.Sprintf("%s %s: %s; %s", r.b.Connector, it.change.ExternalID, strings.Join(fields, " "), e.Error())}); err != nil {
		return err
	}
	return tx.PutLink(l)
}
