package reconcile

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/progress"
	"github.com/usmhub/usmhub/core/store"
)

// votes runs a vote binding: the sounding board's votes come in from a
// tool (reactions on an issue, a column in a sheet) and feed the priority
// policy. Votes only flow into the hub.
func (r *run) votes() error {
	if !r.desc.Capability(connector.KindVote).Pull || !r.b.Direction.pulls() {
		return fmt.Errorf("connector %s cannot pull votes (vote bindings take direction pull)", r.b.Connector)
	}
	return r.pull(puller{record: r.pullVote, gone: func(tx store.Tx, l store.Link) error {
		return r.retractVote(tx, l, "not listed by a full reconcile")
	}})
}

// voteHubID names a vote in links: one per voter per risk.
func voteHubID(riskID, voter string) string {
	return "vote:" + riskID + ":" + strings.ToLower(strings.TrimSpace(voter))
}

func (r *run) pullVote(tx store.Tx, rec connector.Record, full bool) error {
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
		if known {
			return r.retractVote(tx, link, "deleted remotely")
		}
		return nil
	}
	if known && link.RemoteVersion != "" && link.RemoteVersion == rec.Version {
		return nil
	}
	ref := strings.TrimSpace(rec.Fields[connector.FieldVoteRisk])
	if id := connector.MarkerID(ref); id != "" {
		ref = id
	}
	risk, err := tx.Risk(ref)
	if errors.Is(err, store.ErrNotFound) {
		return r.quarantine(tx, rec, "", fmt.Sprintf("the vote is on risk %q, which the hub does not have", ref))
	}
	if err != nil {
		return err
	}
	if r.b.Initiative != "" && risk.Initiative != r.b.Initiative {
		return nil
	}
	voter := strings.TrimSpace(rec.Fields[connector.FieldVoteVoter])
	weight := 1
	if w := strings.TrimSpace(rec.Fields[connector.FieldVoteWeight]); w != "" {
		if weight, err = strconv.Atoi(w); err != nil {
			return r.quarantine(tx, rec, risk.ID, fmt.Sprintf("weight %q is not a whole number", w))
		}
	}
	if len(r.b.SoundingBoard) > 0 && !onBoard(r.b.SoundingBoard, voter) {
		return r.quarantine(tx, rec, risk.ID, fmt.Sprintf("%s is not on the sounding board of initiative %q", voter, risk.Initiative))
	}
	v := model.Vote{RiskID: risk.ID, Voter: voter, Weight: weight, CastAt: rec.UpdatedAt}
	if v.CastAt.IsZero() {
		v.CastAt = r.now
	}
	if err := v.Validate(); err != nil {
		return r.quarantine(tx, rec, risk.ID, flatten(err))
	}
	current, err := tx.Votes(risk.ID)
	if err != nil {
		return err
	}
	same := false
	for _, c := range current {
		if strings.EqualFold(c.Voter, voter) && c.Weight == weight {
			same = true
		}
	}
	if !same {
		if err := tx.CastVote(v); err != nil {
			return err
		}
		r.res.Counts.HubUpdates++
		r.res.add(Change{Direction: "pull", Op: "update", Key: risk.Key, HubID: risk.ID, ExternalID: rec.ExternalID,
			Fields: []FieldChange{{Field: "vote:" + voter, Remote: strconv.Itoa(weight), Apply: Hub}}})
	}
	l := store.Link{Binding: r.b.Name, HubID: voteHubID(risk.ID, voter), ExternalID: rec.ExternalID, State: store.LinkLinked,
		RemoteVersion: rec.Version, Base: rec.Fields}
	if full {
		l.SeenRun = r.res.RunID
	}
	if known && link.HubID != l.HubID {
		if err := tx.DeleteLink(r.b.Name, link.HubID); err != nil {
			return err
		}
	}
	return tx.PutLink(l)
}

func onBoard(board []string, voter string) bool {
	for _, m := range board {
		if strings.EqualFold(strings.TrimSpace(m), voter) {
			return true
		}
	}
	return false
}

