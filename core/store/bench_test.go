package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/usmhub/usmhub/core/model"
)

// benchDir holds databases that benchmarks build once and reuse across the
// b.N rounds (and the several calls of one benchmark); TestMain removes it.
var benchDir struct {
	once sync.Once
	path string
	err  error
}

func benchPath(name string) (string, error) {
	benchDir.once.Do(func() { benchDir.path, benchDir.err = os.MkdirTemp("", "usmhub-store-bench-") })
	return filepath.Join(benchDir.path, name), benchDir.err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir.path != "" {
		os.RemoveAll(benchDir.path)
	}
	os.Exit(code)
}

// benchRisk is a realistic risk: a title and a paragraph of description.
func benchRisk(initiative string, i int) model.Risk {
	r := threat(initiative, fmt.Sprintf("Improvement %d: changes reach production without review", i))
	r.Description = "Changes are deployed by whoever has access; nobody records what changed, why, or how to undo it."
	r.Process, r.Source, r.Owner = model.Change, "import", "carol"
	r.Likelihood, r.Impact, r.Effort = 1+i%5, 1+(i/5)%5, float64(i%8)/2
	return r
}

// BenchmarkCreateRisksBatched stores risks in transactions of 1000: each
// round of b.N is one transaction.
func BenchmarkCreateRisksBatched(b *testing.B) {
	const batch = 1000
	s := openTest(b)
	ctx := context.Background()
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		err := s.Update(ctx, alice, func(tx Tx) error {
			for range batch {
				r := benchRisk("ops", n)
				n++
				if err := tx.CreateRisk(&r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkListRisks100k streams 100,000 risks per round from a database
// built once.
func BenchmarkListRisks100k(b *testing.B) {
	const total = 100_000
	path, err := benchPath("list100k.db")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var have int
	mustView(b, s, func(rd Reader) error { have, err = rd.CountRisks(RiskFilter{}); return err })
	for have < total {
		mustUpdate(b, s, func(tx Tx) error {
			for range min(1000, total-have) {
				r := benchRisk("ops", have)
				have++
				if err := tx.CreateRisk(&r); err != nil {
					return err
				}
			}
			return nil
		})
	}

	rows := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		var effort float64
		mustView(b, s, func(rd Reader) error {
			return rd.Risks(RiskFilter{}, func(r model.Risk) error {
				n++
				effort += r.Effort
				return nil
			})
		})
		if n != total {
			b.Fatalf("streamed %d risks, want %d", n, total)
		}
		rows += n
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
