package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/plugins/host"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// benchRisks is the size of the risks file the pull benchmarks read.
const benchRisks = 100_000

// BenchmarkPull measures records/s of a full pull of 100k risks (about 400
// bytes each), from the connector value itself and over in-process gRPC.
//
//	go test -run '^$' -bench Pull -benchtime 5x ./connectors/file
func BenchmarkPull(b *testing.B) {
	for _, format := range []string{formatCSV, formatJSON} {
		dir := b.TempDir()
		c := configured(b, dir, format)
		seedRisks(b, c, benchRisks)
		b.Run(format+"/direct", func(b *testing.B) { benchPull(b, c) })
		b.Run(format+"/grpc", func(b *testing.B) {
			conn, stop, err := host.InProcess(func() sdk.Connector { return configured(b, dir, format) })
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			benchPull(b, conn)
		})
	}
}

func benchPull(b *testing.B, c sdk.Connector) {
	b.ReportAllocs()
	total := 0
	cpu0 := cpuTime()
	for b.Loop() {
		n := 0
		err := c.Pull(context.Background(), sdk.PullRequest{Kind: sdk.KindRisk}, func(batch sdk.Batch) error {
			n += len(batch.Records)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != benchRisks {
			b.Fatalf("pulled %d records, want %d", n, benchRisks)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		// Records per CPU-second (all threads, GC included): steady when
		// other processes load the machine and stretch the wall clock.
		b.ReportMetric(float64(total)/cpu.Seconds(), "records/cpu-s")
	}
}

// seedRisks pushes n risks in one batch.
func seedRisks(b *testing.B, c *Connector, n int) {
	b.Helper()
	desc := strings.Repeat("Wachttijden lopen op zodra de servicedesk onderbezet is. ", 4)
	changes := make([]sdk.Change, n)
	for i := range changes {
		f := risk(fmt.Sprintf("Risico %d: incidenten blijven te lang open", i))
		f["key"] = fmt.Sprintf("R-%d", i)
		f["description"] = desc
		f["owner"] = "team-operate"
		f["process"] = "operate"
		f["effort"] = "2"
		changes[i] = sdk.Change{Op: sdk.OpCreate, Marker: fmt.Sprintf("usmhub-%08d-0000-4000-8000-000000000000", i), Fields: f}
	}
	mustOK(b, push(b, c, changes...))
}
