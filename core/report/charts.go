package report

import (
	"fmt"
	"slices"
	"time"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// Heatmap counts open risks per likelihood and impact, threats and
// opportunities apart: Threats[l-1][i-1] counts the open threats of
// likelihood l and impact i. Every open risk is in exactly one cell (a
// value outside 1–5 counts at the nearest end), so the cells of both grids
// sum to RegisterReport.Open.
type Heatmap struct {
	Threats       [5][5]int `json:"threats"`
	Opportunities [5][5]int `json:"opportunities"`
}

func (h *Heatmap) add(r *model.Risk) {
	l, i := min(max(r.Likelihood, 1), 5), min(max(r.Impact, 1), 5)
	if r.Kind == model.Opportunity {
		h.Opportunities[l-1][i-1]++
	} else {
		h.Threats[l-1][i-1]++
	}
}

// TrendWeeks is how many ISO weeks a register report's trend covers, the
// report's own week last.
const TrendWeeks = 12

// WeekCount is the register at the end of one ISO week (at the report's
// moment for its own week): how many risks were open, realized and
// rejected.
type WeekCount struct {
	Week     string `json:"week"`
	Open     int    `json:"open"`
	Realized int    `json:"realized"`
	Rejected int    `json:"rejected"`
}

// trendEvent is an audited creation or status change of a risk.
type trendEvent struct {
	at       time.Time
	id       string
	created  bool
	old, new model.Status
}

// weekStart returns Monday 00:00 UTC of t's ISO week.
func weekStart(t time.Time) time.Time {
	t = t.UTC()
	d := (int(t.Weekday()) + 6) % 7 // Monday 0
	return time.Date(t.Year(), t.Month(), t.Day()-d, 0, 0, 0, 0, time.UTC)
}

// trendLog reads the risks' creations and status changes after since from
// the audit trail, oldest first. It holds only the window's events, never
// the whole register.
func trendLog(rd store.Reader, since time.Time, until time.Time) ([]trendEvent, error) {
	var evs []trendEvent
	err := rd.Audit(store.AuditFilter{Since: since}, func(e model.AuditEntry) error {
		// Changes after the report's moment are not part of its story.
		if e.Entity != "risk" || !e.At.Before(until) && !e.At.Equal(until) {
			return nil
		}
		switch e.Field {
		case "created":
			evs = append(evs, trendEvent{at: e.At, id: e.EntityID, created: true})
		case "status":
			evs = append(evs, trendEvent{at: e.At, id: e.EntityID, old: model.Status(e.Old), new: model.Status(e.New)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the audit trail for the trend: %w", err)
	}
	return evs, nil
}

// trend rebuilds the register of the last TrendWeeks ISO weeks backwards
// from now: it starts from the current counts and undoes, newest first,
// each audited status change and creation after each week's end. status
// holds the current status of every risk of the initiative the events
// touch (events of other initiatives' risks are not in it and are left
// out).
func trend(now time.Time, current map[model.Status]int, evs []trendEvent, status map[string]model.Status) []WeekCount {
	counts := make(map[model.Status]int, len(current))
	for k, v := range current {
		counts[k] = v
	}
	out := make([]WeekCount, TrendWeeks)
	end := now
	next := len(evs) - 1
	for next >= 0 && evs[next].at.After(now) { // not part of the report's story
		next--
	}
	thisWeek := weekStart(now)
	for w := TrendWeeks - 1; w >= 0; w-- {
		for ; next >= 0 && evs[next].at.After(end); next-- {
			e := evs[next]
			s, ok := status[e.id]
			if !ok {
				continue
			}
			if e.created {
				counts[s]--
				delete(status, e.id)
				continue
			}
			counts[e.new]--
			counts[e.old]++
			status[e.id] = e.old
		}
		start := thisWeek.AddDate(0, 0, -7*(TrendWeeks-1-w))
		y, n := start.ISOWeek()
		wc := WeekCount{Week: fmt.Sprintf("%04d-W%02d", y, n), Realized: counts[model.Realized], Rejected: counts[model.Rejected]}
		for s, c := range counts {
			if open(s) {
				wc.Open += c
			}
		}
		out[w] = wc
		// The previous week ends where this one starts.
		end = start.Add(-time.Nanosecond)
	}
	return out
}

// BurnUp is a sprint's planned effort against its realised effort per day
// of the sprint. The planned effort is the chosen items' effort when they
// were chosen; the realised effort of a day is the effort of the items
// realized by its end, dated by the audit trail (an item realized before
// the sprint counts on its first day, after it on its last, and one with
// no audited move to realized on the last day shown). Realized is null
// for days still to come. The last day shown ends at the sprint's
// RealizedEffort.
type BurnUp struct {
	Days []BurnDay `json:"days"`
}

// BurnDay is one day of a burn-up.
type BurnDay struct {
	Date     string   `json:"date"`
	Planned  float64  `json:"planned"`
	Realized *float64 `json:"realized"`
}

// maxBurnDays caps a burn-up's length: a sprint is a small step, and a
// mistyped year must not draw ten thousand days.
const maxBurnDays = 120

// burnUp builds a sprint's burn-up. realized maps the realized items' risk
// ids to their effort.
func burnUp(rd store.Reader, s model.Sprint, now time.Time, planned float64, realized map[string]float64) (*BurnUp, error) {
	start, err1 := time.Parse(model.DateLayout, s.Start)
	end, err2 := time.Parse(model.DateLayout, s.End)
	if err1 != nil || err2 != nil || end.Before(start) {
		return nil, nil //nolint:nilnil // no valid dates, no chart
	}
	n := min(int(end.Sub(start).Hours()/24)+1, maxBurnDays)
	today := int(now.UTC().Truncate(24*time.Hour).Sub(start).Hours() / 24)
	last := min(n-1, today) // the last day shown
	add := make([]float64, n)
	day := func(t time.Time) int {
		d := int(t.UTC().Truncate(24*time.Hour).Sub(start).Hours() / 24)
		return min(max(d, 0), max(last, 0))
	}
	ids := make([]string, 0, len(realized))
	for id := range realized {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		var at time.Time
		err := rd.Audit(store.AuditFilter{EntityID: id}, func(e model.AuditEntry) error {
			if e.Entity == "risk" && e.Field == "status" && e.New == string(model.Realized) {
				at = e.At
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read when %s was realized: %w", id, err)
		}
		if at.IsZero() {
			add[max(last, 0)] += realized[id] // realized by now, when unknown
			continue
		}
		add[day(at)] += realized[id]
	}
	b := &BurnUp{Days: make([]BurnDay, n)}
	acc := 0.0
	for d := range n {
		b.Days[d] = BurnDay{Date: start.AddDate(0, 0, d).Format(model.DateLayout), Planned: planned}
		acc += add[d]
		if d <= last || last < 0 && d == 0 {
			v := acc
			b.Days[d].Realized = &v
		}
	}
	return b, nil
}
