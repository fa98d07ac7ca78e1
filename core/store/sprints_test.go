package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
)

func sprintOf(initiative string, items ...model.SprintItem) model.Sprint {
	return model.Sprint{Initiative: initiative, Goal: "Fewer failed changes", Start: "2025-03-03", End: "2025-03-14",
		Capacity: 10, Used: 4, Policy: "likelihood * impact + votes", Items: items}
}

func TestSprintsRoundTrip(t *testing.T) {
	s := openTest(t)
	risks := createRisks(t, s, threat("ops", "Changes are not registered"), threat("ops", "Backups are never restored"),
		threat("hr", "Onboarding takes weeks"))

	first := sprintOf("ops",
		model.SprintItem{RiskID: risks[1].ID, Key: risks[1].Key, Title: risks[1].Title, Score: 12.5, Effort: 3},
		model.SprintItem{Key: risks[0].Key, Score: 12, Effort: 1}, // by key only: id and title are filled in
	)
	second := sprintOf("ops")
	other := sprintOf("hr", model.SprintItem{RiskID: risks[2].Key, Score: 1, Effort: 2})
	other.Status = model.SprintActive
	mustUpdate(t, s, func(tx Tx) error {
		for _, sp := range []*model.Sprint{&first, &second, &other} {
			if err := tx.CreateSprint(sp); err != nil {
				return err
			}
		}
		return nil
	})

	tests := []struct {
		sprint     model.Sprint
		wantNumber int
		wantStatus model.SprintStatus
		wantItems  []model.SprintItem
	}{
		{first, 1, model.SprintPlanned, []model.SprintItem{
			{RiskID: risks[1].ID, Key: "R-2", Title: "Backups are never restored", Score: 12.5, Effort: 3},
			{RiskID: risks[0].ID, Key: "R-1", Title: "Changes are not registered", Score: 12, Effort: 1},
		}},
		{second, 2, model.SprintPlanned, nil},
		{other, 1, model.SprintActive, []model.SprintItem{
			{RiskID: risks[2].ID, Key: "R-3", Title: "Onboarding takes weeks", Score: 1, Effort: 2},
		}},
	}
	for _, tt := range tests {
		sp := tt.sprint
		if sp.Number != tt.wantNumber || sp.Status != tt.wantStatus || sp.Version != 1 || sp.CreatedAt.IsZero() {
			t.Errorf("sprint of %s: number %d status %s version %d created %v; want number %d status %s version 1",
				sp.Initiative, sp.Number, sp.Status, sp.Version, sp.CreatedAt, tt.wantNumber, tt.wantStatus)
		}
		if _, ok := canonicalUUID(sp.ID); !ok {
			t.Errorf("sprint id %q is not a UUID", sp.ID)
		}
		if diff := cmp.Diff(tt.wantItems, sp.Items); diff != "" {
			t.Errorf("items of sprint %d of %s (-want +got):\n%s", sp.Number, sp.Initiative, diff)
		}
		mustView(t, s, func(rd Reader) error {
			got, err := rd.Sprint(sp.Initiative, sp.Number)
			if diff := cmp.Diff(sp, got); diff != "" {
				t.Errorf("Sprint(%s, %d) (-stored +read):\n%s", sp.Initiative, sp.Number, diff)
			}
			return err
		})
	}

	mustView(t, s, func(rd Reader) error {
		for _, tt := range []struct {
			initiative string
			want       []model.Sprint
		}{
			{"ops", []model.Sprint{first, second}},
			{"hr", []model.Sprint{other}},
			{"", []model.Sprint{other, first, second}}, // by initiative, then number
			{"finance", nil},
		} {
			got, err := rd.Sprints(tt.initiative)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Sprints(%q) (-want +got):\n%s", tt.initiative, diff)
			}
		}
		return nil
	})
}

