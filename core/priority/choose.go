package priority

import (
	"cmp"
	"slices"
	"strings"

	"github.com/usmhub/usmhub/core/model"
)

// Choose picks a sprint's risks: it ranks the candidates by descending
// score — ties go to the risk created first, then to the lower key sequence
// (R-2 before R-10), then to the lower ID — and walks the ranking once,
// taking every candidate whose effort fits in what is left of capacity and
// skipping those that do not. It returns the chosen candidates in ranking
// order and the capacity they use. The result depends only on the
// candidates, never on their order; cands is not modified.
func Choose(cands []Candidate, capacity float64) (chosen []Candidate, used float64) {
	order := make([]ranked, len(cands))
	for i := range cands {
		c := &cands[i]
		order[i] = ranked{
			score: c.Score,
			sec:   c.Risk.CreatedAt.Unix(),
			nsec:  int32(c.Risk.CreatedAt.Nanosecond()),
			seq:   model.KeySeq(c.Risk.Key),
			c:     c,
		}
	}
	slices.SortFunc(order, compareRanked)

	// A tolerance so that efforts such as 0.1+0.2 fill a capacity of 0.3.
	const eps = 1e-9
	remaining := capacity
	for _, r := range order {
		e := r.c.Risk.Effort
		if e > remaining+eps {
			continue
		}
		chosen = append(chosen, *r.c)
		remaining -= e
		used += e
	}
	return chosen, used
}

// ranked holds a candidate's sort keys next to each other, so that sorting
// does not chase pointers for the common comparisons.
type ranked struct {
	score float64
	sec   int64 // creation time
	nsec  int32
	seq   int64 // key sequence; -1 when the key has none
	c     *Candidate
}

func compareRanked(a, b ranked) int {
	if c := cmp.Compare(b.score, a.score); c != 0 { // descending
		return c
	}
	if c := cmp.Compare(a.sec, b.sec); c != 0 {
		return c
	}
	if c := cmp.Compare(a.nsec, b.nsec); c != 0 {
		return c
	}
	if c := cmp.Compare(a.seq, b.seq); c != 0 {
		return c
	}
	if c := strings.Compare(a.c.Risk.Key, b.c.Risk.Key); c != 0 {
		return c
	}
	return strings.Compare(a.c.Risk.ID, b.c.Risk.ID)
}
