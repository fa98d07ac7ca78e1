package register

import (
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/model"
)

// Risks list by priority, highest first and unscored last; equal scores
// by age, then naturally by key (R-2 before R-10).
func TestSortByPriority(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	score := func(v float64) *float64 { return &v }
	scores := map[string]*float64{"R-1": nil, "R-2": score(3), "R-10": score(3), "R-3": score(9), "R-4": score(3)}
	var items []Risk
	for _, k := range []string{"R-1", "R-10", "R-4", "R-3", "R-2"} {
		at := t0
		if k == "R-4" {
			at = t0.Add(-time.Hour) // older
		}
		items = append(items, Listed(model.Risk{Key: k, CreatedAt: at}, func(model.Risk) *float64 { return scores[k] }))
	}
	SortByPriority(items)
	var got []string
	for _, it := range items {
		got = append(got, it.Key)
	}
	want := []string{"R-3", "R-4", "R-2", "R-10", "R-1"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}
