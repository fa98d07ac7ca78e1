package report

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// BenchmarkRegister100k builds the register report (top 10, the example
// policy) of an initiative with 100k risks: from the SQLite store on disk,
// and from an in-memory Reader to show the report's own share; sqlite/walk-only
// is the store's walk over the same risks without the report.
func BenchmarkRegister100k(b *testing.B) {
	const n = 100_000
	cfg := policyConfig(b, "(likelihood * impact + 2 * votes) / max(effort, 1)")
	in := Input{Config: cfg, Initiative: cfg.Initiatives[0], Now: now}
	risk := func(i int) model.Risk {
		return model.Risk{Initiative: "x", Kind: model.Kinds[i%2], Title: fmt.Sprintf("A risk of ordinary length, number %d", i),
			Process: append([]model.Process{""}, model.Processes...)[i%6], Likelihood: 1 + i%5, Impact: 1 + (i/5)%5,
			Effort: float64(i % 7), Status: model.Statuses[i%6]}
	}
	run := func(b *testing.B, view func(fn func(store.Reader) error) error) {
		b.ReportAllocs()
		iters := 0
		for b.Loop() {
			err := view(func(rd store.Reader) error {
				in := in
				in.Reader = rd
				r, err := Build(KindRegister, in, Options{})
				if err == nil && r.Register.Total != n {
					err = fmt.Errorf("total %d", r.Register.Total)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			iters++
		}
		b.ReportMetric(float64(n)*float64(iters)/b.Elapsed().Seconds(), "risks/s")
	}

	b.Run("sqlite", func(b *testing.B) {
		ctx := context.Background()
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "usmhub.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		err = st.Update(ctx, store.Actor{Name: "bench"}, func(tx store.Tx) error {
			for i := range n {
				r := risk(i)
				if err := tx.CreateRisk(&r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		view := func(fn func(store.Reader) error) error { return st.View(ctx, fn) }
		b.Run("report", func(b *testing.B) { run(b, view) })
		// The store's share: the same walk over the risks, without the report.
		b.Run("walk-only", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				err := view(func(rd store.Reader) error {
					return rd.Risks(store.RiskFilter{Initiative: "x"}, func(model.Risk) error { return nil })
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	})

	b.Run("memory", func(b *testing.B) {
		m := newMemStore()
		for i := range n {
			r := risk(i)
			if err := m.CreateRisk(&r); err != nil {
				b.Fatal(err)
			}
		}
		run(b, func(fn func(store.Reader) error) error { return fn(m) })
	})
}
