package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
)

// seedRisks stores eight risks (R-1 … R-8) of two initiatives with a mix of
// kinds, processes and statuses. The last one has an id that sorts first.
func seedRisks(t *testing.T, s Store) {
	t.Helper()
	mk := func(initiative string, kind model.Kind, process model.Process, status model.Status) model.Risk {
		r := threat(initiative, string(kind)+" "+string(process)+" "+string(status))
		r.Kind, r.Process, r.Status = kind, process, status
		return r
	}
	last := mk("ops", model.Threat, model.Improve, model.Accepted)
	last.ID = "00000000-0000-4000-8000-000000000001"
	createRisks(t, s,
		mk("ops", model.Threat, model.Change, model.Proposed),
		mk("ops", model.Opportunity, model.Change, model.Accepted),
		mk("hr", model.Threat, model.Agree, model.Accepted),
		mk("ops", model.Threat, "", model.Accepted),
		mk("ops", model.Opportunity, model.Operate, model.Realized),
		mk("hr", model.Opportunity, model.Change, model.Proposed),
		mk("ops", model.Threat, model.Change, model.Rejected),
		last,
	)
}

func TestRisksStreamsMatchingRisksInCreationOrder(t *testing.T) {
	s := openTest(t)
	seedRisks(t, s)
	tests := []struct {
		name string
		f    RiskFilter
		want []string
	}{
		{"all", RiskFilter{}, []string{"R-1", "R-2", "R-3", "R-4", "R-5", "R-6", "R-7", "R-8"}},
		{"initiative", RiskFilter{Initiative: "hr"}, []string{"R-3", "R-6"}},
		{"status", RiskFilter{Statuses: []model.Status{model.Accepted}}, []string{"R-2", "R-3", "R-4", "R-8"}},
		{"statuses", RiskFilter{Initiative: "ops", Statuses: []model.Status{model.Proposed, model.Realized}}, []string{"R-1", "R-5"}},
		{"kind", RiskFilter{Kind: model.Opportunity}, []string{"R-2", "R-5", "R-6"}},
		{"process", RiskFilter{Process: model.Change}, []string{"R-1", "R-2", "R-6", "R-7"}},
		{"everything", RiskFilter{Initiative: "ops", Statuses: []model.Status{model.Accepted}, Kind: model.Threat, Process: model.Improve}, []string{"R-8"}},
		{"no match", RiskFilter{Initiative: "finance"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var n int
			mustView(t, s, func(rd Reader) error {
				err := rd.Risks(tt.f, func(r model.Risk) error {
					if !matches(tt.f, r) {
						t.Errorf("%s does not match the filter", r.Key)
					}
					got = append(got, r.Key)
					return nil
				})
				if err != nil {
					return err
				}
				n, err = rd.CountRisks(tt.f)
				return err
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Risks (-want +got):\n%s", diff)
			}
			if n != len(tt.want) {
				t.Errorf("CountRisks = %d, want %d", n, len(tt.want))
			}
		})
	}
}

func matches(f RiskFilter, r model.Risk) bool {
	if f.Initiative != "" && r.Initiative != f.Initiative || f.Kind != "" && r.Kind != f.Kind ||
		f.Process != "" && r.Process != f.Process {
		return false
	}
	if len(f.Statuses) == 0 {
		return true
	}
	for _, s := range f.Statuses {
		if r.Status == s {
			return true
		}
	}
	return false
}

func TestRisksStopsOnError(t *testing.T) {
	s := openTest(t)
	seedRisks(t, s)
	stop := errors.New("stop")
	calls := 0
	err := s.View(context.Background(), func(rd Reader) error {
		return rd.Risks(RiskFilter{}, func(model.Risk) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Errorf("Risks returned %v after %d calls, want fn's error after 3", err, calls)
	}
}

func TestRisksRefusesUnknownFilterValues(t *testing.T) {
	s := openTest(t)
	for _, f := range []RiskFilter{
		{Statuses: []model.Status{"done"}},
		{Kind: "risk"},
		{Process: "deliver"},
	} {
		err := s.View(context.Background(), func(rd Reader) error {
			return rd.Risks(f, func(model.Risk) error { return nil })
		})
		if err == nil || !strings.Contains(err.Error(), "unknown") {
			t.Errorf("Risks(%+v): %v, want an error naming the unknown value", f, err)
		}
	}
}

// A write transaction may change each risk while it walks them: the walk's
// rows stay open while fn runs other statements on the same connection.
func TestRisksWalkWhileUpdating(t *testing.T) {
	s := openTest(t)
	seedRisks(t, s)
	mustUpdate(t, s, func(tx Tx) error {
		return tx.Risks(RiskFilter{Statuses: []model.Status{model.Accepted}}, func(r model.Risk) error {
			// A nested walk and point reads while the outer rows are open.
			if err := tx.Risks(RiskFilter{Initiative: r.Initiative}, func(model.Risk) error { return nil }); err != nil {
				return err
			}
			if _, err := tx.Votes(r.ID); err != nil {
				return err
			}
			r.Status = model.Planned
			return tx.UpdateRisk(&r)
		})
	})
	mustView(t, s, func(rd Reader) error {
		var planned []string
		err := rd.Risks(RiskFilter{Statuses: []model.Status{model.Planned}}, func(r model.Risk) error {
			planned = append(planned, r.Key)
			return nil
		})
		if diff := cmp.Diff([]string{"R-2", "R-3", "R-4", "R-8"}, planned); diff != "" {
			t.Errorf("planned risks (-want +got):\n%s", diff)
		}
		return err
	})
}
