package priority

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// TestScoreSpecialValues pins what HCL computes where float64 arithmetic
// would differ, worked out by hand.
func TestScoreSpecialValues(t *testing.T) {
	tests := []struct {
		text string
		in   Inputs
		want float64 // NaN: an error
	}{
		{text: "effort / 3 * 3", in: Inputs{Effort: 1}, want: 1},
		{text: "(votes + 0.5) % 2", in: Inputs{Votes: 3}, want: 1.5},
		{text: "votes % 0", in: Inputs{Votes: 3}, want: 3}, // cty: a % 0 is a
		{text: "-effort", in: Inputs{Effort: math.Copysign(0, -1)}, want: math.Copysign(0, -1)},
		{text: "effort == 0.1 ? 1 : 2", in: Inputs{Effort: 0.1}, want: 1}, // cty compares decimal text
		{text: "effort * 1 == effort ? 1 : 2", in: Inputs{Effort: 0.1}, want: 2},
		{text: `kind == "café" ? 1 : 2`, in: Inputs{Kind: "cafe\u0301"}, want: 1}, // NFC
		{text: "likelihood * 1", in: Inputs{Likelihood: 1<<53 + 1}, want: 1<<53 + 1},
		{text: "pow(10, votes) / pow(10, votes - 1)", in: Inputs{Votes: 300}, want: 10},
		{text: "pow(10, votes) / pow(10, votes - 1)", in: Inputs{Votes: 400}, want: math.NaN()}, // inf / inf
		{text: "votes * 1e300 * 1e300 / 1e300", in: Inputs{Votes: 1}, want: 1e300},              // no overflow in HCL
		{text: "log(votes, 2)", in: Inputs{Votes: -1}, want: math.NaN()},
		{text: "effort", in: Inputs{Effort: math.NaN()}, want: math.NaN()},
		{text: "effort", in: Inputs{Effort: math.Inf(1)}, want: math.NaN()},
	}
	for _, tt := range tests {
		p, diags := Parse("test", "", tt.text)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for range 2 { // the second time from the cache
			got, err := p.Score(tt.in)
			if math.IsNaN(tt.want) {
				if err == nil {
					t.Errorf("%s with %s = %v, want an error", tt.text, tt.in, got)
				}
			} else if err != nil || got != tt.want || math.Signbit(got) != math.Signbit(tt.want) {
				t.Errorf("%s with %s = %v, %v; want %v", tt.text, tt.in, got, err, tt.want)
			}
		}
	}
}

// cachePolicies read different sets of attributes, so that the cache key
// leaves out different ones.
var cachePolicies = []string{
	`likelihood * impact`,
	`(likelihood * impact + 2 * votes) / max(effort, 1)`,
	`-effort`,
	`votes / effort`,
	`kind == "opportunity" ? likelihood * impact * 1.2 : likelihood * impact`,
	`(kind == "threat" ? likelihood * impact : impact + 1) * (1 + votes / 10) / max(effort, 0.5) + min(age_days, 90) / 30`,
	`process == "improve" || source == "scan" ? 2 : 1`,
	`process == "change" && source == "csv" ? age_days : 0`,
	`"${kind}" == "café" ? 3 : 1`,
	`log(age_days, 2) + pow(effort, votes)`,
	`kind == "threat" ? 1 : null`,
	`7`,
}

// randomInputs returns n seeded inputs, mostly of the kind risks have, some
// at the edges (zero, negative, fractional and huge numbers, odd strings).
func randomInputs(n int, seed uint64) []Inputs {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	ins := make([]Inputs, n)
	for i := range ins {
		in := Inputs{
			Likelihood: 1 + rng.IntN(5),
			Impact:     1 + rng.IntN(5),
			Effort:     float64(rng.IntN(17)) / 2,
			Votes:      rng.IntN(12),
			Kind:       pick("threat", "opportunity"),
			Process:    pick("improve", "change", "operate"),
			Source:     pick("scan", "csv", "", "jira-import"),
			AgeDays:    rng.IntN(400),
		}
		if rng.IntN(4) == 0 { // edges
			ints := []int{0, -1, -7, 3, 100, 1000, 1 << 40, 1<<53 + 1}
			in.Likelihood = ints[rng.IntN(len(ints))]
			in.Impact = ints[rng.IntN(6)]
			in.Votes = ints[rng.IntN(7)]
			in.AgeDays = ints[rng.IntN(6)]
			efforts := []float64{0, math.Copysign(0, -1), 0.1, 1.0 / 3, -1.5, 5e-324, 1e300, math.NaN(), math.Inf(-1)}
			in.Effort = efforts[rng.IntN(len(efforts))]
			in.Kind = pick("threat", "", "café", "cafe\u0301")
			in.Source = pick("csv", "scan", "opportunity")
		}
		ins[i] = in
	}
	return ins
}

