package priority

import "slices"

// Choose picks a sprint's risks: it ranks the candidates in priority
// order (Compare: descending score; ties to the risk created first, then
// the lower key number, the key, the ID) and walks the ranking once,
// taking every candidate whose effort fits in what is left of capacity and
// skipping those that do not. It returns the chosen candidates in ranking
// order and the capacity they use. The result depends only on the
// candidates, never on their order; cands is not modified.
func Choose(cands []Candidate, capacity float64) (chosen []Candidate, used float64) {
	order := make([]ranked, len(cands))
	for i := range cands {
		c := &cands[i]
		order[i] = ranked{Rank: RankOf(&c.Score, c.Risk.CreatedAt, c.Risk.Key, c.Risk.ID), c: c}
	}
	slices.SortFunc(order, func(a, b ranked) int { return Compare(a.Rank, b.Rank) })

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

// ranked holds a candidate's rank next to the candidate, so that sorting
// does not chase pointers for the comparisons.
type ranked struct {
	Rank
	c *Candidate
}
