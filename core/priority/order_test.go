package priority

import (
	"slices"
	"testing"
	"time"
)

func TestCompareIsThePriorityOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	score := func(f float64) *float64 { return &f }
	// Listed best first; every risk differs from the one before it in the
	// first key Compare looks at after the ones they share.
	want := []struct {
		name string
		rank Rank
	}{
		{"highest score", RankOf(score(9), t0.Add(time.Hour), "R-9", "9")},
		{"same score, older", RankOf(score(5), t0, "R-50", "50")},
		{"same score and time, lower key number", RankOf(score(5), t0.Add(time.Minute), "R-2", "2")},
		{"… R-10 after R-2", RankOf(score(5), t0.Add(time.Minute), "R-10", "10")},
		{"a key without a number first (-1), then by text", RankOf(score(5), t0.Add(2*time.Minute), "OPS-A", "a")},
		{"… OPS-B", RankOf(score(5), t0.Add(2*time.Minute), "OPS-B", "b")},
		{"same key, lower id", RankOf(score(5), t0.Add(2*time.Minute), "OPS-B", "c")},
		{"negative score, still scored", RankOf(score(-1), t0, "R-1", "1")},
		{"unscored, older", RankOf(nil, t0, "R-3", "3")},
		{"unscored, newer", RankOf(nil, t0.Add(time.Nanosecond), "R-4", "4")},
	}
	for i := 1; i < len(want); i++ {
		a, b := want[i-1], want[i]
		if c := Compare(a.rank, b.rank); c >= 0 {
			t.Errorf("%q does not rank before %q (Compare = %d)", a.name, b.name, c)
		}
		if c := Compare(b.rank, a.rank); c <= 0 {
			t.Errorf("%q ranks before %q (Compare = %d)", b.name, a.name, c)
		}
	}
	ranks := make([]Rank, len(want))
	for i := range want {
		ranks[len(want)-1-i] = want[i].rank
	}
	slices.SortFunc(ranks, Compare)
	for i := range want {
		if ranks[i] != want[i].rank {
			t.Fatalf("sorted, place %d holds %+v, want %q", i+1, ranks[i], want[i].name)
		}
	}
}