// TestScoreCacheAgreesWithHCL scores risks through the cache, which has
// then seen risks that differ only in attributes a policy does not read,
// and checks each score and error against HCL's evaluation of that risk.
func TestScoreCacheAgreesWithHCL(t *testing.T) {
	ins := randomInputs(3000, 1)
	for _, text := range cachePolicies {
		p, diags := Parse("test", "", text)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", text, diags)
		}
		for _, in := range ins {
			got, gotErr := p.Score(in)
			want, wantErr := p.scoreHCL(in)
			switch {
			case gotErr != nil || wantErr != nil:
				if gotErr == nil || wantErr == nil || firstLine(gotErr) != firstLine(wantErr) {
					t.Fatalf("%s with %s: Score %v, %v; HCL %v, %v", text, in, got, gotErr, want, wantErr)
				}
			case got != want || math.Signbit(got) != math.Signbit(want):
				t.Fatalf("%s with %s: Score %v, HCL %v", text, in, got, want)
			}
		}
		p.cache.mu.Lock()
		n := len(p.cache.m)
		p.cache.mu.Unlock()
		t.Logf("%s: %d scores cached for %d risks", text, n, len(ins))
	}
}

// firstLine is an error's message without what follows a newline: cty
// appends a stack trace to the error of a function that panicked.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func TestScoreCacheKeysOnlyWhatThePolicyReads(t *testing.T) {
	p, diags := Parse("test", "", `source == "scan" ? likelihood : 0`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, in := range []Inputs{
		{Likelihood: 2, Source: "scan"},
		{Likelihood: 2, Source: "scan", Impact: 5, Effort: 3, Votes: 9, Kind: "threat", Process: "change", AgeDays: 40},
		{Likelihood: 2, Source: "csv"},
		{Likelihood: 3, Source: "scan"},
	} {
		if _, err := p.Score(in); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(p.cache.m); n != 3 {
		t.Errorf("%d scores cached, want 3 (the first two risks differ only in attributes the policy does not read)", n)
	}
}

func TestScoreCacheIsBounded(t *testing.T) {
	p, diags := Parse("test", "", "age_days")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for i := range 3 * cacheSize {
		if s, err := p.Score(Inputs{AgeDays: i}); err != nil || s != float64(i) {
			t.Fatalf("Score(age_days=%d) = %v, %v", i, s, err)
		}
		if n := len(p.cache.m); n > cacheSize {
			t.Fatalf("%d scores cached, more than %d", n, cacheSize)
		}
	}
}

func TestCachedScoreDoesNotAllocate(t *testing.T) {
	p, diags := Parse("test", "", `(kind == "threat" ? likelihood * impact : impact + 1) * (1 + votes / 10) / max(effort, 0.5) + min(age_days, 90) / 30`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	in := Inputs{Likelihood: 3, Impact: 4, Effort: 2, Votes: 5, Kind: "threat", Process: "change", Source: "scan", AgeDays: 31}
	if _, err := p.Score(in); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { p.Score(in) }); n != 0 {
		t.Errorf("a cached Score allocates %v times", n)
	}
}

// TestCompileDeepExpression compiles and scores policies 10,000 operators
// deep; the bound is against a hang, not a speed requirement.
func TestCompileDeepExpression(t *testing.T) {
	const depth = 10000
	for _, tt := range []struct {
		name, text string
		want       float64
	}{
		{"unary minus", strings.Repeat("-", depth) + "1", 1},
		{"constant chain", "1" + strings.Repeat(" + 1", depth), depth + 1},
		{"chain on an attribute", "likelihood" + strings.Repeat(" + 1", depth), depth + 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			type result struct {
				p     *Policy
				diags hcl.Diagnostics
			}
			done := make(chan result, 1)
			go func() {
				p, diags := Parse("deep", "", tt.text)
				done <- result{p, diags}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Compile of a %d-deep expression did not finish within 10s", depth)
			}
			if r.diags.HasErrors() {
				t.Fatal(r.diags)
			}
			if s, err := r.p.Score(Inputs{Likelihood: 3, Impact: 4, Effort: 2, Votes: 1}); s != tt.want || err != nil {
				t.Errorf("Score = %v, %v; want %v", s, err, tt.want)
			}
		})
	}
}

// BenchmarkScorePaths scores typical risks with common policies: "cached"
// is Score, "hcl" the HCL evaluation every cache miss costs.
func BenchmarkScorePaths(b *testing.B) {
	policies := []struct{ name, text string }{
		{"product", `likelihood * impact`},
		{"weighted", `(likelihood * impact + 2 * votes) / max(effort, 1)`},
		{"conditional", `kind == "opportunity" ? likelihood * impact * 1.2 : likelihood * impact`},
	}
	ins := make([]Inputs, 1024) // typical risks
	for i := range ins {
		ins[i] = Inputs{
			Likelihood: 1 + i%5, Impact: 1 + i/5%5, Effort: float64(i%8) / 2, Votes: i % 7,
			Kind: []string{"threat", "opportunity"}[i/3%2], Process: "change", Source: "scan", AgeDays: i % 400,
		}
	}
	for _, pol := range policies {
		p, diags := Parse(pol.name, "", pol.text)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		for _, path := range []struct {
			name  string
			score func(Inputs) (float64, error)
		}{{"cached", p.Score}, {"hcl", p.scoreHCL}} {
			b.Run(pol.name+"/"+path.name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if _, err := path.score(ins[i&(len(ins)-1)]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scores/s")
			})
		}
	}
}
