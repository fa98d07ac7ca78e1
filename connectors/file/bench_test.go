package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// BenchmarkPush measures a push of 100 updates into a file of 100k risks
// that the connector wrote: the streaming push (which copies the rows it
// does not change as they are) against the old one that loaded the whole
// file (reference_test.go), in the same run.
//
//	go test -run '^$' -bench Push -benchtime 20x ./connectors/file
func BenchmarkPush(b *testing.B) {
	dir := b.TempDir()
	c := configured(b, dir, formatCSV)
	seedRisks(b, c, benchRisks)
	path := filepath.Join(dir, "risks.csv")
	lock, err := lockDir(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	defer lock.release()
	for _, bc := range []struct {
		name string
		push func([]sdk.Change) ([]sdk.Result, error)
	}{
		{"streaming", func(ch []sdk.Change) ([]sdk.Result, error) {
			return pushRisks(context.Background(), lock, path, "", formatCSV, ch)
		}},
		{"whole-file", func(ch []sdk.Change) ([]sdk.Result, error) {
			return refPush(path, formatCSV, sdk.PushRequest{Kind: sdk.KindRisk, Changes: ch}, time.Now().UTC().Truncate(time.Second))
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			round := 0
			cpu0 := cpuTime()
			for b.Loop() {
				round++
				changes := make([]sdk.Change, 100)
				for i := range changes {
					id := fmt.Sprintf("F-%d", 1+(round*7919+i*997)%benchRisks)
					changes[i] = sdk.Change{Op: sdk.OpUpdate, ExternalID: id, Fields: map[string]string{"owner": fmt.Sprintf("owner %d", round)}}
				}
				res, err := bc.push(changes)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range res {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "changes/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/op") // steadier on a loaded machine
			}
		})
	}
}

// benchXLSXRisks is the size of the workbook BenchmarkPushXLSX writes to.
const benchXLSXRisks = 5_000

// BenchmarkPushXLSX measures a push of 100 updates into a workbook of 5k
// risks: the whole sheet is read and a new workbook written, so time and
// memory grow with the file (compare BenchmarkPush's streaming CSV).
//
//	go test -run '^$' -bench PushXLSX -benchtime 5x ./connectors/file
func BenchmarkPushXLSX(b *testing.B) {
	dir := b.TempDir()
	c := configured(b, dir, formatXLSX)
	seedRisks(b, c, benchXLSXRisks)
	b.ReportAllocs()
	round := 0
	for b.Loop() {
		round++
		changes := make([]sdk.Change, 100)
		for i := range changes {
			id := fmt.Sprintf("F-%d", 1+(round*7919+i*997)%benchXLSXRisks)
			changes[i] = sdk.Change{Op: sdk.OpUpdate, ExternalID: id, Fields: map[string]string{"owner": fmt.Sprintf("owner %d", round)}}
		}
		mustOK(b, push(b, c, changes...))
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "changes/s")
}
