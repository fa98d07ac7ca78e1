package priority

import (
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// agreePolicies all have a fast path; the differential test and the fuzz
// seeds run them on both paths.
var agreePolicies = []string{
	// arithmetic and precedence
	`likelihood * impact`,
	`(likelihood * impact + 2 * votes) / max(effort, 1)`,
	`likelihood + impact * votes - age_days % 7`,
	`likelihood - impact - votes + 2 * -age_days`,
	`-likelihood * -impact + -(votes) / 4`,
	`likelihood * impact / effort`,
	`votes / effort`,
	`(likelihood + impact) % votes + age_days % 30`,
	`effort * 3 - 0.3`,
	`likelihood * impact - likelihood * impact * 1.0000000001`,
	`likelihood * impact * 1e300 * 1e10`,
	`1 / (1 / effort) + 0.1 + 0.2`,
	// conditionals, comparisons, strings, bools
	`kind == "opportunity" ? likelihood * impact * 1.2 : likelihood * impact`,
	`(kind == "threat" ? likelihood * impact : impact + 1) * (1 + votes / 10) / max(effort, 0.5) + min(age_days, 90) / 30`,
	`process == "improve" || source == "scan" ? 2 : 1`,
	`process == "change" && source == "csv" ? age_days : 0`,
	`kind != "threat" && !(votes > 3) ? 1.5 : 0.5`,
	`likelihood >= impact ? likelihood : impact`,
	`likelihood <= 3 ? effort * 0.1 : effort / 3`,
	`effort > 2.5 ? 1 : effort < 1 ? 2 : effort >= 0.3 * 10 ? 3 : 4`,
	`likelihood * 0.1 + impact * 0.2 == 0.5 ? 1 : 0`,
	`effort == 0.5 ? 10 : effort != 1 ? 5 : 1`,
	`age_days / 7 * 7 == age_days ? 1 : 0`,
	`(kind == source) == (process == "improve") ? votes : -votes`,
	`"${kind}" == "café" || kind == 1 ? 3 : (true ? 1 : 2)`,
	`likelihood / 3 * 3 <= 2 || impact / 10 > 0.3 ? votes : age_days`,
	// every function
	`abs(likelihood - impact) * 3.7 + abs(effort - 2)`,
	`ceil(effort / 3) + floor(age_days / 30) + floor(effort * 1.1) + ceil(-effort)`,
	`log(votes + 1, 2) + log(age_days + 1, 10) + log(8, 2)`,
	`log(effort, 0.5) + log(likelihood * 1.5, impact)`,
	`pow(2, likelihood) + pow(effort, 0.5) + pow(age_days / 30, 1.5)`,
	`pow(likelihood, -impact) + pow(effort * 1.1, votes / 3)`,
	`pow(10, votes) / pow(10, votes - 1)`,
	`max(likelihood, impact, votes, effort) - min(likelihood * 0.3, impact / 7, 2)`,
	`min(likelihood * impact, 10) / max(effort, 0.25) + max(-effort, -0) * 0`,
	`-votes * 0 + min(effort)`,
}

// slowPolicies are valid policies the fast path leaves to HCL.
var slowPolicies = []string{
	`kind == "threat" ? 1 : null`,               // null
	`"${kind}x" == "threatx" ? 1 : 2`,           // template with an interpolation
	`[1, 2][0] * likelihood`,                    // collections
	`"2" * likelihood`,                          // string operand converted to a number
	`likelihood > "2" ? 1 : 0`,                  // idem, in a comparison
	`max([1, 2]...) * impact`,                   // expanded arguments
	`1e400 / 1e399 * likelihood`,                // a literal a float64 cannot hold
	`(kind == "threat" ? likelihood : "1") * 2`, // result types HCL unifies
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
			efforts := []float64{0, math.Copysign(0, -1), 0.1, 0.3, 1.0 / 3, 2.5, -1.5, 1e-300, 5e-324, 1e300, math.NaN(), math.Inf(-1), rng.Float64() * 10, rng.NormFloat64()}
			in.Effort = efforts[rng.IntN(len(efforts))]
			in.Kind = pick("threat", "", "café", "cafe\u0301", "x")
			in.Process = pick("improve", "")
			in.Source = pick("café", "threat", "opportunity")
		}
		ins[i] = in
	}
	return ins
}

