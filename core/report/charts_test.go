package report

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// moveTo walks a risk forward through the status flow to status, one
// audited update per step.
func moveTo(tx store.Tx, r *model.Risk, status model.Status) error {
	path := []model.Status{model.Accepted, model.Planned, model.InProgress, model.Realized}
	if status == model.Rejected || status == model.Proposed {
		path = []model.Status{status}
	}
	for _, s := range path {
		if r.Status == status {
			return nil
		}
		r.Status = s
		if err := tx.UpdateRisk(r); err != nil {
			return fmt.Errorf("%s → %s: %w", r.Key, s, err)
		}
	}
	return nil
}

// TestChartNumbers builds the register and sprint reports on a real SQLite
// store whose risks went through audited status changes, and checks the
// charts' numbers against the register: the heatmap cells sum to the open
// risks, cell by cell as recounted here; the trend's last week is today's
// register and the weeks before the risks existed are empty; the burn-up
// ends at the realised effort.
func TestChartNumbers(t *testing.T) {
	ctx := context.Background()
	cfg := loadConfig(t)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var want Heatmap
	wantOpen, realizedEffort := 0, 0.0
	today := time.Now().UTC()
	err = st.Update(ctx, store.Actor{Name: "test"}, func(tx store.Tx) error {
		var items []model.SprintItem
		for i := range 120 {
			r := model.Risk{Initiative: "ssc", Kind: model.Kinds[rng.IntN(2)], Title: fmt.Sprintf("risk %d", i),
				Likelihood: 1 + rng.IntN(5), Impact: 1 + rng.IntN(5), Effort: float64(1 + rng.IntN(4)), Status: model.Proposed}
			if err := tx.CreateRisk(&r); err != nil {
				return err
			}
			target := model.Statuses[rng.IntN(len(model.Statuses))]
			if i < 6 {
				target = model.InProgress // the sprint's items
			}
			if err := moveTo(tx, &r, target); err != nil {
				return err
			}
			if i < 6 {
				items = append(items, model.SprintItem{RiskID: r.ID, Key: r.Key, Title: r.Title, Score: 1, Effort: r.Effort})
				if i%2 == 0 {
					if err := moveTo(tx, &r, model.Realized); err != nil {
						return err
					}
					realizedEffort += r.Effort
				}
			}
			if open(r.Status) {
				wantOpen++
				want.add(&r)
			}
		}
		// Another initiative's risks are in neither chart.
		other := model.Risk{Initiative: "ops", Kind: model.Threat, Title: "elsewhere", Likelihood: 5, Impact: 5, Effort: 1, Status: model.Proposed}
		if err := tx.CreateRisk(&other); err != nil {
			return err
		}
		if err := moveTo(tx, &other, model.Rejected); err != nil {
			return err
		}
		return tx.CreateSprint(&model.Sprint{Initiative: "ssc", Goal: "g", Status: model.SprintActive, Capacity: 100,
			Start: today.AddDate(0, 0, -3).Format(model.DateLayout), End: today.AddDate(0, 0, 10).Format(model.DateLayout), Items: items})
	})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := cfg.Initiative("ssc")
	var reg, spr *Report
	err = st.View(ctx, func(rd store.Reader) error {
		input := Input{Config: cfg, Initiative: in, Reader: rd, Now: time.Now().Add(time.Second)}
		if reg, err = Build(KindRegister, input, Options{}); err != nil {
			return err
		}
		spr, err = Build(KindSprint, input, Options{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	g := reg.Register
	sum := 0
	for l := range 5 {
		for i := range 5 {
			sum += g.Heatmap.Threats[l][i] + g.Heatmap.Opportunities[l][i]
		}
	}
	if sum != g.Open || g.Open != wantOpen {
		t.Errorf("heatmap cells sum to %d, open risks %d, want %d", sum, g.Open, wantOpen)
	}
	if g.Heatmap != want {
		t.Errorf("heatmap = %+v, want %+v", g.Heatmap, want)
	}
	if len(g.Trend) != TrendWeeks {
		t.Fatalf("trend has %d weeks, want %d", len(g.Trend), TrendWeeks)
	}
	last := g.Trend[TrendWeeks-1]
	realized, rejected := 0, 0
	for _, c := range g.ByStatus {
		switch model.Status(c.Name) {
		case model.Realized:
			realized = c.Count
		case model.Rejected:
			rejected = c.Count
		}
	}
	y, w := time.Now().UTC().ISOWeek()
	if want := (WeekCount{Week: fmt.Sprintf("%04d-W%02d", y, w), Open: g.Open, Realized: realized, Rejected: rejected}); last != want {
		t.Errorf("trend's last week = %+v, want today's register %+v", last, want)
	}
	// Every risk was created this week: the weeks before had none (the
	// undo of the creations and status changes brings every count to 0).
	for _, wc := range g.Trend[:TrendWeeks-1] {
		if wc.Open+wc.Realized+wc.Rejected != 0 {
			t.Errorf("week %s before any risk existed counts %+v", wc.Week, wc)
		}
	}

	s := spr.Sprint
	if s.RealizedEffort != realizedEffort || s.Counts.Realized != 3 {
		t.Fatalf("sprint realised effort %v (%d items), want %v (3)", s.RealizedEffort, s.Counts.Realized, realizedEffort)
	}
	days := s.BurnUp.Days
	if len(days) != 14 {
		t.Fatalf("burn-up has %d days, want 14", len(days))
	}
	shown := -1
	for i, d := range days {
		if d.Planned != s.PlannedEffort {
			t.Errorf("day %s planned %v, want %v", d.Date, d.Planned, s.PlannedEffort)
		}
		if d.Realized != nil {
			shown = i
		}
	}
	if shown != 3 {
		t.Errorf("burn-up shows realised effort up to day %d, want 3 (today)", shown)
	}
	if got := *days[shown].Realized; got != realizedEffort {
		t.Errorf("burn-up ends at %v, want the realised effort %v", got, realizedEffort)
	}
	if *days[2].Realized != 0 {
		t.Errorf("effort realised today shows before today: %v", *days[2].Realized)
	}

	// The HTML form carries the same numbers and its charts.
	for _, r := range []*Report{reg, spr} {
		h := r.HTML()
		if n := strings.Count(h, "<svg "); n != len(r.Figures("")) || n == 0 {
			t.Errorf("%s HTML has %d charts, want %d", r.Kind, n, len(r.Figures("")))
		}
	}
	if h := spr.HTML(); !strings.Contains(h, fmt.Sprintf("%s of %s planned", num(realizedEffort), num(s.PlannedEffort))) {
		t.Errorf("sprint HTML lacks the realised effort")
	}
}

// TestTrendUndo checks the backward walk on events spread over weeks: a
// risk created three weeks ago, accepted two weeks ago and realized this
// week, and one created last week and rejected.
func TestTrendUndo(t *testing.T) {
	now := time.Date(2026, 10, 7, 12, 0, 0, 0, time.UTC) // Wednesday, W41
	ago := func(days int) time.Time { return now.AddDate(0, 0, -days) }
	evs := []trendEvent{
		{at: ago(21), id: "a", created: true},
		{at: ago(14), id: "a", old: model.Proposed, new: model.Accepted},
		{at: ago(8), id: "b", created: true},
		{at: ago(7), id: "b", old: model.Proposed, new: model.Rejected},
		{at: ago(1), id: "a", old: model.Accepted, new: model.InProgress},
		{at: ago(1), id: "a", old: model.InProgress, new: model.Realized},
		{at: ago(1), id: "x", old: model.Proposed, new: model.Realized}, // another initiative's
		{at: now.Add(time.Hour), id: "a", created: true},                // after the report's moment
	}
	current := map[model.Status]int{model.Realized: 1, model.Rejected: 1, model.Proposed: 5}
	got := trend(now, current, evs, map[string]model.Status{"a": model.Realized, "b": model.Rejected})
	want := map[string]WeekCount{
		"2026-W41": {Week: "2026-W41", Open: 5, Realized: 1, Rejected: 1},
		"2026-W40": {Week: "2026-W40", Open: 6, Realized: 0, Rejected: 1},
		"2026-W39": {Week: "2026-W39", Open: 6, Realized: 0, Rejected: 0},
		"2026-W38": {Week: "2026-W38", Open: 6, Realized: 0, Rejected: 0},
		"2026-W37": {Week: "2026-W37", Open: 5, Realized: 0, Rejected: 0},
	}
	for _, wc := range got {
		if w, ok := want[wc.Week]; ok && wc != w {
			t.Errorf("week %s = %+v, want %+v", wc.Week, wc, w)
		}
	}
	if got[0].Week != "2026-W30" || got[TrendWeeks-1].Week != "2026-W41" {
		t.Errorf("weeks %s … %s, want 2026-W30 … 2026-W41", got[0].Week, got[TrendWeeks-1].Week)
	}
}

// checkHTML checks an HTML report is self-contained: no script, no
// external reference (the SVG namespace aside), one <svg> per figure, and
// the report's title, key and Markdown table cells' numbers in it.
func checkHTML(t *testing.T, r *Report, h string) {
	t.Helper()
	rest := strings.ReplaceAll(h, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, bad := range []string{"<script", " src=", "http://", "https://", "url(", "@import", "<link"} {
		if strings.Contains(strings.ToLower(rest), bad) {
			t.Errorf("%s HTML report holds %q: it must be self-contained", r.Kind, bad)
		}
	}
	if !strings.HasPrefix(h, "<!DOCTYPE html>") || !strings.Contains(h, `<meta name="viewport"`) {
		t.Errorf("%s HTML report is no full document for phones", r.Kind)
	}
	if n := strings.Count(h, "<svg "); n != len(r.Figures("")) {
		t.Errorf("%s HTML report has %d charts, want %d", r.Kind, n, len(r.Figures("")))
	}
	if !strings.Contains(h, r.Key) {
		t.Errorf("%s HTML report lacks its key", r.Kind)
	}
	if g := r.Register; g != nil {
		for _, top := range g.Top {
			if !strings.Contains(h, ">"+top.Key+"<") {
				t.Errorf("register HTML lacks top risk %s", top.Key)
			}
		}
	}
}