func TestSetSprintStatus(t *testing.T) {
	s := openTest(t)
	sp := sprintOf("ops")
	mustUpdate(t, s, func(tx Tx) error { return tx.CreateSprint(&sp) })
	run := Actor{Name: "daemon", RunID: "cron-1"}
	for _, st := range []model.SprintStatus{model.SprintActive, model.SprintActive, model.SprintClosed} {
		if err := s.Update(context.Background(), run, func(tx Tx) error { return tx.SetSprintStatus("ops", 1, st) }); err != nil {
			t.Fatal(err)
		}
	}
	mustView(t, s, func(rd Reader) error {
		got, err := rd.Sprint("ops", 1)
		if got.Status != model.SprintClosed || got.Version != 3 {
			t.Errorf("sprint: status %s version %d, want closed version 3", got.Status, got.Version)
		}
		return err
	})
	want := []model.AuditEntry{
		{Actor: "cli:alice", Entity: "sprint", EntityID: sp.ID, Field: "created", New: "sprint 1 of initiative ops (0 items)"},
		{Actor: "daemon", RunID: "cron-1", Entity: "sprint", EntityID: sp.ID, Field: "status", Old: "planned", New: "active"},
		{Actor: "daemon", RunID: "cron-1", Entity: "sprint", EntityID: sp.ID, Field: "status", Old: "active", New: "closed"},
	}
	if diff := cmp.Diff(want, auditOf(t, s, AuditFilter{EntityID: sp.ID}), ignoreAuditIDs); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestSprintRefuses(t *testing.T) {
	s := openTest(t)
	r := createRisks(t, s, threat("ops", "Changes are not registered"))[0]
	badDates := sprintOf("ops")
	badDates.End = "2025-02-01"
	twice := sprintOf("ops", model.SprintItem{RiskID: r.ID, Score: 1}, model.SprintItem{Key: r.Key, Score: 1})
	tests := []struct {
		name     string
		fn       func(tx Tx) error
		wantErr  error
		contains string
	}{
		{"end before start", func(tx Tx) error { return tx.CreateSprint(&badDates) }, nil, "end: 2025-02-01 is before the start 2025-03-03"},
		{"unknown status", func(tx Tx) error { sp := sprintOf("ops"); sp.Status = "done"; return tx.CreateSprint(&sp) }, nil, `not "done"`},
		{"unknown item", func(tx Tx) error {
			sp := sprintOf("ops", model.SprintItem{Key: "R-9"})
			return tx.CreateSprint(&sp)
		}, ErrNotFound, `item 1: risk "R-9"`},
		{"item twice", func(tx Tx) error { return tx.CreateSprint(&twice) }, ErrConflict, "risk R-1 is an item twice"},
		{"no such sprint", func(tx Tx) error { _, err := tx.Sprint("ops", 4); return err }, ErrNotFound, `sprint 4 of initiative "ops"`},
		{"status of no such sprint", func(tx Tx) error { return tx.SetSprintStatus("ops", 4, model.SprintActive) }, ErrNotFound, "sprint 4"},
		{"unknown status to set", func(tx Tx) error { return tx.SetSprintStatus("ops", 1, "paused") }, nil, `not "paused"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(context.Background(), alice, tt.fn)
			if err == nil {
				t.Fatal("succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q does not wrap %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

func TestScansRoundTrip(t *testing.T) {
	s := openTest(t)
	progress := model.Scan{Initiative: "ops", Kind: model.Progress, Method: "USM maturity scan", MethodVersion: "2.1",
		TakenOn: "2025-06-01", Scores: []model.ScanScore{
			{Dimension: "change", Score: 3.5, Respondents: 12},
			{Dimension: "agree", Score: 2, Respondents: 11, Note: "SLAs exist on paper only"},
		}, Findings: []string{"Changes now go through one board"}}
	baseline := model.Scan{Initiative: "ops", Kind: model.Baseline, Method: "USM maturity scan", MethodVersion: "2.1",
		TakenOn: "2025-01-10", Scores: []model.ScanScore{{Dimension: "change", Score: 2.5}, {Dimension: "agree", Score: 2}}}
	other := model.Scan{Initiative: "hr", Kind: model.Baseline, Method: "survey", MethodVersion: "1",
		TakenOn: "2024-12-01", Scores: []model.ScanScore{{Dimension: "onboarding", Score: 1}}}
	mustUpdate(t, s, func(tx Tx) error {
		for _, sc := range []*model.Scan{&progress, &baseline, &other} { // not in date order
			if err := tx.CreateScan(sc); err != nil {
				return err
			}
		}
		return nil
	})
	for _, sc := range []model.Scan{progress, baseline, other} {
		if _, ok := canonicalUUID(sc.ID); !ok || sc.CreatedAt.IsZero() {
			t.Errorf("scan of %s: id %q created %v, want a UUID and a time", sc.TakenOn, sc.ID, sc.CreatedAt)
		}
	}
	mustView(t, s, func(rd Reader) error {
		for _, tt := range []struct {
			initiative string
			want       []model.Scan
		}{
			{"ops", []model.Scan{baseline, progress}},
			{"", []model.Scan{other, baseline, progress}},
			{"finance", nil},
		} {
			got, err := rd.Scans(tt.initiative)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Scans(%q) (-want +got):\n%s", tt.initiative, diff)
			}
		}
		return nil
	})
	want := model.AuditEntry{Actor: alice.Name, Entity: "scan", EntityID: baseline.ID, Field: "created",
		New: "baseline scan, USM maturity scan 2.1, taken on 2025-01-10"}
	if diff := cmp.Diff([]model.AuditEntry{want}, auditOf(t, s, AuditFilter{EntityID: baseline.ID}), ignoreAuditIDs); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}

	bad := model.Scan{Initiative: "ops", Kind: "final", TakenOn: "June", Scores: []model.ScanScore{{Dimension: "a"}, {Dimension: "a"}}}
	err := s.Update(context.Background(), alice, func(tx Tx) error { return tx.CreateScan(&bad) })
	for _, want := range []string{`kind: must be baseline or progress, not "final"`, "method: is required", `"a" is scored twice`, `not "June"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CreateScan of an invalid scan: %v, want an error containing %q", err, want)
		}
	}
}
