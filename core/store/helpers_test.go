package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/usmhub/usmhub/core/model"
)

var alice = Actor{Name: "cli:alice"}

// openTest opens a fresh store on disk in the test's temporary folder.
func openTest(t testing.TB) *SQLite {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "usmhub.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// threat returns a valid proposed threat of the initiative.
func threat(initiative, title string) model.Risk {
	return model.Risk{Initiative: initiative, Kind: model.Threat, Title: title, Likelihood: 3, Impact: 4, Effort: 2}
}

// mustUpdate runs fn in a write transaction as alice and fails the test on
// an error.
func mustUpdate(t testing.TB, s Store, fn func(Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), alice, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// mustView runs fn in a read transaction and fails the test on an error.
func mustView(t testing.TB, s Store, fn func(Reader) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// createRisks stores the risks in one transaction and returns them as stored.
func createRisks(t testing.TB, s Store, risks ...model.Risk) []model.Risk {
	t.Helper()
	mustUpdate(t, s, func(tx Tx) error {
		for i := range risks {
			if err := tx.CreateRisk(&risks[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return risks
}

// readRisk returns the stored risk ref names.
func readRisk(t testing.TB, s Store, ref string) model.Risk {
	t.Helper()
	var r model.Risk
	mustView(t, s, func(rd Reader) error {
		var err error
		r, err = rd.Risk(ref)
		return err
	})
	return r
}

// auditOf returns the audit entries of f.
func auditOf(t testing.TB, s Store, f AuditFilter) []model.AuditEntry {
	t.Helper()
	var got []model.AuditEntry
	mustView(t, s, func(rd Reader) error {
		return rd.Audit(f, func(e model.AuditEntry) error {
			got = append(got, e)
			return nil
		})
	})
	return got
}