// checkAgree scores in on both paths and reports a disagreement; it
// returns whether the fast path settled the score itself.
func checkAgree(t testing.TB, p *Policy, in Inputs) (fast bool) {
	t.Helper()
	got, gotErr := p.Score(in)
	want, wantErr := p.scoreHCL(in)
	switch {
	case gotErr != nil || wantErr != nil:
		if gotErr == nil || wantErr == nil || firstLine(gotErr) != firstLine(wantErr) {
			t.Fatalf("%s with %s: fast %v, %v; HCL %v, %v", p.Text, in, got, gotErr, want, wantErr)
		}
	case got == 0 && want == 0 && math.Signbit(got) != math.Signbit(want),
		got != want && math.Abs(got-want) > 1e-9*math.Max(math.Abs(got), math.Abs(want)):
		t.Fatalf("%s with %s: fast %v, HCL %v", p.Text, in, got, want)
	}
	if p.fast == nil || !finite(in.Effort) {
		return false
	}
	_, fast = p.fast.score(&in)
	return fast
}

// firstLine is an error's message without what follows a newline: cty
// appends a stack trace to the error of a function that panicked.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// rareFast are the policies of agreePolicies that are mostly left to HCL:
// they cancel, overflow or compare inexact numbers for equality.
var rareFast = map[string]bool{
	`likelihood * impact - likelihood * impact * 1.0000000001`: true,
	`likelihood * impact * 1e300 * 1e10`:                       true,
	`age_days / 7 * 7 == age_days ? 1 : 0`:                     true,
}

func TestFastPathAgrees(t *testing.T) {
	ins := randomInputs(2000, 1)
	for _, text := range agreePolicies {
		t.Run(text, func(t *testing.T) {
			p, diags := Parse("test", "", text)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if p.fast == nil {
				t.Fatal("no fast path")
			}
			hits, exact := 0, 0
			for _, in := range ins {
				if checkAgree(t, p, in) {
					hits++
					if s, _ := p.Score(in); s == mustHCL(p, in) {
						exact++
					}
				}
			}
			t.Logf("fast path settled %d of %d scores, %d bit-identical to HCL's", hits, len(ins), exact)
			if hits < len(ins)/2 && !rareFast[text] {
				t.Errorf("the fast path settled only %d of %d scores", hits, len(ins))
			}
		})
	}
}

func mustHCL(p *Policy, in Inputs) float64 {
	s, _ := p.scoreHCL(in)
	return s
}

// TestFastPathSettlesTypicalRisks checks that common policies never need
// HCL for typical risks.
func TestFastPathSettlesTypicalRisks(t *testing.T) {
	for _, text := range []string{
		`likelihood * impact`,
		`(likelihood * impact + 2 * votes) / max(effort, 1)`,
		`kind == "opportunity" ? likelihood * impact * 1.2 : likelihood * impact`,
		`(kind == "threat" ? likelihood * impact : impact + 1) * (1 + votes / 10) / max(effort, 0.5) + min(age_days, 90) / 30`,
		`max(1, likelihood * impact + votes) / pow(max(effort, 1), 0.5) + floor(age_days / 30) + min(log(8, 2), 3)`,
	} {
		p, diags := Parse("test", "", text)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for _, in := range randomInputs(500, 2) {
			if in.Effort < 0.5 || in.Likelihood < 1 || in.Likelihood > 5 || in.Impact < 1 || in.Impact > 5 || in.Votes < 0 || in.AgeDays < 0 {
				continue
			}
			if !checkAgree(t, p, in) {
				t.Errorf("%s: HCL needed for %s", text, in)
			}
		}
	}
}

func TestFastPathFallback(t *testing.T) {
	for _, text := range slowPolicies {
		p, diags := Parse("test", "", text)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", text, diags)
		}
		if p.fast != nil {
			t.Errorf("%s: has a fast path", text)
		}
	}
}

