package report

import (
	"fmt"
	"slices"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/priority"
	"github.com/usmhub/usmhub/core/store"
)

// RegisterReport is the weekly view of an initiative's risk database: its
// open risks ranked by the priority policy, and counts of all its risks per
// status, kind and process.
type RegisterReport struct {
	// Week is the ISO week the report describes, e.g. "2026-W41".
	Week string `json:"week"`
	// Policy is the priority policy's name and PolicyText its expression;
	// both are empty when the initiative has none, and then the risks are
	// ranked by key, unscored.
	Policy     string `json:"policy,omitempty"`
	PolicyText string `json:"policy_text,omitempty"`
	// TopN is how many open risks were asked for; Top holds at most that
	// many, best first.
	TopN int          `json:"top_n"`
	Top  []RankedRisk `json:"top"`
	// Unscored counts the open risks the policy could not score (ranked
	// after every scored one); ScoreError is the first such error.
	Unscored   int    `json:"unscored,omitempty"`
	ScoreError string `json:"score_error,omitempty"`
	// Total counts all the initiative's risks, Open those neither realized
	// nor rejected.
	Total     int     `json:"total"`
	Open      int     `json:"open"`
	ByStatus  []Count `json:"by_status"`
	ByKind    []Count `json:"by_kind"`
	ByProcess []Count `json:"by_process"`
	// Heatmap counts the open risks per likelihood and impact.
	Heatmap Heatmap `json:"heatmap"`
	// Trend is the register at the end of each of the last TrendWeeks ISO
	// weeks, oldest first; nil when Options.NoTrend left it out.
	Trend []WeekCount `json:"trend,omitempty"`
}

// Count is the number of risks with one value of a field. The process
// count names risks without a process "untagged".
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Untagged names, in a process count, the risks tagged with no process.
const Untagged = "untagged"

// RankedRisk is an open risk at its rank. Score is nil when the risk is
// unscored (no policy, or the policy failed on it).
type RankedRisk struct {
	Rank       int           `json:"rank"`
	Key        string        `json:"key"`
	Title      string        `json:"title"`
	Kind       model.Kind    `json:"kind"`
	Process    model.Process `json:"process,omitempty"`
	Status     model.Status  `json:"status"`
	Likelihood int           `json:"likelihood"`
	Impact     int           `json:"impact"`
	Effort     float64       `json:"effort"`
	Votes      int           `json:"votes"`
	Owner      string        `json:"owner,omitempty"`
	Score      *float64      `json:"score"`
	// Affects are the keys of the configuration items the risk names.
	Affects []string `json:"affects,omitempty"`
}

// open reports whether a risk still waits to be realized.
func open(s model.Status) bool { return s != model.Realized && s != model.Rejected }

