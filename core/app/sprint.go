package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/sprint"
	"github.com/usmhub/usmhub/core/store"
)

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// SprintPlan is the documented JSON of a planned sprint (`usmhub sprint
// plan -json`).
type SprintPlan struct {
	Number   int              `json:"number"`
	Capacity float64          `json:"capacity"`
	Used     float64          `json:"used"`
	Goal     string           `json:"goal,omitempty"`
	Start    string           `json:"start"`
	End      string           `json:"end"`
	Policy   string           `json:"policy"`
	DryRun   bool             `json:"dry_run,omitempty"`
	Items    []SprintPlanItem `json:"items"`
	// Skipped are the first of the accepted risks that did not fit (at most
	// MaxSkipped); SkippedCount counts them all.
	Skipped      []SprintPlanItem `json:"skipped,omitempty"`
	SkippedCount int              `json:"skipped_count"`
}

// MaxSkipped bounds the skipped risks a plan lists.
const MaxSkipped = 20

// SprintPlanItem is a risk a plan chose (or skipped) with its score.
type SprintPlanItem struct {
	Key    string  `json:"key"`
	Title  string  `json:"title,omitempty"`
	Score  float64 `json:"score"`
	Effort float64 `json:"effort"`
}

// SprintRequest is the request to plan the next sprint of an initiative
// ("" for the only one): the capacity defaults to the initiative's
// sprint_capacity, the policy is the initiative's. No capacity, or no
// policy, is an error that says what to set.
func SprintRequest(cfg *config.Config, initiative, start, end string, capacity float64, goal string) (sprint.Request, error) {
	in, err := cfg.Initiative(initiative)
	if err != nil {
		return sprint.Request{}, err
	}
	if capacity == 0 {
		capacity = in.SprintCapacity
	}
	if capacity <= 0 {
		return sprint.Request{}, fmt.Errorf("no capacity: pass -capacity N or set sprint_capacity in initiative %q", in.Key)
	}
	req := sprint.Request{Initiative: in.Key, Start: start, End: end, Capacity: capacity, Goal: goal, Now: time.Now()}
	if p := cfg.Policy(in.Key); p != nil {
		req.Policy = p.Policy
	}
	if req.Policy == nil {
		return req, fmt.Errorf("initiative %q: %w", in.Key, sprint.ErrNoPolicy)
	}
	return req, nil
}

// PlanSprint plans the sprint req asks for in one transaction as actor —
// or, dry, proposes it and stores nothing — and returns the plan. Its
// error is on one line.
func PlanSprint(ctx context.Context, st store.Store, actor store.Actor, req sprint.Request, dryRun bool) (SprintPlan, error) {
	var p sprint.Proposal
	err := st.Update(ctx, actor, func(tx store.Tx) error {
		var err error
		if dryRun {
			p, err = sprint.Propose(tx, req)
			if err == nil {
				err = errDryRun
			}
			return err
		}
		p, err = sprint.Plan(tx, req)
		return err
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return SprintPlan{}, fmt.Errorf("plan sprint: %w", model.OneLine(err))
	}
	out := SprintPlan{Number: p.Sprint.Number, Capacity: p.Sprint.Capacity, Used: p.Sprint.Used, Goal: p.Sprint.Goal,
		Start: p.Sprint.Start, End: p.Sprint.End, Policy: p.Sprint.Policy, DryRun: dryRun, Items: []SprintPlanItem{}}
	for _, it := range p.Sprint.Items {
		out.Items = append(out.Items, SprintPlanItem{Key: it.Key, Title: it.Title, Score: it.Score, Effort: it.Effort})
	}
	out.SkippedCount = len(p.Skipped)
	for _, c := range p.Skipped[:min(len(p.Skipped), MaxSkipped)] {
		out.Skipped = append(out.Skipped, SprintPlanItem{Key: c.Risk.Key, Title: c.Risk.Title, Score: c.Score, Effort: c.Risk.Effort})
	}
	return out, nil
}

// SprintItem is a sprint's item with its risk's status now.
type SprintItem struct {
	model.SprintItem
	Status string `json:"status"`
}

// ShowSprint reads sprint number of an initiative with each item's
// status now, in one consistent read.
func ShowSprint(ctx context.Context, st store.Store, initiative string, number int) (model.Sprint, []SprintItem, error) {
	var s model.Sprint
	var items []SprintItem
	err := st.View(ctx, func(r store.Reader) error {
		var err error
		if s, err = r.Sprint(initiative, number); err != nil {
			return err
		}
		for _, it := range s.Items {
			risk, err := r.Risk(it.RiskID)
			if err != nil {
				return err
			}
			items = append(items, SprintItem{SprintItem: it, Status: string(risk.Status)})
		}
		return nil
	})
	return s, items, err
}

// StartSprint starts a planned sprint in one transaction as actor: its
// risks go in progress.
func StartSprint(ctx context.Context, st store.Store, actor store.Actor, initiative string, number int) (model.Sprint, error) {
	var s model.Sprint
	err := st.Update(ctx, actor, func(tx store.Tx) error {
		var err error
		s, err = sprint.Start(tx, initiative, number)
		return err
	})
	return s, err
}

// CloseSprint closes a sprint in one transaction as actor: the risks keyed
// in realized become realized, the rest go back to accepted.
func CloseSprint(ctx context.Context, st store.Store, actor store.Actor, initiative string, number int, realized []string) (model.Sprint, error) {
	var s model.Sprint
	err := st.Update(ctx, actor, func(tx store.Tx) error {
		var err error
		s, err = sprint.Close(tx, initiative, number, realized)
		return err
	})
	return s, err
}
