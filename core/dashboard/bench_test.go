package dashboard

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

// liveHeap is the heap the last garbage collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// peakLive runs f with the collector running at almost every allocation
// (GOGC=1) and returns the most heap found live during it above what was
// live before: what f holds at its peak, not what it allocates.
func peakLive(f func()) uint64 {
	old := debug.SetGCPercent(1)
	defer debug.SetGCPercent(old)
	runtime.GC()
	base := liveHeap()
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if v := liveHeap(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	f()
	runtime.GC()
	if v := liveHeap(); v > peak.Load() {
		peak.Store(v)
	}
	close(done)
	<-stopped
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

// BenchmarkOverview renders GET / — readiness, heatmaps, burn-up, scan
// bars, top risks and sync health, from one read of the SQLite store on
// disk — over registers of 1 000 and 10 000 risks (goal: under 200 ms at
// 10 000). The risks are streamed (a top-N heap ranks them), so bytes
// allocated per page grow with the register while the memory held does
// not: peak-live-MB is the most heap found live during one page (with the
// collector running almost continuously). The risk-list runs do the same
// for the first page of the risk list (all risks, ranked). cpu-ms/op is
// the CPU the process spent per page, which a busy machine inflates less
// than the wall clock.
func BenchmarkOverview(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		f := newFixture(b, n)
		d, err := New(Options{Config: f.cfg, Store: f.st, Listen: "127.0.0.1:8765"})
		if err != nil {
			b.Fatal(err)
		}
		for _, path := range []string{"/", "/risks"} {
			b.Run(fmt.Sprintf("%s/risks=%d", map[string]string{"/": "overview", "/risks": "risk-list"}[path], n), func(b *testing.B) {
				b.ReportAllocs()
				serve := func() {
					rec := httptest.NewRecorder()
					d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
					if rec.Code != http.StatusOK {
						b.Fatalf("GET %s: %d", path, rec.Code)
					}
				}
				cpu0, n := cpuTime(), 0
				for b.Loop() {
					serve()
					n++
				}
				if cpu := cpuTime() - cpu0; cpu > 0 {
					b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/op")
				}
				b.ReportMetric(float64(peakLive(serve))/1e6, "peak-live-MB")
			})
		}
	}
}
