package report

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// SprintReport describes one improvement sprint: what it set out to do, what
// it chose and with which score, and where each chosen risk stands now.
// Number is 0 when the initiative has no sprint yet; Next then says how to
// plan the first one.
type SprintReport struct {
	Number   int                `json:"number"`
	Goal     string             `json:"goal,omitempty"`
	Start    string             `json:"start,omitempty"`
	End      string             `json:"end,omitempty"`
	Status   model.SprintStatus `json:"status,omitempty"`
	Capacity float64            `json:"capacity"`
	Used     float64            `json:"used"`
	// Policy is the priority policy's text when the sprint was planned;
	// PolicyNow the initiative's policy text today when it differs.
	Policy    string       `json:"policy,omitempty"`
	PolicyNow string       `json:"policy_now,omitempty"`
	Items     []SprintItem `json:"items"`
	Counts    SprintCounts `json:"counts"`
	// PlannedEffort sums the items' effort when chosen, RealizedEffort
	// that of the items realized since.
	PlannedEffort  float64 `json:"planned_effort"`
	RealizedEffort float64 `json:"realized_effort"`
	// BurnUp is planned against realised effort per day of the sprint;
	// nil when the sprint's dates cannot be read.
	BurnUp *BurnUp `json:"burn_up,omitempty"`
	Next   string  `json:"next,omitempty"`
}

// SprintItem is a chosen risk: the score and effort it had when chosen, and
// its title and status now. Status is empty when the risk is no longer in
// the store.
type SprintItem struct {
	RiskID string       `json:"risk_id"`
	Key    string       `json:"key"`
	Title  string       `json:"title"`
	Score  float64      `json:"score_when_chosen"`
	Effort float64      `json:"effort"`
	Status model.Status `json:"status"`
}

// SprintCounts counts a sprint's items by their current status. Returned
// items went back to the pool (accepted or proposed again) to be chosen
// later; Missing ones are no longer in the store.
type SprintCounts struct {
	Realized   int `json:"realized"`
	InProgress int `json:"in_progress"`
	Planned    int `json:"planned"`
	Returned   int `json:"returned"`
	Rejected   int `json:"rejected"`
	Missing    int `json:"missing,omitempty"`
}

func buildSprint(r *Report, in Input, opts Options) error {
	key := in.Initiative.Key
	s, found, err := chooseSprint(in.Reader, key, opts.Sprint)
	if err != nil {
		return err
	}
	if !found {
		r.Key = keyPrefix(key) + "-sprint-none"
		r.Title = "No improvement sprint of " + r.InitiativeName + " yet"
		r.Sprint = &SprintReport{
			Items: []SprintItem{},
			Next: fmt.Sprintf("plan the first sprint with the priority policy: usmhub sprint plan -initiative %s -start YYYY-MM-DD -end YYYY-MM-DD -goal TEXT",
				key),
		}
		return nil
	}
	r.Key = keyPrefix(key) + "-sprint-" + strconv.Itoa(s.Number)
	r.Title = fmt.Sprintf("Sprint %d of %s", s.Number, r.InitiativeName)
	if s.Goal != "" {
		r.Title += ": " + s.Goal
	}
	sr := &SprintReport{
		Number: s.Number, Goal: s.Goal, Start: s.Start, End: s.End, Status: s.Status,
		Capacity: s.Capacity, Used: s.Used, Policy: s.Policy,
		Items: make([]SprintItem, 0, len(s.Items)),
	}
	if p := in.Config.Policy(key); p != nil && p.Policy != nil && p.Policy.Text != s.Policy {
		sr.PolicyNow = p.Policy.Text
	}
	realized := map[string]float64{}
	for _, it := range s.Items {
		sr.PlannedEffort += it.Effort
		item := SprintItem{RiskID: it.RiskID, Key: it.Key, Title: it.Title, Score: it.Score, Effort: it.Effort}
		ref := it.RiskID
		if ref == "" {
			ref = it.Key
		}
		risk, err := in.Reader.Risk(ref)
		switch {
		case errors.Is(err, store.ErrNotFound):
			sr.Counts.Missing++
		case err != nil:
			return fmt.Errorf("sprint %d item %s: %w", s.Number, it.Key, err)
		default:
			item.Key, item.Title, item.Status = risk.Key, risk.Title, risk.Status
			switch risk.Status {
			case model.Realized:
				sr.Counts.Realized++
				sr.RealizedEffort += it.Effort
				realized[risk.ID] += it.Effort
			case model.InProgress:
				sr.Counts.InProgress++
			case model.Planned:
				sr.Counts.Planned++
			case model.Rejected:
				sr.Counts.Rejected++
			default: // accepted or proposed: back in the pool
				sr.Counts.Returned++
			}
		}
		sr.Items = append(sr.Items, item)
	}
	if sr.BurnUp, err = burnUp(in.Reader, s, in.Now, sr.PlannedEffort, realized); err != nil {
		return fmt.Errorf("sprint %d: %w", s.Number, err)
	}
	r.Sprint = sr
	return nil
}

// chooseSprint finds the sprint a report describes: number, or with 0 the
// active sprint (the highest-numbered one if several are), else the
// highest-numbered one. found is false when number is 0 and there is no
// sprint at all.
func chooseSprint(rd store.Reader, initiative string, number int) (s model.Sprint, found bool, err error) {
	if number > 0 {
		s, err := rd.Sprint(initiative, number)
		if err != nil {
			return s, false, fmt.Errorf("read sprint %d: %w", number, err)
		}
		return s, true, nil
	}
	sprints, err := rd.Sprints(initiative)
	if err != nil {
		return s, false, fmt.Errorf("read sprints: %w", err)
	}
	best := -1
	for i, c := range sprints {
		if best < 0 {
			best = i
			continue
		}
		b := sprints[best]
		bActive, cActive := b.Status == model.SprintActive, c.Status == model.SprintActive
		if cActive && !bActive || cActive == bActive && c.Number > b.Number {
			best = i
		}
	}
	if best < 0 {
		return s, false, nil
	}
	return sprints[best], true, nil
}
