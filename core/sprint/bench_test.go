package sprint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

const benchRisks = 100_000

// bench100k is a store on disk with 100,000 accepted risks of initiative
// "sd", built once for the benchmarks of this package; TestMain removes it.
var bench100k struct {
	once sync.Once
	dir  string
	st   *store.SQLite
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench100k.st != nil {
		bench100k.st.Close()
	}
	if bench100k.dir != "" {
		os.RemoveAll(bench100k.dir)
	}
	os.Exit(code)
}

// store100k returns the shared 100k store, building it on first use: risks
// created through the store in transactions of 1000, one in ten with votes.
func store100k(b *testing.B) *store.SQLite {
	b.Helper()
	bench100k.once.Do(func() {
		start := time.Now()
		bench100k.dir, bench100k.err = os.MkdirTemp("", "usmhub-sprint-bench-")
		if bench100k.err != nil {
			return
		}
		ctx := context.Background()
		st, err := store.Open(ctx, filepath.Join(bench100k.dir, "usmhub.db"))
		if err != nil {
			bench100k.err = err
			return
		}
		bench100k.st = st
		for n := 0; n < benchRisks; {
			err := st.Update(ctx, tester, func(tx store.Tx) error {
				for range 1000 {
					r := model.Risk{Initiative: "sd", Kind: model.Threat, Status: model.Accepted,
						Title:       fmt.Sprintf("Improvement %d: changes reach production without review", n),
						Description: "Changes are deployed by whoever has access; nobody records what changed, why, or how to undo it.",
						Process:     model.Change, Source: "import", Owner: "carol",
						Likelihood: 1 + n%5, Impact: 1 + (n/5)%5, Effort: 0.5 + float64(n%16)/2}
					if n%2 == 0 {
						r.Kind = model.Opportunity
					}
					if err := tx.CreateRisk(&r); err != nil {
						return err
					}
					if n%10 == 0 {
						if err := tx.CastVote(model.Vote{RiskID: r.ID, Voter: "ann", Weight: 1 + n%3}); err != nil {
							return err
						}
					}
					n++
				}
				return nil
			})
			if err != nil {
				bench100k.err = err
				return
			}
		}
		fmt.Fprintf(os.Stderr, "sprint benchmarks: stored %d accepted risks in %v\n", benchRisks, time.Since(start).Round(time.Millisecond))
	})
	if bench100k.err != nil {
		b.Fatal(bench100k.err)
	}
	return bench100k.st
}

// BenchmarkPlan100k proposes a sprint of capacity 50 from 100,000 accepted
// risks with issue 2's policy: one read transaction streaming every risk,
// scoring it, and choosing. risks/s counts the risks considered.
func BenchmarkPlan100k(b *testing.B) {
	st := store100k(b)
	req := request(mustPolicy(b, policyText), 50)
	ctx := context.Background()
	var p Proposal
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		err := st.View(ctx, func(r store.Reader) error {
			var err error
			p, err = Propose(r, req)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(p.Sprint.Items) + len(p.Skipped); n != benchRisks {
			b.Fatalf("considered %d risks, want %d", n, benchRisks)
		}
	}
	b.ReportMetric(float64(benchRisks*b.N)/b.Elapsed().Seconds(), "risks/s")
	b.ReportMetric(float64(len(p.Sprint.Items)), "items")
}

var errRollback = errors.New("roll back")

// BenchmarkPlan100kStored is BenchmarkPlan100k plus storing: Plan in a
// write transaction (sprint, items, status moves, audit) that is rolled
// back, so every round plans from the same 100,000 accepted risks.
func BenchmarkPlan100kStored(b *testing.B) {
	st := store100k(b)
	req := request(mustPolicy(b, policyText), 50)
	ctx := context.Background()
	items := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		err := st.Update(ctx, tester, func(tx store.Tx) error {
			p, err := Plan(tx, req)
			if err != nil {
				return err
			}
			items = len(p.Sprint.Items)
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchRisks*b.N)/b.Elapsed().Seconds(), "risks/s")
	b.ReportMetric(float64(items), "items")
}
