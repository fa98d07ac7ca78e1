package priority

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/usmhub/usmhub/core/model"
)

// Attributes lists, in documentation order, the names a policy expression
// may refer to. Likelihood, impact, effort, votes and age_days are numbers;
// kind, process and source are strings.
var Attributes = []string{"likelihood", "impact", "effort", "votes", "kind", "process", "source", "age_days"}

// Functions lists the names of the functions a policy expression may call.
var Functions = []string{"abs", "ceil", "floor", "log", "max", "min", "pow"}

// functions is shared, read-only, by every evaluation.
var functions = map[string]function.Function{
	"abs":   stdlib.AbsoluteFunc,
	"ceil":  stdlib.CeilFunc,
	"floor": stdlib.FloorFunc,
	"log":   stdlib.LogFunc,
	"max":   stdlib.MaxFunc,
	"min":   stdlib.MinFunc,
	"pow":   stdlib.PowFunc,
}

// The bits of Policy.uses, one per name of Attributes.
const (
	useLikelihood uint8 = 1 << iota
	useImpact
	useEffort
	useVotes
	useKind
	useProcess
	useSource
	useAgeDays
)

// attrBit maps each name of Attributes to its bit in Policy.uses.
var attrBit = map[string]uint8{
	"likelihood": useLikelihood, "impact": useImpact, "effort": useEffort, "votes": useVotes,
	"kind": useKind, "process": useProcess, "source": useSource, "age_days": useAgeDays,
}

// sample is the risk a policy is tried on when it is compiled.
var sample = Inputs{
	Likelihood: 3, Impact: 3, Effort: 1, Votes: 0,
	Kind: string(model.Threat), Process: string(model.Improve), Source: "scan", AgeDays: 30,
}

// Policy is a compiled priority policy. It is safe for concurrent use and
// immutable but for the scores it remembers (see Score).
type Policy struct {
	// Name is the priority block's label; Description its description.
	Name        string
	Description string
	// Text is the score expression's source text exactly as written; sprints
	// record it as the policy they were planned with.
	Text string

	expr hcl.Expression
	// uses has a bit per attribute the expression refers to (see attrBit):
	// a score depends only on those, so they alone key the cache.
	uses uint8
	// cache holds scores by the inputs the expression reads.
	cache *scoreCache
}

// Compile checks a policy expression and returns the policy. src is the
// source the expression was parsed from; Text is taken from it.
//
// It rejects references to anything but the risk attributes in Attributes
// (one diagnostic per reference, at the reference), and an expression that
// does not yield a known number for a sample risk.
func Compile(name, description string, expr hcl.Expression, src []byte) (*Policy, hcl.Diagnostics) {
	if expr == nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing priority policy",
			Detail:   fmt.Sprintf("Priority %q has no score expression; write one, e.g. score = likelihood * impact / max(effort, 1).", name),
		}}
	}
	var diags hcl.Diagnostics
	var uses uint8
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if bit, ok := attrBit[root]; ok {
			uses |= bit
			continue
		}
		rng := tr.SourceRange()
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown attribute in priority policy",
			Detail: fmt.Sprintf("%q is not an attribute of a risk; use one of: %s.",
				root, strings.Join(Attributes, ", ")),
			Subject:    &rng,
			Expression: expr,
		})
	}
	if diags.HasErrors() {
		return nil, diags
	}

	p := &Policy{
		Name:        name,
		Description: description,
		Text:        string(expr.Range().SliceBytes(src)),
		expr:        expr,
		uses:        uses,
		cache:       &scoreCache{},
	}
	v, evalDiags := p.eval(sample)
	if evalDiags.HasErrors() {
		return nil, append(diags, evalDiags...)
	}
	if !isNumber(v) {
		rng := expr.Range()
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Priority policy must yield a number",
			Detail: fmt.Sprintf("For a sample risk (%s) the score expression yields %s; write an expression that yields a number, e.g. likelihood * impact / max(effort, 1).",
				sample, describe(v)),
			Subject:    &rng,
			Expression: expr,
		})
		return nil, diags
	}
	return p, diags
}

