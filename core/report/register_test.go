package report

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/priority"
	"github.com/usmhub/usmhub/core/store"
)

// policyConfig is a config with one initiative "x" scored by expr (no
// policy when expr is empty).
func policyConfig(t testing.TB, expr string) *config.Config {
	t.Helper()
	cfg := &config.Config{Initiatives: []*config.Initiative{{Initiative: model.Initiative{Key: "x", Name: "X"}}}}
	if expr != "" {
		p, diags := priority.Parse("p", "", expr)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		cfg.Priorities = []*config.Priority{{Name: "p", Policy: p}}
		cfg.Initiatives[0].Priority = "p"
	}
	return cfg
}

// randomRisks fills a memStore with n risks of initiative "x" in random
// statuses, with few distinct scores (many ties), creation times that
// repeat, and keys in random order.
func randomRisks(t testing.TB, n int, rng *rand.Rand) *memStore {
	t.Helper()
	m := newMemStore()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, k := range rng.Perm(n) {
		r := &model.Risk{
			ID:         fmt.Sprintf("id-%06d", i),
			Key:        fmt.Sprintf("R-%d", k+1),
			Initiative: "x",
			Kind:       model.Kinds[rng.IntN(2)],
			Title:      fmt.Sprintf("risk %d", i),
			Process:    append([]model.Process{""}, model.Processes...)[rng.IntN(6)],
			Likelihood: 1 + rng.IntN(5),
			Impact:     1 + rng.IntN(5),
			Effort:     float64(rng.IntN(4)), // 0 makes likelihood * impact / effort fail
			Status:     model.Statuses[rng.IntN(len(model.Statuses))],
			CreatedAt:  base.Add(time.Duration(rng.IntN(n/4+1)) * time.Hour),
		}
		if err := m.CreateRisk(r); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// bruteTop ranks every open risk by sorting them all, the way the report
// promises: scored before unscored, score descending, then older, then key
// number, key and ID.
func bruteTop(m *memStore, p *priority.Policy, at time.Time, n int) []string {
	type scored struct {
		r  model.Risk
		s  float64
		ok bool
	}
	var all []scored
	for _, r := range m.risks {
		if r.Status == model.Realized || r.Status == model.Rejected {
			continue
		}
		x := scored{r: r}
		if p != nil {
			s, err := p.Score(priority.InputsOf(r, at))
			x.s, x.ok = s, err == nil
		}
		all = append(all, x)
	}
	num := func(key string) int {
		var n int
		fmt.Sscanf(key, "R-%d", &n)
		return n
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.ok != b.ok {
			return a.ok
		}
		if a.ok && a.s != b.s {
			return a.s > b.s
		}
		if !a.r.CreatedAt.Equal(b.r.CreatedAt) {
			return a.r.CreatedAt.Before(b.r.CreatedAt)
		}
		if num(a.r.Key) != num(b.r.Key) {
			return num(a.r.Key) < num(b.r.Key)
		}
		if a.r.Key != b.r.Key {
			return a.r.Key < b.r.Key
		}
		return a.r.ID < b.r.ID
	})
	var keys []string
	for i := 0; i < len(all) && i < n; i++ {
		keys = append(keys, all[i].r.Key)
	}
	return keys
}

func TestRegisterTopMatchesFullSort(t *testing.T) {
	for _, expr := range []string{"likelihood * impact / effort", "likelihood + impact", ""} {
		for seed := uint64(1); seed <= 20; seed++ {
			rng := rand.New(rand.NewPCG(seed, 42))
			n := 1 + rng.IntN(400)
			m := randomRisks(t, n, rng)
			cfg := policyConfig(t, expr)
			var p *priority.Policy
			if expr != "" {
				p = cfg.Priorities[0].Policy
			}
			for _, top := range []int{1, 3, 10, 57, n + 5} {
				r, err := Build(KindRegister, Input{Config: cfg, Initiative: cfg.Initiatives[0], Reader: m, Now: now}, Options{Top: top})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for i, x := range r.Register.Top {
					if x.Rank != i+1 {
						t.Fatalf("rank %d at position %d", x.Rank, i+1)
					}
					failing := expr == "likelihood * impact / effort" && x.Effort == 0
					if wantScore := p != nil && !failing; (x.Score != nil) != wantScore {
						t.Fatalf("%s: score %v with effort %g under %q", x.Key, x.Score, x.Effort, expr)
					}
					got = append(got, x.Key)
				}
				want := bruteTop(m, p, now, top)
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("policy %q, seed %d, %d risks, top %d:\n got %v\nwant %v", expr, seed, n, top, got, want)
				}
				checkCounts(t, m, r.Register)
			}
		}
	}
}