func TestFastPathSpecialValues(t *testing.T) {
	tests := []struct {
		text string
		in   Inputs
		want float64 // NaN: an error
		fast bool    // settled by the fast path
	}{
		{text: "likelihood * impact", in: Inputs{Likelihood: 3, Impact: 4}, want: 12, fast: true},
		{text: "effort / 3 * 3", in: Inputs{Effort: 1}, want: 1, fast: true},
		{text: "(votes + 0.5) % 2", in: Inputs{Votes: 3}, want: 1.5},   // % of fractions
		{text: "votes % 0", in: Inputs{Votes: 3}, want: 3, fast: true}, // cty: a % 0 is a
		{text: "-effort", in: Inputs{Effort: math.Copysign(0, -1)}, want: math.Copysign(0, -1), fast: true},
		{text: "effort == 0.1 ? 1 : 2", in: Inputs{Effort: 0.1}, want: 1}, // cty compares decimal text
		{text: "effort * 1 == effort ? 1 : 2", in: Inputs{Effort: 0.1}, want: 2},
		{text: "effort == 0.5 ? 1 : 2", in: Inputs{Effort: 0.5}, want: 1, fast: true},
		{text: `kind == "café" ? 1 : 2`, in: Inputs{Kind: "cafe\u0301"}, want: 1, fast: true}, // NFC
		{text: "likelihood * 1", in: Inputs{Likelihood: 1<<53 + 1}, want: 1<<53 + 1},
		{text: "pow(10, votes) / pow(10, votes - 1)", in: Inputs{Votes: 300}, want: 10, fast: true},
		{text: "pow(10, votes) / pow(10, votes - 1)", in: Inputs{Votes: 400}, want: math.NaN()}, // inf / inf
		{text: "votes * 1e300 * 1e300 / 1e300", in: Inputs{Votes: 1}, want: 1e300},              // no overflow in HCL
		{text: "log(votes, 2)", in: Inputs{Votes: -1}, want: math.NaN()},
	}
	for _, tt := range tests {
		p, diags := Parse("test", "", tt.text)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		got, err := p.Score(tt.in)
		if math.IsNaN(tt.want) {
			if err == nil {
				t.Errorf("%s with %s = %v, want an error", tt.text, tt.in, got)
			}
		} else if err != nil || got != tt.want || math.Signbit(got) != math.Signbit(tt.want) {
			t.Errorf("%s with %s = %v, %v; want %v", tt.text, tt.in, got, err, tt.want)
		}
		if fast := checkAgree(t, p, tt.in); fast != tt.fast {
			t.Errorf("%s with %s: settled by the fast path: %v, want %v", tt.text, tt.in, fast, tt.fast)
		}
	}
}