func buildRegister(r *Report, in Input, opts Options) error {
	key := in.Initiative.Key
	top := opts.Top
	if top == 0 {
		top = DefaultTop
	}
	year, week := in.Now.UTC().ISOWeek()
	rr := &RegisterReport{Week: fmt.Sprintf("%04d-W%02d", year, week), TopN: top}
	r.Key = fmt.Sprintf("%s-register-%04d-W%02d", keyPrefix(key), year, week)
	r.Title = fmt.Sprintf("Risk register of %s, week %s", r.InitiativeName, rr.Week)

	var policy *priority.Policy
	if p := in.Config.Policy(key); p != nil && p.Policy != nil {
		policy = p.Policy
		rr.Policy, rr.PolicyText = p.Name, p.Policy.Text
	}

	// The trend's events come first, so that the walk over the risks
	// keeps only the statuses of the risks they touch.
	var (
		evs     []trendEvent
		touched map[string]model.Status
	)
	if !opts.NoTrend {
		var err error
		since := weekStart(in.Now).AddDate(0, 0, -7*(TrendWeeks-2))
		if evs, err = trendLog(in.Reader, since, in.Now); err != nil {
			return err
		}
		touched = make(map[string]model.Status)
		for _, e := range evs {
			touched[e.id] = ""
		}
	}
	statuses := make(map[model.Status]int, len(model.Statuses))
	kinds := make(map[model.Kind]int, len(model.Kinds))
	processes := make(map[model.Process]int, len(model.Processes)+1)
	h := topHeap{n: top}
	err := in.Reader.Risks(store.RiskFilter{Initiative: key}, func(risk model.Risk) error {
		rr.Total++
		statuses[risk.Status]++
		kinds[risk.Kind]++
		processes[risk.Process]++
		if _, ok := touched[risk.ID]; ok {
			touched[risk.ID] = risk.Status
		}
		if !open(risk.Status) {
			return nil
		}
		rr.Open++
		rr.Heatmap.add(&risk)
		risk.Description = "" // not shown; the heap keeps only what it ranks and shows
		var score *float64
		if policy != nil {
			s, err := policy.Score(priority.InputsOf(risk, in.Now))
			if err != nil {
				rr.Unscored++
				if rr.ScoreError == "" {
					rr.ScoreError = fmt.Sprintf("%s: %v", risk.Key, err)
				}
			} else {
				score = &s
			}
		}
		h.offer(entry{risk: risk, rank: priority.RankOf(score, risk.CreatedAt, risk.Key, risk.ID)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("read risks: %w", err)
	}

	ranked := h.sorted()
	rr.Top = make([]RankedRisk, len(ranked))
	for i, e := range ranked {
		x := e.risk
		rr.Top[i] = RankedRisk{Rank: i + 1, Key: x.Key, Title: x.Title, Kind: x.Kind, Process: x.Process,
			Status: x.Status, Likelihood: x.Likelihood, Impact: x.Impact, Effort: x.Effort, Votes: x.Votes, Owner: x.Owner}
		if e.rank.Scored {
			s := e.rank.Score
			rr.Top[i].Score = &s
		}
		if rr.Top[i].Affects, err = in.Reader.Affects(x.ID); err != nil {
			return fmt.Errorf("read the items %s affects: %w", x.Key, err)
		}
	}
	if !opts.NoTrend {
		for id, s := range touched {
			if s == "" { // another initiative's risk
				delete(touched, id)
			}
		}
		rr.Trend = trend(in.Now, statuses, evs, touched)
	}
	rr.ByStatus = counts(model.Statuses, statuses, "")
	rr.ByKind = counts(model.Kinds, kinds, "")
	rr.ByProcess = counts(model.Processes, processes, Untagged)
	r.Register = rr
	return nil
}

// counts lists a count for every known value, zeros included, then for any
// other value met, in name order. The empty value is counted last under
// emptyName, always when emptyName is set, else only when met (as "none").
func counts[T ~string](known []T, seen map[T]int, emptyName string) []Count {
	out := make([]Count, 0, len(known)+1)
	done := make(map[T]bool, len(known))
	for _, v := range known {
		out = append(out, Count{Name: string(v), Count: seen[v]})
		done[v] = true
	}
	var other []T
	for v := range seen {
		if !done[v] && v != "" {
			other = append(other, v)
		}
	}
	slices.Sort(other)
	for _, v := range other {
		out = append(out, Count{Name: string(v), Count: seen[v]})
	}
	if n, met := seen[""]; met || emptyName != "" {
		if emptyName == "" {
			emptyName = "none"
		}
		out = append(out, Count{Name: emptyName, Count: n})
	}
	return out
}

// entry is a risk with its rank.
type entry struct {
	risk model.Risk
	rank priority.Rank
}

// better reports whether a ranks before b in priority order
// (priority.Compare): the order of `usmhub risk list`, the dashboard and
// the sprint planner.
func better(a, b *entry) bool { return priority.Compare(a.rank, b.rank) < 0 }

// topHeap keeps the n best entries offered, as a heap whose root is the
// worst of them, so memory stays bounded by n however many are offered.
type topHeap struct {
	n int
	e []entry
}

func (h *topHeap) offer(e entry) {
	if len(h.e) < h.n {
		h.e = append(h.e, e)
		h.up(len(h.e) - 1)
		return
	}
	if h.n == 0 || !better(&e, &h.e[0]) {
		return
	}
	h.e[0] = e
	h.down(0)
}

// worse orders the heap: the root is the worst entry.
func (h *topHeap) worse(i, j int) bool { return better(&h.e[j], &h.e[i]) }

func (h *topHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.worse(i, p) {
			return
		}
		h.e[i], h.e[p] = h.e[p], h.e[i]
		i = p
	}
}

func (h *topHeap) down(i int) {
	n := len(h.e)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l
		if r := l + 1; r < n && h.worse(r, l) {
			w = r
		}
		if !h.worse(w, i) {
			return
		}
		h.e[i], h.e[w] = h.e[w], h.e[i]
		i = w
	}
}

// sorted returns the kept entries best first.
func (h *topHeap) sorted() []entry {
	out := slices.Clone(h.e)
	slices.SortFunc(out, func(a, b entry) int { return priority.Compare(a.rank, b.rank) })
	return out
}