// checkCounts recounts the register's counts from the risks themselves.
func checkCounts(t *testing.T, m *memStore, g *RegisterReport) {
	t.Helper()
	want := map[string]int{}
	open := 0
	for _, r := range m.risks {
		want["status "+string(r.Status)]++
		want["kind "+string(r.Kind)]++
		p := string(r.Process)
		if p == "" {
			p = Untagged
		}
		want["process "+p]++
		if r.Status != model.Realized && r.Status != model.Rejected {
			open++
		}
	}
	got := map[string]int{}
	for _, part := range []struct {
		prefix string
		counts []Count
		rows   int
	}{{"status ", g.ByStatus, 6}, {"kind ", g.ByKind, 2}, {"process ", g.ByProcess, 6}} {
		if len(part.counts) != part.rows {
			t.Errorf("%s counts have %d rows, want %d (zero rows included)", strings.TrimSpace(part.prefix), len(part.counts), part.rows)
		}
		sum := 0
		for _, c := range part.counts {
			if c.Count != 0 {
				got[part.prefix+c.Name] = c.Count
			}
			sum += c.Count
		}
		if sum != g.Total {
			t.Errorf("%s counts sum to %d, total is %d", strings.TrimSpace(part.prefix), sum, g.Total)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || g.Total != len(m.risks) || g.Open != open {
		t.Errorf("counts %v (total %d, open %d), want %v (total %d, open %d)", got, g.Total, g.Open, want, len(m.risks), open)
	}
}

func TestRegisterUnscoredNamesFirstError(t *testing.T) {
	m := newMemStore()
	for i, effort := range []float64{2, 0, 1, 0} {
		if err := m.CreateRisk(&model.Risk{Initiative: "x", Kind: model.Threat, Title: fmt.Sprint("r", i), Likelihood: 2, Impact: 2, Effort: effort}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := policyConfig(t, "likelihood * impact / effort")
	r, err := Build(KindRegister, Input{Config: cfg, Initiative: cfg.Initiatives[0], Reader: m, Now: now}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := r.Register
	var keys []string
	for _, x := range g.Top {
		keys = append(keys, x.Key)
	}
	if strings.Join(keys, " ") != "R-3 R-1 R-2 R-4" || g.Unscored != 2 || !strings.HasPrefix(g.ScoreError, "R-2: ") {
		t.Errorf("top %v, %d unscored, first error %q; want R-3 R-1 R-2 R-4, 2, R-2's", keys, g.Unscored, g.ScoreError)
	}
	if md := r.Markdown(); !strings.Contains(md, "**Note:** the policy could not score 2 open risks, ranked last: R-2: ") {
		t.Errorf("the Markdown does not explain the unscored risks:\n%s", md)
	}
}

// generated is a store.Reader whose Risks makes n risks on the fly, so that
// only the report itself can hold them in memory.
type generated struct {
	*memStore
	n     int
	every int
	seen  func(i int)
}

func (g *generated) Risks(f store.RiskFilter, fn func(model.Risk) error) error {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range g.n {
		r := model.Risk{
			ID: fmt.Sprintf("id-%07d", i), Key: fmt.Sprintf("R-%d", i+1), Initiative: "x",
			Kind: model.Kinds[i%2], Title: fmt.Sprintf("A generated risk, number %d, with a title of ordinary length", i),
			Description: strings.Repeat("d", 200), Process: model.Processes[i%5],
			Likelihood: 1 + i%5, Impact: 1 + (i/5)%5, Effort: float64(1 + i%7), Votes: i % 3,
			Status: model.Statuses[i%4], CreatedAt: base.Add(time.Duration(i) * time.Second),
		}
		if err := fn(r); err != nil {
			return err
		}
		if g.seen != nil && (i+1)%g.every == 0 {
			g.seen(i + 1)
		}
	}
	return nil
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestRegisterMemoryIsFlat streams 100k risks through the register report
// and checks that the live heap does not grow with them: only the top N
// are kept. Holding every risk would take some 50 MB.
func TestRegisterMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: streams 100k risks")
	}
	cfg := policyConfig(t, "(likelihood * impact + 2 * votes) / max(effort, 1)")
	const n, limit = 100_000, 4 << 20
	var before, peak uint64
	g := &generated{memStore: newMemStore(), n: n, every: 20_000, seen: func(int) {
		if h := liveHeap(); h > peak {
			peak = h
		}
	}}
	before = liveHeap()
	r, err := Build(KindRegister, Input{Config: cfg, Initiative: cfg.Initiatives[0], Reader: g, Now: now}, Options{Top: 25})
	if err != nil {
		t.Fatal(err)
	}
	if peak > before && peak-before > limit {
		t.Errorf("the live heap grew by %d KiB while streaming %d risks; want under %d KiB", (peak-before)>>10, n, limit>>10)
	}
	if r.Register.Total != n || len(r.Register.Top) != 25 {
		t.Errorf("total %d, top %d", r.Register.Total, len(r.Register.Top))
	}
	t.Logf("live heap growth while streaming %d risks: %d KiB", n, int64(peak-before)>>10)
}

// TestRegisterListsAffectedItems: once a risk names configuration items,
// the register shows them per ranked risk (JSON and Markdown); without any
// the table keeps its columns.
func TestRegisterListsAffectedItems(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := policyConfig(t, "likelihood * impact")
	build := func() *Report {
		var r *Report
		if err := st.View(ctx, func(rd store.Reader) error {
			var err error
			r, err = Build(KindRegister, Input{Config: cfg, Initiative: cfg.Initiatives[0], Reader: rd, Now: now}, Options{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := st.Update(ctx, store.Actor{Name: "test"}, func(tx store.Tx) error {
		for i, title := range []string{"Disk full", "No failover"} {
			if err := tx.CreateRisk(&model.Risk{Initiative: "x", Kind: model.Threat, Title: title, Likelihood: 5 - i, Impact: 3, Effort: 1}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if md := build().Markdown(); strings.Contains(md, "Affects") {
		t.Errorf("an Affects column without affected items:\n%s", md)
	}
	if err := st.Update(ctx, store.Actor{Name: "test"}, func(tx store.Tx) error {
		return tx.SetAffects("R-1", []string{"CI-1", "CI-4"})
	}); err != nil {
		t.Fatal(err)
	}
	r := build()
	if got := r.Register.Top[0].Affects; strings.Join(got, ",") != "CI-1,CI-4" || r.Register.Top[1].Affects != nil {
		t.Errorf("affects of the top risks: %v, %v", got, r.Register.Top[1].Affects)
	}
	md := r.Markdown()
	if !strings.Contains(md, "| Score | Affects |") || !strings.Contains(md, "| CI-1, CI-4 |") {
		t.Errorf("the Markdown does not list the affected items:\n%s", md)
	}
}