func TestScoreDoesNotAllocate(t *testing.T) {
	p, diags := Parse("test", "", `(kind == "threat" ? likelihood * impact : impact + 1) * (1 + votes / 10) / max(effort, 0.5) + min(age_days, 90) / 30`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	in := Inputs{Likelihood: 3, Impact: 4, Effort: 2, Votes: 5, Kind: "threat", Process: "change", Source: "scan", AgeDays: 31}
	if n := testing.AllocsPerRun(100, func() { p.Score(in) }); n != 0 {
		t.Errorf("Score allocates %v times", n)
	}
}

var hugeExponent = regexp.MustCompile(`[eE][+-]?0*[0-9]{5}`)

// FuzzScoreAgree checks that Score, with its fast path, and the HCL
// evaluation agree on any policy and risk: both fail with the same error,
// or both score within a relative 1e-9.
func FuzzScoreAgree(f *testing.F) {
	texts := append(append([]string{}, agreePolicies...), slowPolicies...)
	g := policyGen{rand.New(rand.NewPCG(9, 9))}
	for range 20 {
		texts = append(texts, g.num(3))
	}
	for i, text := range texts {
		for _, in := range randomInputs(3, uint64(i)) {
			f.Add(text, in.Likelihood, in.Impact, in.Effort, in.Votes, in.Kind, in.Process, in.Source, in.AgeDays)
		}
	}
	f.Fuzz(func(t *testing.T, text string, likelihood, impact int, effort float64, votes int, kind, process, source string, ageDays int) {
		// Score formats an out-of-range score with big.Float.Text, which
		// takes minutes for a literal such as 1e40000000.
		if len(text) > 400 || hugeExponent.MatchString(text) {
			return
		}
		p, diags := Parse("fuzz", "", text)
		if diags.HasErrors() {
			return
		}
		checkAgree(t, p, Inputs{
			Likelihood: likelihood, Impact: impact, Effort: effort, Votes: votes,
			Kind: kind, Process: process, Source: source, AgeDays: ageDays,
		})
	})
}

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
		}{{"fast", p.Score}, {"hcl", p.scoreHCL}} {
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

// policyGen writes random policies from the constructs of the fast path.
type policyGen struct{ rng *rand.Rand }

func (g policyGen) pick(s ...string) string { return s[g.rng.IntN(len(s))] }

func (g policyGen) num(depth int) string {
	if depth <= 0 || g.rng.IntN(4) == 0 {
		if g.rng.IntN(3) == 0 {
			return g.pick("0", "1", "2", "3", "7", "10", "0.1", "0.2", "0.3", "0.5", "1.2", "2.5", "3.7", "1e-3", "1e20", "1e-20", "1.0000000001")
		}
		return g.pick(numSlotNames...)
	}
	d := depth - 1
	switch g.rng.IntN(10) {
	case 0, 1, 2:
		return g.num(d) + " " + g.pick("+", "-", "*", "/", "%") + " " + g.num(d)
	case 3:
		return "-" + g.num(d)
	case 4:
		return "(" + g.num(d) + ")"
	case 5:
		return "(" + g.boolean(d) + " ? " + g.num(d) + " : " + g.num(d) + ")"
	case 6:
		return g.pick("abs", "ceil", "floor") + "(" + g.num(d) + ")"
	case 7:
		return g.pick("log", "pow") + "(" + g.num(d) + ", " + g.num(d) + ")"
	default:
		args := []string{g.num(d)}
		for g.rng.IntN(2) == 0 {
			args = append(args, g.num(d))
		}
		return g.pick("max", "min") + "(" + strings.Join(args, ", ") + ")"
	}
}

var numSlotNames = []string{"likelihood", "impact", "effort", "votes", "age_days"}

func (g policyGen) boolean(depth int) string {
	d := depth - 1
	switch g.rng.IntN(8) {
	case 0, 1, 2:
		return g.num(d) + " " + g.pick("<", "<=", ">", ">=", "==", "!=") + " " + g.num(d)
	case 3:
		return g.str(d) + " " + g.pick("==", "!=") + " " + g.str(d)
	case 4:
		return "(" + g.boolean(d) + " " + g.pick("&&", "||") + " " + g.boolean(d) + ")"
	case 5:
		return "!(" + g.boolean(d) + ")"
	case 6:
		return g.num(d) + " == " + g.str(d)
	}
	return g.pick("true", "false")
}

func (g policyGen) str(depth int) string {
	if depth > 0 && g.rng.IntN(5) == 0 {
		return "(" + g.boolean(depth-1) + " ? " + g.str(depth-1) + " : " + g.str(depth-1) + ")"
	}
	return g.pick("kind", "process", "source", `"threat"`, `"scan"`, `"café"`, `"${kind}"`, `""`)
}

// TestFastPathAgreesOnRandomPolicies runs random policies on both paths.
func TestFastPathAgreesOnRandomPolicies(t *testing.T) {
	g := policyGen{rand.New(rand.NewPCG(5, 5))}
	ins := randomInputs(60, 4)
	compiled, fast, hits, total := 0, 0, 0, 0
	for i := 0; i < 400; i++ {
		text := g.num(4)
		p, diags := Parse("test", "", text)
		if diags.HasErrors() {
			continue
		}
		compiled++
		if p.fast == nil {
			t.Errorf("%s: no fast path", text)
			continue
		}
		fast++
		for _, in := range ins {
			total++
			if checkAgree(t, p, in) {
				hits++
			}
		}
	}
	t.Logf("%d policies compiled, %d with a fast path; it settled %d of %d scores", compiled, fast, hits, total)
}

// TestFastPathBySyntax compiles a policy from a native and a JSON config:
// only the native one gets a fast path; both score alike.
func TestFastPathBySyntax(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		fast      bool
	}{
		{"policy.hcl", "score = (likelihood * impact + 2 * votes) / max(effort, 1)\n", true},
		{"policy.json", `{"score": "${(likelihood * impact + 2 * votes) / max(effort, 1)}"}`, false},
	} {
		parser := hclparse.NewParser()
		var file *hcl.File
		var diags hcl.Diagnostics
		if strings.HasSuffix(tt.name, ".json") {
			file, diags = parser.ParseJSON([]byte(tt.src), tt.name)
		} else {
			file, diags = parser.ParseHCL([]byte(tt.src), tt.name)
		}
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		attrs, diags := file.Body.JustAttributes()
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		p, diags := Compile("p", "", attrs["score"].Expr, []byte(tt.src))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if (p.fast != nil) != tt.fast {
			t.Errorf("%s: fast path %v, want %v", tt.name, p.fast != nil, tt.fast)
		}
		if s, err := p.Score(Inputs{Likelihood: 3, Impact: 4, Effort: 2, Votes: 1}); s != 7 || err != nil {
			t.Errorf("%s: Score = %v, %v; want 7", tt.name, s, err)
		}
	}
}