// Parse parses text as a policy expression and compiles it; the diagnostics
// name the file "<priority name>". It serves policies that do not come from
// a config file (command-line flags, tests).
func Parse(name, description, text string) (*Policy, hcl.Diagnostics) {
	src := []byte(text)
	expr, diags := hclsyntax.ParseExpression(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	return Compile(name, description, expr, src)
}

// ctxPool recycles evaluation contexts: Score overwrites the same eight
// variables in place instead of building a map per call.
var ctxPool = sync.Pool{New: func() any {
	return &hcl.EvalContext{
		Variables: make(map[string]cty.Value, len(Attributes)),
		Functions: functions,
	}
}}

func (p *Policy) eval(in Inputs) (cty.Value, hcl.Diagnostics) {
	ctx := ctxPool.Get().(*hcl.EvalContext)
	vars := ctx.Variables
	vars["likelihood"] = intVal(in.Likelihood)
	vars["impact"] = intVal(in.Impact)
	vars["effort"] = floatVal(in.Effort)
	vars["votes"] = intVal(in.Votes)
	vars["kind"] = stringVal(in.Kind)
	vars["process"] = stringVal(in.Process)
	vars["source"] = stringVal(in.Source)
	vars["age_days"] = intVal(in.AgeDays)
	v, diags := p.expr.Value(ctx)
	if len(diags) == 0 {
		// Diagnostics point at their context; only a clean one is reused.
		ctxPool.Put(ctx)
	}
	return v, diags
}

// Score evaluates the policy for one risk with HCL. It fails when the
// expression fails (e.g. zero divided by zero) or yields anything but a
// finite number (e.g. a division by zero); the error names the policy and
// the inputs.
//
// Score is safe for concurrent use. Risks often share the attributes a
// policy reads (likelihood and impact are 1–5, votes and efforts are few),
// so a score is remembered by those attributes alone: a risk scored again,
// or one that differs only in attributes the policy does not read, costs a
// map look-up and no allocation. The remembered score is the one HCL
// computed, so the result never depends on what was scored before.
func (p *Policy) Score(in Inputs) (float64, error) {
	k, ok := p.key(in)
	if ok {
		if s, hit := p.cache.get(k); hit {
			return s, nil
		}
	}
	s, err := p.scoreHCL(in)
	if ok && err == nil {
		p.cache.put(k, s)
	}
	return s, err
}

// scoreHCL is Score without the cache: the policy evaluated by HCL.
func (p *Policy) scoreHCL(in Inputs) (float64, error) {
	if math.IsNaN(in.Effort) || math.IsInf(in.Effort, 0) {
		return 0, fmt.Errorf("priority policy %q: cannot score a risk with %s: effort is not a finite number", p.Name, in)
	}
	v, diags := p.eval(in)
	if diags.HasErrors() {
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				return 0, fmt.Errorf("priority policy %q: cannot score a risk with %s: %s: %s", p.Name, in, d.Summary, d.Detail)
			}
		}
	}
	if !isNumber(v) {
		return 0, fmt.Errorf("priority policy %q: cannot score a risk with %s: the expression yields %s, not a number", p.Name, in, describe(v))
	}
	bf := v.AsBigFloat()
	if bf.IsInf() {
		return 0, fmt.Errorf("priority policy %q: cannot score a risk with %s: the score is infinite (a division by zero?)", p.Name, in)
	}
	f, _ := bf.Float64()
	if math.IsInf(f, 0) {
		return 0, fmt.Errorf("priority policy %q: cannot score a risk with %s: the score %s is out of range", p.Name, in, bf.Text('g', 6))
	}
	return f, nil
}

// cacheKey is the part of Inputs a policy reads; the attributes it does not
// read are zero. Effort is kept as its bits, so that -0 and 0 stay apart.
type cacheKey struct {
	likelihood, impact, votes, ageDays int
	effort                             uint64
	kind, process, source              string
}

