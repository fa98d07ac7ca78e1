package store

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
)

func TestAuditFilter(t *testing.T) {
	s := openTest(t)
	r := createRisks(t, s, threat("ops", "Changes are not registered"), threat("ops", "Backups are never restored"))
	r1, r2 := r[0], r[1]
	run := Actor{Name: "sync:redmine", RunID: "run-9"}
	if err := s.Update(context.Background(), run, func(tx Tx) error {
		r1.Owner, r2.Owner = "carol", "dave"
		if err := tx.UpdateRisk(&r1); err != nil {
			return err
		}
		return tx.UpdateRisk(&r2)
	}); err != nil {
		t.Fatal(err)
	}
	r1.Impact = 5
	mustUpdate(t, s, func(tx Tx) error { return tx.UpdateRisk(&r1) })

	all := auditOf(t, s, AuditFilter{})
	if len(all) != 5 {
		t.Fatalf("%d audit entries, want 5: %+v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID || all[i].At.Before(all[i-1].At) {
			t.Errorf("entries %d and %d are not oldest first", all[i-1].ID, all[i].ID)
		}
	}
	summary := func(es []model.AuditEntry) []string {
		var out []string
		for _, e := range es {
			key := "R-1"
			if e.EntityID == r2.ID {
				key = "R-2"
			}
			out = append(out, key+" "+e.Field+" by "+e.Actor)
		}
		return out
	}
	tests := []struct {
		name string
		f    AuditFilter
		want []string
	}{
		{"risk key", AuditFilter{EntityID: "R-1"}, []string{"R-1 created by cli:alice", "R-1 owner by sync:redmine", "R-1 impact by cli:alice"}},
		{"risk uuid", AuditFilter{EntityID: r2.ID}, []string{"R-2 created by cli:alice", "R-2 owner by sync:redmine"}},
		{"run", AuditFilter{RunID: "run-9"}, []string{"R-1 owner by sync:redmine", "R-2 owner by sync:redmine"}},
		{"since", AuditFilter{Since: all[2].At}, []string{"R-1 owner by sync:redmine", "R-2 owner by sync:redmine", "R-1 impact by cli:alice"}},
		{"limit: the newest, oldest first", AuditFilter{Limit: 2}, []string{"R-2 owner by sync:redmine", "R-1 impact by cli:alice"}},
		{"key and limit", AuditFilter{EntityID: "R-1", Limit: 2}, []string{"R-1 owner by sync:redmine", "R-1 impact by cli:alice"}},
		{"limit above the count", AuditFilter{EntityID: "R-2", Limit: 10}, []string{"R-2 created by cli:alice", "R-2 owner by sync:redmine"}},
		{"run and key", AuditFilter{EntityID: "R-2", RunID: "run-9"}, []string{"R-2 owner by sync:redmine"}},
		{"nothing", AuditFilter{RunID: "run-404"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, summary(auditOf(t, s, tt.f))); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}
		})
	}

	err := s.View(context.Background(), func(rd Reader) error {
		return rd.Audit(AuditFilter{EntityID: "R-404"}, func(model.AuditEntry) error { return nil })
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("audit of an unknown key: %v, want ErrNotFound", err)
	}
	err = s.View(context.Background(), func(rd Reader) error {
		return rd.Audit(AuditFilter{Limit: -1}, func(model.AuditEntry) error { return nil })
	})
	if err == nil {
		t.Error("a negative limit was accepted")
	}
}