// retractVote withdraws a vote whose remote record is gone.
func (r *run) retractVote(tx store.Tx, l store.Link, why string) error {
	parts := strings.SplitN(l.HubID, ":", 3)
	if len(parts) == 3 {
		voter := l.Base[connector.FieldVoteVoter]
		if voter == "" {
			voter = parts[2]
		}
		if err := r.spendDelete(tx, 1); err != nil {
			return err
		}
		err := tx.RetractVote(parts[1], voter)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil {
			r.res.Counts.HubDeletes++
			r.res.add(Change{Direction: "pull", Op: "delete", HubID: parts[1], ExternalID: l.ExternalID, Reason: "vote of " + voter + " " + why})
		}
	}
	return tx.DeleteLink(r.b.Name, l.HubID)
}

// scans runs a scan binding: scan results kept in a tool (a spreadsheet of
// dimension scores) come in as baseline and progress scans. Rows of one
// scan may span pages, so a scan binding stores what it pulled, and its
// cursor, in one transaction at the end.
func (r *run) scans() error {
	if !r.desc.Capability(connector.KindScan).Pull || !r.b.Direction.pulls() {
		return fmt.Errorf("connector %s cannot pull scans (scan bindings take direction pull)", r.b.Connector)
	}
	type scanID struct{ kind, method, version, date string }
	scans := map[scanID]*model.Scan{}
	first := map[scanID]connector.Record{}
	var order []scanID
	got := map[string]bool{} // external ids taken: a pull retried mid-way sends pages again
	return r.pull(puller{
		record: func(_ store.Tx, rec connector.Record, _ bool) error {
			r.res.Counts.Pulled++
			if rec.Deleted || got[rec.ExternalID] {
				return nil
			}
			got[rec.ExternalID] = true
			f := rec.Fields
			id := scanID{f[connector.FieldScanKind], f[connector.FieldScanMethod], f[connector.FieldScanMethodVersion], f[connector.FieldScanDate]}
			s, ok := scans[id]
			if !ok {
				s = &model.Scan{Initiative: r.b.Initiative, Kind: model.ScanKind(id.kind), Method: id.method, MethodVersion: id.version, TakenOn: id.date}
				scans[id], first[id] = s, rec
				order = append(order, id)
			}
			score, err := strconv.ParseFloat(strings.TrimSpace(f[connector.FieldScanScore]), 64)
			if err != nil {
				score = -1e308 // reported by Validate below as the record's problem
			}
			n, _ := strconv.Atoi(strings.TrimSpace(f[connector.FieldScanRespondents]))
			s.Scores = append(s.Scores, model.ScanScore{Dimension: f[connector.FieldScanDimension], Score: score, Respondents: n, Note: f[connector.FieldScanNote]})
			return nil
		},
		atEnd: func(tx store.Tx) error {
			existing, err := tx.Scans(r.b.Initiative)
			if err != nil {
				return err
			}
			// Baselines first, then by date: a progress scan needs its baseline.
			sort.SliceStable(order, func(i, j int) bool {
				a, b := order[i], order[j]
				if (a.kind == string(model.Baseline)) != (b.kind == string(model.Baseline)) {
					return a.kind == string(model.Baseline)
				}
				return a.date < b.date
			})
			for _, id := range order {
				s := scans[id]
				dup := false
				for _, e := range existing {
					dup = dup || (string(e.Kind) == id.kind && e.Method == id.method && e.MethodVersion == id.version && e.TakenOn == id.date)
				}
				if dup {
					continue
				}
				problem := s.Validate()
				for _, sc := range s.Scores {
					if sc.Score == -1e308 {
						problem = errors.Join(problem, fmt.Errorf("dimension %s: the score is not a number", sc.Dimension))
					}
				}
				base, hasBase := progress.Baseline(existing)
				switch {
				case problem != nil:
				case s.Kind == model.Baseline && hasBase:
					problem = fmt.Errorf("initiative %q already has a baseline (%s %s of %s)", r.b.Initiative, base.Method, base.MethodVersion, base.TakenOn)
				case s.Kind == model.Progress && !hasBase:
					problem = progress.ErrNoBaseline
				case s.Kind == model.Progress:
					problem = model.Comparable(base, *s)
				}
				if problem != nil {
					if err := r.quarantine(tx, first[id], "", fmt.Sprintf("scan %s %s %s of %s: %s", id.kind, id.method, id.version, id.date, flatten(problem))); err != nil {
						return err
					}
					continue
				}
				if err := tx.CreateScan(s); err != nil {
					return err
				}
				existing = append(existing, *s)
				r.res.Counts.HubCreates++
				r.res.add(Change{Direction: "pull", Op: "create", HubID: s.ID, ExternalID: first[id].ExternalID,
					Reason: fmt.Sprintf("%s scan %s %s of %s, %d dimension(s)", s.Kind, s.Method, s.MethodVersion, s.TakenOn, len(s.Scores))})
			}
			return nil
		},
	})
}

