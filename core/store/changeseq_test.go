package store

import (
	"context"
	"testing"

	"github.com/usmhub/usmhub/core/model"
)

// Every insert and update of a risk (votes included) takes the next change
// sequence, and RisksToPush finds exactly the risks changed past a mark.
func TestChangeSequence(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	var a, b model.Risk
	err := st.Update(ctx, Actor{Name: "test"}, func(tx Tx) error {
		a, b = threat("i", "A"), threat("i", "B")
		if err := tx.CreateRisk(&a); err != nil {
			return err
		}
		return tx.CreateRisk(&b)
	})
	if err != nil {
		t.Fatal(err)
	}
	changed := func(since int64) (keys []string, last int64) {
		t.Helper()
		err := st.View(ctx, func(r Reader) error {
			return r.RisksToPush("risks", RiskFilter{}, since, func(risk model.Risk, _ *Link, seq int64) error {
				if seq <= last {
					t.Errorf("sequence %d after %d: not in change order", seq, last)
				}
				keys, last = append(keys, risk.Key), seq
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys, last
	}
	keys, mark := changed(0)
	if len(keys) != 2 || keys[0] != a.Key {
		t.Fatalf("changed since 0 = %v", keys)
	}
	if keys, _ := changed(mark); len(keys) != 0 {
		t.Fatalf("changed since the mark, before any change = %v", keys)
	}
	err = st.Update(ctx, Actor{Name: "test"}, func(tx Tx) error {
		a.Title = "A, edited"
		if err := tx.UpdateRisk(&a); err != nil {
			return err
		}
		return tx.CastVote(model.Vote{RiskID: b.ID, Voter: "lotte", Weight: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	keys, mark2 := changed(mark)
	if len(keys) != 2 || keys[0] != a.Key || keys[1] != b.Key || mark2 <= mark {
		t.Fatalf("changed since %d = %v (up to %d), want A then B", mark, keys, mark2)
	}
	if keys, _ := changed(-1); len(keys) != 2 {
		t.Fatalf("every risk (since -1) = %v", keys)
	}
}