// key returns the cache key of in under p; ok is false when in is not to be
// cached (an effort that is not finite is refused before evaluation).
func (p *Policy) key(in Inputs) (k cacheKey, ok bool) {
	if p.cache == nil || math.IsNaN(in.Effort) || math.IsInf(in.Effort, 0) {
		return k, false
	}
	u := p.uses
	if u&useLikelihood != 0 {
		k.likelihood = in.Likelihood
	}
	if u&useImpact != 0 {
		k.impact = in.Impact
	}
	if u&useEffort != 0 {
		k.effort = math.Float64bits(in.Effort)
	}
	if u&useVotes != 0 {
		k.votes = in.Votes
	}
	if u&useKind != 0 {
		k.kind = in.Kind
	}
	if u&useProcess != 0 {
		k.process = in.Process
	}
	if u&useSource != 0 {
		k.source = in.Source
	}
	if u&useAgeDays != 0 {
		k.ageDays = in.AgeDays
	}
	return k, true
}

// cacheSize bounds the scores a policy remembers. When it is reached the
// cache starts afresh, so a long-running hub whose risks age day by day
// keeps the scores it currently needs.
const cacheSize = 4096

// scoreCache maps inputs to the score HCL computed for them. Only
// successful scores are kept: an error is evaluated again, so that its
// message names the inputs of the risk at hand.
type scoreCache struct {
	mu sync.Mutex
	m  map[cacheKey]float64
}

func (c *scoreCache) get(k cacheKey) (float64, bool) {
	c.mu.Lock()
	s, ok := c.m[k]
	c.mu.Unlock()
	return s, ok
}

func (c *scoreCache) put(k cacheKey, s float64) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[cacheKey]float64)
	} else if len(c.m) >= cacheSize {
		clear(c.m)
	}
	c.m[k] = s
	c.mu.Unlock()
}

// isNumber reports whether v is a known, non-null number.
func isNumber(v cty.Value) bool {
	return v.IsKnown() && !v.IsNull() && v.Type() == cty.Number
}

// describe names what a value that is not a number is, for errors.
func describe(v cty.Value) string {
	switch {
	case v.IsNull():
		return "null"
	case !v.IsKnown():
		return "an unknown value"
	default:
		return "a " + v.Type().FriendlyName()
	}
}

// String lists the inputs as the policy sees them, e.g.
// `likelihood=3, impact=4, effort=2, votes=1, kind="threat", process="", source="", age_days=12`.
func (in Inputs) String() string {
	return fmt.Sprintf("likelihood=%d, impact=%d, effort=%s, votes=%d, kind=%q, process=%q, source=%q, age_days=%d",
		in.Likelihood, in.Impact, strconv.FormatFloat(in.Effort, 'g', -1, 64), in.Votes,
		in.Kind, in.Process, in.Source, in.AgeDays)
}

// InputsOf returns the policy inputs of a risk at a moment. AgeDays counts
// whole days from the risk's creation to now; it is 0 for a risk without a
// creation time or one created after now.
func InputsOf(r model.Risk, now time.Time) Inputs {
	age := 0
	if !r.CreatedAt.IsZero() && now.After(r.CreatedAt) {
		age = int(now.Sub(r.CreatedAt) / (24 * time.Hour))
	}
	return Inputs{
		Likelihood: r.Likelihood,
		Impact:     r.Impact,
		Effort:     r.Effort,
		Votes:      r.Votes,
		Kind:       string(r.Kind),
		Process:    string(r.Process),
		Source:     r.Source,
		AgeDays:    age,
	}
}

// Values are immutable, so the common ones are made once.
var (
	smallInts [1024]cty.Value
	knownStrs = map[string]cty.Value{}
	emptyStr  = cty.StringVal("")
	maxSmall  = len(smallInts) - 1
)

func init() {
	for i := range smallInts {
		smallInts[i] = cty.NumberIntVal(int64(i))
	}
	for _, k := range model.Kinds {
		knownStrs[string(k)] = cty.StringVal(string(k))
	}
	for _, p := range model.Processes {
		knownStrs[string(p)] = cty.StringVal(string(p))
	}
	knownStrs[""] = emptyStr
}

func intVal(i int) cty.Value {
	if i >= 0 && i <= maxSmall {
		return smallInts[i]
	}
	return cty.NumberIntVal(int64(i))
}

func floatVal(f float64) cty.Value {
	if f >= 0 && f <= float64(maxSmall) && f == math.Trunc(f) {
		return smallInts[int(f)]
	}
	return cty.NumberFloatVal(f)
}

func stringVal(s string) cty.Value {
	if v, ok := knownStrs[s]; ok {
		return v
	}
	return cty.StringVal(s)
}
