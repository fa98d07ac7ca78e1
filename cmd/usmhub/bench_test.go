package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/register"
	"github.com/usmhub/usmhub/core/store"
)

const benchListRisks = 100_000

// benchListConfig is a hub with one initiative and issue 2's policy.
const benchListConfig = `
hub {
  data_dir = "data"
}

initiative "t" {
  name            = "Benchmark initiative"
  sprint_capacity = 50
}

priority "p" {
  score = (likelihood * impact + 2 * votes) / max(effort, 1)
}
`

// benchListHub writes the config into a temporary folder and fills its
// store with 100,000 risks through the store, in transactions of 1000 (one
// risk in ten voted on). It returns the env, still open, and the config path.
func benchListHub(b *testing.B) (*env, string) {
	b.Helper()
	start := time.Now()
	path := filepath.Join(b.TempDir(), "usmhub.hcl")
	if err := os.WriteFile(path, []byte(benchListConfig), 0o644); err != nil {
		b.Fatal(err)
	}
	e := newEnv(io.Discard, io.Discard, path)
	b.Cleanup(e.close)
	ctx := context.Background()
	st, err := e.store(ctx)
	if err != nil {
		b.Fatal(err)
	}
	statuses := []model.Status{model.Proposed, model.Accepted, model.Accepted, model.Planned, model.Realized}
	for n := 0; n < benchListRisks; {
		err := st.Update(ctx, store.Actor{Name: "bench"}, func(tx store.Tx) error {
			for range 1000 {
				r := model.Risk{Initiative: "t", Kind: model.Threat, Status: statuses[n%len(statuses)],
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
			b.Fatal(err)
		}
	}
	b.Logf("stored %d risks in %v", benchListRisks, time.Since(start).Round(time.Millisecond))
	return e, path
}

// BenchmarkRiskList100k is usmhub risk list's work without the output
// (register.ListRisks):
// read 100,000 risks, score each with the policy and sort by priority.
func BenchmarkRiskList100k(b *testing.B) {
	e, _ := benchListHub(b)
	cfg, err := e.config()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := e.store(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		items, err := register.ListRisks(ctx, st, cfg, store.RiskFilter{}, register.ByPriority, 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(items) != benchListRisks || items[0].Priority == nil {
			b.Fatalf("listed %d risks, the first with priority %v", len(items), items[0].Priority)
		}
	}
	b.ReportMetric(float64(benchListRisks*b.N)/b.Elapsed().Seconds(), "risks/s")
}

// BenchmarkRiskListCommand100k runs the whole command in this process,
// run(… risk list -json) writing to io.Discard: register.ListRisks plus config load,
// store open and the JSON output, without starting a process.
func BenchmarkRiskListCommand100k(b *testing.B) {
	e, cfgPath := benchListHub(b)
	e.close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if code := run(ctx, []string{"-config", cfgPath, "risk", "list", "-json"}, io.Discard, os.Stderr); code != exitOK {
			b.Fatalf("usmhub risk list -json: exit %d", code)
		}
	}
	b.ReportMetric(float64(benchListRisks*b.N)/b.Elapsed().Seconds(), "risks/s")
}

// BenchmarkRiskListBinary100k runs the built binary, usmhub risk list -json,
// over the same 100,000 risks: the end-to-end cost, process start, config
// load, store open and JSON output included.
func BenchmarkRiskListBinary100k(b *testing.B) {
	e, cfgPath := benchListHub(b)
	e.close() // the binary opens the store itself
	bin := filepath.Join(b.TempDir(), "usmhub")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("go build: %v", err)
	}
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(bin, "-config", cfgPath, "risk", "list", "-json")
		cmd.Env = append(os.Environ(), "USMHUB_CONFIG=")
		cmd.Stdout = io.Discard
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("usmhub risk list -json: %v", err)
		}
	}
	b.ReportMetric(float64(benchListRisks*b.N)/b.Elapsed().Seconds(), "risks/s")
}