// SprintFields returns a sprint's canonical fields as the protocol carries
// them; items are the chosen risks' keys in order.
func SprintFields(s model.Sprint) map[string]string {
	keys := make([]string, len(s.Items))
	for i, it := range s.Items {
		keys[i] = it.Key
	}
	return map[string]string{
		connector.FieldSprintNumber:   strconv.Itoa(s.Number),
		connector.FieldSprintGoal:     s.Goal,
		connector.FieldSprintStart:    s.Start,
		connector.FieldSprintEnd:      s.End,
		connector.FieldSprintCapacity: strconv.FormatFloat(s.Capacity, 'f', -1, 64),
		connector.FieldSprintStatus:   string(s.Status),
		connector.FieldSprintItems:    strings.Join(keys, ","),
	}
}

// sprints runs a sprint binding: the hub's sprints, planned by its priority
// policy, are pushed to the tool (a version, a milestone). Sprints are
// decided in the hub, so they only flow out.
func (r *run) sprints() error {
	if !r.desc.Capability(connector.KindSprint).Push || !r.b.Direction.pushes() {
		return fmt.Errorf("connector %s cannot push sprints (sprint bindings take direction push)", r.b.Connector)
	}
	var sprints []model.Sprint
	if err := r.view(func(rd store.Reader) error {
		var err error
		sprints, err = rd.Sprints(r.b.Initiative)
		return err
	}); err != nil {
		return err
	}
	byID := map[string]model.Sprint{}
	for _, s := range sprints {
		byID[s.ID] = s
	}
	reload := func(_ store.Reader, hubID string) (pushItem, error) {
		s, ok := byID[hubID]
		if !ok {
			return pushItem{}, fmt.Errorf("sprint %s: %w", hubID, store.ErrNotFound)
		}
		return r.createItem(s.ID, sprintKey(s), s.Version, SprintFields(s)), nil
	}
	if err := r.resolvePending(reload, nil); err != nil {
		return fmt.Errorf("resolve pending creates: %w", err)
	}
	var batch []pushItem
	var settled []store.Link
	if err := r.view(func(rd store.Reader) error {
		for _, s := range sprints {
			l, err := rd.Link(r.b.Name, s.ID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				batch = append(batch, r.createItem(s.ID, sprintKey(s), s.Version, SprintFields(s)))
			case err != nil:
				return err
			case (l.HubVersion == s.Version && !r.opts.Full && len(l.Held) == 0) || l.State == store.LinkPending || l.State == store.LinkOrphaned || l.State == store.LinkDeleted:
			case l.State == store.LinkQuarantined && l.ExternalID == "":
				// Refused at create; the sprint changed since: try again.
				batch = append(batch, r.createItem(s.ID, sprintKey(s), s.Version, SprintFields(s)))
			default:
				if it, ok := r.updateItem(s.ID, sprintKey(s), s.Version, &l, SprintFields(s)); ok {
					batch = append(batch, it)
				} else if l.HubVersion != s.Version {
					l.HubVersion = s.Version
					settled = append(settled, l)
				}
			}
		}
		return nil
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

func sprintKey(s model.Sprint) string { return fmt.Sprintf("sprint %d", s.Number) }
