package priority

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func cand(key string, score, effort float64, createdDay int) Candidate {
	return Candidate{
		Risk:  model.Risk{ID: "id-" + key, Key: key, Effort: effort, CreatedAt: t0.AddDate(0, 0, createdDay)},
		Score: score,
	}
}

func keys(cs []Candidate) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Risk.Key)
	}
	return out
}

func TestChoose(t *testing.T) {
	tests := []struct {
		name     string
		cands    []Candidate
		capacity float64
		want     []string
		used     float64
	}{
		{name: "none", capacity: 10, want: []string{}},
		{
			name:     "by score",
			cands:    []Candidate{cand("R-1", 1, 1, 0), cand("R-2", 3, 1, 0), cand("R-3", 2, 1, 0)},
			capacity: 2, want: []string{"R-2", "R-3"}, used: 2,
		},
		{
			name:     "skips what does not fit and keeps scanning",
			cands:    []Candidate{cand("R-1", 9, 5, 0), cand("R-2", 8, 3, 0), cand("R-3", 7, 2, 0), cand("R-4", 6, 1, 0)},
			capacity: 6, want: []string{"R-1", "R-4"}, used: 6,
		},
		{
			name:     "tie goes to the older risk",
			cands:    []Candidate{cand("R-1", 5, 1, 3), cand("R-2", 5, 1, 1), cand("R-3", 5, 1, 2)},
			capacity: 2, want: []string{"R-2", "R-3"}, used: 2,
		},
		{
			name:     "then to the lower key sequence, numerically",
			cands:    []Candidate{cand("R-10", 5, 1, 0), cand("R-9", 5, 1, 0), cand("R-100", 5, 1, 0)},
			capacity: 3, want: []string{"R-9", "R-10", "R-100"}, used: 3,
		},
		{
			name:     "zero effort always fits",
			cands:    []Candidate{cand("R-1", 5, 0, 0), cand("R-2", 4, 3, 0)},
			capacity: 0, want: []string{"R-1"}, used: 0,
		},
		{
			name:     "fractional efforts fill the capacity",
			cands:    []Candidate{cand("R-1", 3, 0.1, 0), cand("R-2", 2, 0.2, 0), cand("R-3", 1, 0.1, 0)},
			capacity: 0.3, want: []string{"R-1", "R-2"}, used: 0.30000000000000004, // 0.1 + 0.2 in float64
		},
		{
			name:     "negative scores rank last",
			cands:    []Candidate{cand("R-1", -1, 1, 0), cand("R-2", 0, 1, 0)},
			capacity: 5, want: []string{"R-2", "R-1"}, used: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]Candidate(nil), tt.cands...)
			chosen, used := Choose(tt.cands, tt.capacity)
			if diff := cmp.Diff(tt.want, keys(chosen)); diff != "" {
				t.Errorf("chosen (-want +got):\n%s", diff)
			}
			if used != tt.used {
				t.Errorf("used = %v, want %v", used, tt.used)
			}
			if diff := cmp.Diff(in, tt.cands); diff != "" {
				t.Errorf("Choose modified its input (-before +after):\n%s", diff)
			}
		})
	}
}

func TestChooseIgnoresInputOrder(t *testing.T) {
	cands := randomCandidates(500, 1)
	want, wantUsed := Choose(cands, 300)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 20; i++ {
		rng.Shuffle(len(cands), func(a, b int) { cands[a], cands[b] = cands[b], cands[a] })
		got, used := Choose(cands, 300)
		if diff := cmp.Diff(keys(want), keys(got)); diff != "" || used != wantUsed {
			t.Fatalf("shuffle %d: different choice (used %v, want %v):\n%s", i, used, wantUsed, diff)
		}
	}
}

// randomCandidates makes n candidates with few distinct scores and creation
// days, so that ties are common.
func randomCandidates(n int, seed uint64) []Candidate {
	rng := rand.New(rand.NewPCG(seed, seed))
	cands := make([]Candidate, n)
	for i := range cands {
		cands[i] = cand(fmt.Sprintf("R-%d", i+1), float64(rng.IntN(25)), float64(1+rng.IntN(8)), rng.IntN(30))
	}
	return cands
}

func BenchmarkChoose100k(b *testing.B) {
	cands := randomCandidates(100_000, 42)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Choose(cands, 5_000)
	}
}
