// Package sprint plans, starts and closes improvement sprints: it chooses an
// initiative's accepted risks with the priority policy within a capacity and
// records the choice — each item's score at that moment and the policy's
// text — in the store, moving the chosen risks along their status flow.
//
// It works inside the caller's store transaction and knows nothing of HCL,
// the CLI or connectors.
package sprint

import (
	"errors"
	"fmt"
	"time"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/priority"
	"github.com/usmhub/usmhub/core/store"
)

// ErrNoPolicy is returned when an initiative has no priority policy: USM asks
// that the prioritisation mechanism is fixed before the first sprint.
var ErrNoPolicy = errors.New("no priority policy: the prioritisation mechanism must be fixed before the first sprint; add a priority block with a score expression to the config")

// Request describes the sprint to plan.
type Request struct {
	Initiative string
	Start, End string // YYYY-MM-DD
	Capacity   float64
	Goal       string
	Policy     *priority.Policy
	Now        time.Time
}

// Proposal is a planned sprint and the accepted risks that did not fit.
type Proposal struct {
	Sprint  model.Sprint
	Skipped []priority.Candidate
}

// Propose chooses the sprint's items without storing anything: the
// initiative's accepted risks by descending score (ties: older first), each
// taken while its effort fits the remaining capacity.
func Propose(r store.Reader, req Request) (Proposal, error) {
	if req.Policy == nil {
		return Proposal{}, ErrNoPolicy
	}
	s := model.Sprint{Initiative: req.Initiative, Start: req.Start, End: req.End, Capacity: req.Capacity,
		Goal: req.Goal, Status: model.SprintPlanned, Policy: req.Policy.Text}
	if err := s.Validate(); err != nil {
		return Proposal{}, fmt.Errorf("sprint: %w", err)
	}
	var cands []priority.Candidate
	err := r.Risks(store.RiskFilter{Initiative: req.Initiative, Statuses: []model.Status{model.Accepted}}, func(risk model.Risk) error {
		score, err := req.Policy.Score(priority.InputsOf(risk, req.Now))
		if err != nil {
			return fmt.Errorf("score %s: %w", risk.Key, err)
		}
		cands = append(cands, priority.Candidate{Risk: risk, Score: score})
		return nil
	})
	if err != nil {
		return Proposal{}, fmt.Errorf("read accepted risks: %w", err)
	}
	chosen, used := priority.Choose(cands, req.Capacity)
	s.Used = used
	in := make(map[string]bool, len(chosen))
	for _, c := range chosen {
		in[c.Risk.ID] = true
		s.Items = append(s.Items, model.SprintItem{RiskID: c.Risk.ID, Key: c.Risk.Key, Title: c.Risk.Title, Score: c.Score, Effort: c.Risk.Effort})
	}
	var skipped []priority.Candidate
	for _, c := range cands {
		if !in[c.Risk.ID] {
			skipped = append(skipped, c)
		}
	}
	n, err := nextNumber(r, req.Initiative)
	if err != nil {
		return Proposal{}, err
	}
	s.Number = n
	return Proposal{Sprint: s, Skipped: skipped}, nil
}

func nextNumber(r store.Reader, initiative string) (int, error) {
	sprints, err := r.Sprints(initiative)
	if err != nil {
		return 0, fmt.Errorf("read sprints: %w", err)
	}
	n := 1
	for _, s := range sprints {
		if s.Number >= n {
			n = s.Number + 1
		}
	}
	return n, nil
}

// Plan proposes the sprint, stores it and moves its risks to planned, all in
// the caller's transaction.
func Plan(tx store.Tx, req Request) (Proposal, error) {
	p, err := Propose(tx, req)
	if err != nil {
		return p, err
	}
	if err := tx.CreateSprint(&p.Sprint); err != nil {
		return p, fmt.Errorf("store sprint: %w", err)
	}
	for _, it := range p.Sprint.Items {
		if err := move(tx, it.RiskID, model.Planned); err != nil {
			return p, err
		}
	}
	return p, nil
}

// Start makes a planned sprint active and its planned risks in progress.
func Start(tx store.Tx, initiative string, number int) (model.Sprint, error) {
	s, err := tx.Sprint(initiative, number)
	if err != nil {
		return s, err
	}
	if s.Status != model.SprintPlanned {
		return s, fmt.Errorf("sprint %d is %s; only a planned sprint can start", number, s.Status)
	}
	for _, it := range s.Items {
		r, err := tx.Risk(it.RiskID)
		if err != nil {
			return s, err
		}
		if r.Status == model.Planned {
			if err := move(tx, it.RiskID, model.InProgress); err != nil {
				return s, err
			}
		}
	}
	if err := tx.SetSprintStatus(initiative, number, model.SprintActive); err != nil {
		return s, err
	}
	return tx.Sprint(initiative, number)
}

// Close ends a sprint: the items named in realized (keys) and those already
// realized become or stay realized; the others still open go back to
// accepted, to be chosen again.
func Close(tx store.Tx, initiative string, number int, realized []string) (model.Sprint, error) {
	s, err := tx.Sprint(initiative, number)
	if err != nil {
		return s, err
	}
	if s.Status == model.SprintClosed {
		return s, fmt.Errorf("sprint %d is already closed", number)
	}
	done := map[string]bool{}
	for _, k := range realized {
		found := false
		for _, it := range s.Items {
			found = found || it.Key == k
		}
		if !found {
			return s, fmt.Errorf("%s is not an item of sprint %d", k, number)
		}
		done[k] = true
	}
	for _, it := range s.Items {
		r, err := tx.Risk(it.RiskID)
		if err != nil {
			return s, err
		}
		switch {
		case r.Status == model.Realized || r.Status == model.Rejected:
		case done[it.Key]:
			if r.Status == model.Planned {
				if err := move(tx, r.ID, model.InProgress); err != nil {
					return s, err
				}
			}
			if err := move(tx, r.ID, model.Realized); err != nil {
				return s, err
			}
		default:
			if err := move(tx, r.ID, model.Accepted); err != nil {
				return s, err
			}
		}
	}
	if err := tx.SetSprintStatus(initiative, number, model.SprintClosed); err != nil {
		return s, err
	}
	return tx.Sprint(initiative, number)
}

func move(tx store.Tx, riskID string, to model.Status) error {
	r, err := tx.Risk(riskID)
	if err != nil {
		return err
	}
	r.Status = to
	if err := tx.UpdateRisk(&r); err != nil {
		return fmt.Errorf("move %s to %s: %w", r.Key, to, err)
	}
	return nil
}