// boundaryPolicies compare numbers that are equal in real arithmetic but
// computed differently, where float64 and HCL's big floats may disagree.
var boundaryPolicies = []string{
	`effort * 3 == 0.9 ? 1 : 0`,
	`effort * 3 <= 0.9 ? 1 : 0`,
	`effort * 3 > 0.9 ? 1 : 0`,
	`effort / 3 * 3 == effort ? 1 : 0`,
	`effort + 0.1 + 0.2 == effort + 0.3 ? 1 : 0`,
	`effort + 0.1 + 0.2 >= effort + 0.3 ? 1 : 0`,
	`likelihood * 0.1 * 10 == likelihood ? 1 : 0`,
	`likelihood / 10 == likelihood * 0.1 ? 1 : 0`,
	`likelihood / 10 < likelihood * 0.1 ? 1 : 0`,
	`pow(effort, 2) == effort * effort ? 1 : 0`,
	`log(pow(2, likelihood), 2) == likelihood ? 1 : 0`,
	`floor(likelihood / 0.1) == likelihood * 10 ? 1 : 0`,
	`ceil(effort * 10) / 10 == effort ? 1 : 0`,
	`max(effort * 0.1, 0.03) == 0.03 ? 1 : 0`,
	`effort * 1 == effort ? 1 : 0`,
	`(likelihood + 0.5) * 2 == 2 * likelihood + 1 ? 1 : 0`,
	`effort == 0.1 ? 1 : 0`,
	`effort >= 0.5 ? 1 : 0`,
	`effort * 10 % 3 == 0 ? 1 : 0`,
	`floor(effort * 10) + ceil(effort / 0.1)`,
	`min(effort, 1 / 3) == effort ? 1 : 0`,
	`pow(effort * 3, 0.5) * pow(effort * 3, 0.5) - effort * 3`,
	`log(effort * 10, 10) >= 0 ? 1 : 0`,
}

func TestFastPathBoundaries(t *testing.T) {
	efforts := []float64{0, 0.1, 0.2, 0.3, 0.5, 1.0 / 3, 0.7, 0.9, 1, 2.5, 3, 0.03 / 0.1, 0.30000000000000004}
	for _, text := range boundaryPolicies {
		p, diags := Parse("test", "", text)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", text, diags)
		}
		if p.fast == nil {
			t.Fatalf("%s: no fast path", text)
		}
		hits, n := 0, 0
		for l := 0; l <= 10; l++ {
			for _, e := range efforts {
				n++
				if checkAgree(t, p, Inputs{Likelihood: l, Impact: 1, Effort: e}) {
					hits++
				}
			}
		}
		t.Logf("%s: fast path settled %d of %d", text, hits, n)
	}
}
