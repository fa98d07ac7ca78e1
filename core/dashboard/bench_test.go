package dashboard

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkOverview renders GET / — readiness, heatmaps, burn-up, scan
// bars, top risks and sync health, from one read of the SQLite store on
// disk — over registers of 1 000 and 10 000 risks (goal: under 200 ms at
// 10 000). The risks are streamed (a top-N heap ranks them), so bytes
// allocated per page grow with the register while the memory held does
// not. BenchmarkRisksPage does the same for the first page of the risk
// list (all risks, ranked).
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
				for b.Loop() {
					rec := httptest.NewRecorder()
					d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
					if rec.Code != http.StatusOK {
						b.Fatalf("GET %s: %d", path, rec.Code)
					}
				}
			})
		}
	}
}
