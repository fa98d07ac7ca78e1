package priority

// This file holds the compiled fast path of Score.
//
// Compile translates a native-syntax policy (an hclsyntax expression) into a
// tree of Go closures over float64 numbers, strings and bools, the static
// type of every node inferred from the attribute types. A policy the
// translation does not cover exactly — see compileNode — has no fast path
// and is always evaluated by HCL.
//
// HCL evaluates numbers as big.Float values of at least 53 bits of mantissa
// (integers 64, literals 512), so a float64 result can be off in its last
// bits. Every number node therefore returns its float64 value v with a bound
// e on the distance from the value HCL computes: e == 0 means v is exactly
// HCL's value (integer arithmetic, exact divisions, inputs). Decisions that
// depend on the exact value — comparisons, floor and ceil, the branch of a
// conditional — are taken only when the bound settles them, and the final
// score only when e is below a relative 1e-12. Anything the fast path cannot
// settle — an undecided comparison, an infinity, NaN, an overflow or
// underflow, a failing function — abandons the fast path for that call, and
// Score evaluates the risk with HCL, which then produces the same score or
// error as a policy without fast path.

import (
	"math"
	"math/big"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// vtype is the static type of a fast-path node.
type vtype uint8

const (
	tNum vtype = iota + 1
	tStr
	tBool
)

// Slots of the attributes in a frame.
var (
	numSlots = map[string]int{"likelihood": 0, "impact": 1, "effort": 2, "votes": 3, "age_days": 4}
	strSlots = map[string]int{"kind": 0, "process": 1, "source": 2}
)

// frame holds one risk's inputs as the fast path reads them.
type frame struct {
	num [5]float64 // likelihood, impact, effort, votes, age_days
	str [3]string  // kind, process, source, NFC-normalized as cty does
}

// framePool recycles frames: the closures take a *frame, which would
// otherwise escape to the heap on every call.
var framePool = sync.Pool{New: func() any { return new(frame) }}

type (
	// numFn returns a number and a bound on its distance from HCL's value;
	// v is NaN when the fast path cannot evaluate the risk.
	numFn func(*frame) (v, e float64)
	// boolFn returns a bool; ok is false when the fast path cannot tell.
	boolFn func(*frame) (b, ok bool)
	// strFn returns a string; ok is false when the fast path cannot tell.
	strFn func(*frame) (s string, ok bool)
)

// node is a compiled expression: exactly the function of its type is set.
type node struct {
	t    vtype
	num  numFn
	b    boolFn
	str  strFn
	leaf operand // of an attribute or constant number
}

// operand is a number node as its parent reads it: attributes and
// constants are read in place rather than through a call.
type operand struct {
	kind  uint8 // opCall, opSlot or opConst
	slot  int
	c, ce float64
	fn    numFn
}

const (
	opCall uint8 = iota
	opSlot
	opConst
)

func (o *operand) eval(fr *frame) (float64, float64) {
	switch o.kind {
	case opSlot:
		return fr.num[o.slot], 0
	case opConst:
		return o.c, o.ce
	}
	return o.fn(fr)
}

// operand returns how a parent reads number node n.
func (n node) operand() operand {
	o := n.leaf
	o.fn = n.num
	return o
}

// fastPath is a policy compiled to closures. It is immutable.
type fastPath struct {
	root numFn
	strs [3]bool // the string attributes the policy reads
}

const (
	u         = 0x1p-53 // unit roundoff of float64
	grow      = 1 + 16*u
	rnd       = 4 * u     // rounding of one operation: ours and HCL's
	minNormal = 0x1p-1022 // smallest normal float64
	tiny      = 0x1p-900  // below this, exactness tests may underflow
	maxInt    = 1 << 53   // larger integers are not exact in a float64
	finalTol  = 1e-12     // relative bound a fast score must meet
)

var nan = math.NaN()

// finite reports whether x is neither infinite nor NaN.
func finite(x float64) bool { return math.Abs(x) <= math.MaxFloat64 }

// inexact returns e as the bound of an inexact number: never 0 (it may have
// underflowed), +Inf when it is NaN (an unknown bound).
func inexact(e float64) float64 {
	switch {
	case e > 0:
		return e
	case e == 0:
		return math.SmallestNonzeroFloat64
	}
	return math.Inf(1)
}

// radius widens a bound so that an interval [v-r, v+r] computed in float64
// certainly contains HCL's value, and so that values whose intervals do not
// meet differ enough for cty to print them differently (see numEqual).
func radius(v, e float64) float64 {
	if e == 0 {
		return 0
	}
	return (e + math.Abs(v)*0x1p-49) * (1 + 0x1p-49)
}

// score evaluates the policy for in; ok is false when the fast path cannot
// settle the result and the caller must evaluate with HCL.
func (fp *fastPath) score(in *Inputs) (float64, bool) {
	if !smallInt(in.Likelihood) || !smallInt(in.Impact) || !smallInt(in.Votes) || !smallInt(in.AgeDays) {
		return 0, false
	}
	effort := in.Effort
	if effort == 0 {
		effort = 0 // HCL reads -0 as 0
	}
	fr := framePool.Get().(*frame)
	fr.num = [5]float64{float64(in.Likelihood), float64(in.Impact), effort, float64(in.Votes), float64(in.AgeDays)}
	if fp.strs[0] {
		fr.str[0] = normalize(in.Kind)
	}
	if fp.strs[1] {
		fr.str[1] = normalize(in.Process)
	}
	if fp.strs[2] {
		fr.str[2] = normalize(in.Source)
	}
	v, e := fp.root(fr)
	fr.str = [3]string{}
	framePool.Put(fr)
	if !finite(v) {
		return 0, false
	}
	if e != 0 && !(e <= finalTol*math.Abs(v) && math.Abs(v) >= tiny && math.Abs(v) <= 1e300) {
		return 0, false
	}
	return v, true
}

func smallInt(i int) bool { return int64(i) >= -maxInt && int64(i) <= maxInt }

// normalize returns s as cty.StringVal stores it.
func normalize(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return cty.NormalizeString(s)
		}
	}
	return s
}

// compileFast returns the fast path of expr, or nil when expr is not native
// syntax or uses something the fast path does not translate exactly.
func compileFast(expr hcl.Expression) *fastPath {
	sx, ok := expr.(hclsyntax.Expression)
	if !ok {
		return nil
	}
	fp := &fastPath{}
	n, ok := fp.compile(sx)
	if !ok || n.t != tNum {
		return nil
	}
	fp.root = n.num
	return fp
}

// compile translates e; a subexpression that reads no attribute is
// evaluated once, by HCL, and becomes a constant.
func (fp *fastPath) compile(e hclsyntax.Expression) (node, bool) {
	n, ok := fp.compileNode(e)
	if !ok {
		return node{}, false
	}
	if len(e.Variables()) == 0 {
		if k, ok := constant(e); ok {
			return k, true
		}
	}
	return n, true
}

// compileNode translates the constructs of the fast path: literals, literal
// strings, attribute references, parentheses, the arithmetic, comparison
// and logical operators, conditionals and calls of the policy functions,
// each with operands of the types HCL requires without conversion.
func (fp *fastPath) compileNode(e hclsyntax.Expression) (node, bool) {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return constant(e)
	case *hclsyntax.TemplateExpr:
		for _, p := range e.Parts {
			if _, ok := p.(*hclsyntax.LiteralValueExpr); !ok {
				return node{}, false
			}
		}
		return constant(e)
	case *hclsyntax.TemplateWrapExpr:
		return fp.compile(e.Wrapped)
	case *hclsyntax.ParenthesesExpr:
		return fp.compile(e.Expression)
	case *hclsyntax.ScopeTraversalExpr:
		if len(e.Traversal) != 1 {
			return node{}, false
		}
		root, ok := e.Traversal[0].(hcl.TraverseRoot)
		if !ok {
			return node{}, false
		}
		if i, ok := numSlots[root.Name]; ok {
			return node{t: tNum, num: func(fr *frame) (float64, float64) { return fr.num[i], 0 },
				leaf: operand{kind: opSlot, slot: i}}, true
		}
		if i, ok := strSlots[root.Name]; ok {
			fp.strs[i] = true
			return node{t: tStr, str: func(fr *frame) (string, bool) { return fr.str[i], true }}, true
		}
	case *hclsyntax.UnaryOpExpr:
		x, ok := fp.compile(e.Val)
		if !ok {
			return node{}, false
		}
		switch {
		case e.Op == hclsyntax.OpNegate && x.t == tNum:
			return node{t: tNum, num: negFn(x.num)}, true
		case e.Op == hclsyntax.OpLogicalNot && x.t == tBool:
			return node{t: tBool, b: notFn(x.b)}, true
		}
	case *hclsyntax.BinaryOpExpr:
		l, ok := fp.compile(e.LHS)
		if !ok {
			return node{}, false
		}
		r, ok := fp.compile(e.RHS)
		if !ok {
			return node{}, false
		}
		return binary(e.Op, l, r)
	case *hclsyntax.ConditionalExpr:
		c, ok := fp.compile(e.Condition)
		if !ok || c.t != tBool {
			return node{}, false
		}
		t, ok := fp.compile(e.TrueResult)
		if !ok {
			return node{}, false
		}
		f, ok := fp.compile(e.FalseResult)
		if !ok || f.t != t.t {
			return node{}, false
		}
		return conditional(c.b, t, f), true
	case *hclsyntax.FunctionCallExpr:
		if e.ExpandFinal {
			return node{}, false
		}
		args := make([]operand, len(e.Args))
		for i, a := range e.Args {
			n, ok := fp.compile(a)
			if !ok || n.t != tNum {
				return node{}, false
			}
			args[i] = n.operand()
		}
		var f numFn
		switch {
		case e.Name == "abs" && len(args) == 1:
			f = absFn(args[0])
		case e.Name == "ceil" && len(args) == 1:
			f = roundFn(args[0], math.Ceil)
		case e.Name == "floor" && len(args) == 1:
			f = roundFn(args[0], math.Floor)
		case e.Name == "log" && len(args) == 2:
			f = logFn(args[0], args[1])
		case e.Name == "pow" && len(args) == 2:
			f = powFn(args[0], args[1])
		case e.Name == "max" && len(args) >= 1:
			f = extremeFn(args, true)
		case e.Name == "min" && len(args) >= 1:
			f = extremeFn(args, false)
		default:
			return node{}, false
		}
		return node{t: tNum, num: f}, true
	}
	return node{}, false
}

// constant evaluates e with HCL and returns its value as a constant node.
// It fails for anything but a number a float64 can hold (finite, normal or
// zero), a string or a bool.
func constant(e hclsyntax.Expression) (node, bool) {
	v, diags := e.Value(&hcl.EvalContext{Functions: functions})
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || v.IsMarked() {
		return node{}, false
	}
	switch v.Type() {
	case cty.Number:
		f, err, ok := toFloat(v.AsBigFloat())
		if !ok {
			return node{}, false
		}
		return node{t: tNum, num: func(*frame) (float64, float64) { return f, err },
			leaf: operand{kind: opConst, c: f, ce: err}}, true
	case cty.String:
		s := v.AsString()
		return node{t: tStr, str: func(*frame) (string, bool) { return s, true }}, true
	case cty.Bool:
		b := v.True()
		return node{t: tBool, b: func(*frame) (bool, bool) { return b, true }}, true
	}
	return node{}, false
}

// toFloat returns the float64 nearest to bf and a bound on the distance.
func toFloat(bf *big.Float) (f, e float64, ok bool) {
	if bf.IsInf() {
		return 0, 0, false
	}
	f, acc := bf.Float64()
	if !finite(f) || (f == 0) != (bf.Sign() == 0) || (f != 0 && math.Abs(f) < minNormal) {
		return 0, 0, false
	}
	if acc == big.Exact {
		return f, 0, true
	}
	d := new(big.Float).SetPrec(2048).SetFloat64(f)
	d.Sub(d, bf)
	de, _ := d.Abs(d).Float64()
	return f, inexact(de * grow), true
}

func negFn(x numFn) numFn {
	return func(fr *frame) (float64, float64) {
		a, ea := x(fr)
		return -a, ea
	}
}

func notFn(x boolFn) boolFn {
	return func(fr *frame) (bool, bool) {
		b, ok := x(fr)
		return !b, ok
	}
}

// binary translates a binary operator; ok is false for operand types HCL
// would have to convert.
func binary(op *hclsyntax.Operation, l, r node) (node, bool) {
	arith := l.t == tNum && r.t == tNum
	switch op {
	case hclsyntax.OpAdd:
		if arith {
			return node{t: tNum, num: addFn(l.operand(), r.operand())}, true
		}
	case hclsyntax.OpSubtract:
		if arith {
			return node{t: tNum, num: subFn(l.operand(), r.operand())}, true
		}
	case hclsyntax.OpMultiply:
		if arith {
			return node{t: tNum, num: mulFn(l.operand(), r.operand())}, true
		}
	case hclsyntax.OpDivide:
		if arith {
			return node{t: tNum, num: divFn(l.operand(), r.operand())}, true
		}
	case hclsyntax.OpModulo:
		if arith {
			return node{t: tNum, num: modFn(l.operand(), r.operand())}, true
		}
	case hclsyntax.OpLessThan:
		if arith {
			return node{t: tBool, b: orderFn(l.operand(), r.operand(), lessThan)}, true
		}
	case hclsyntax.OpLessThanOrEqual:
		if arith {
			return node{t: tBool, b: orderFn(l.operand(), r.operand(), lessOrEqual)}, true
		}
	case hclsyntax.OpGreaterThan:
		if arith {
			return node{t: tBool, b: orderFn(r.operand(), l.operand(), lessThan)}, true
		}
	case hclsyntax.OpGreaterThanOrEqual:
		if arith {
			return node{t: tBool, b: orderFn(r.operand(), l.operand(), lessOrEqual)}, true
		}
	case hclsyntax.OpEqual:
		return node{t: tBool, b: equalFn(l, r, false)}, true
	case hclsyntax.OpNotEqual:
		return node{t: tBool, b: equalFn(l, r, true)}, true
	case hclsyntax.OpLogicalAnd:
		if l.t == tBool && r.t == tBool {
			return node{t: tBool, b: andFn(l.b, r.b)}, true
		}
	case hclsyntax.OpLogicalOr:
		if l.t == tBool && r.t == tBool {
			return node{t: tBool, b: orFn(l.b, r.b)}, true
		}
	}
	return node{}, false
}

// addFn and subFn: HCL rounds the sum of its operands to at least 53 bits.
func addFn(l, r operand) numFn {
	return func(fr *frame) (float64, float64) {
		a, ea := l.eval(fr)
		b, eb := r.eval(fr)
		return sum(a, ea, b, eb)
	}
}

func subFn(l, r operand) numFn {
	return func(fr *frame) (float64, float64) {
		a, ea := l.eval(fr)
		b, eb := r.eval(fr)
		return sum(a, ea, -b, eb)
	}
}

func sum(a, ea, b, eb float64) (float64, float64) {
	s := a + b
	if !finite(s) {
		return nan, 0
	}
	if ea == 0 && eb == 0 {
		// TwoSum: the rounding error of a+b, exactly.
		z := s - a
		if (a-(s-z))+(b-z) == 0 {
			return s, 0
		}
	}
	return s, inexact((ea+eb)*grow + rnd*math.Abs(s))
}

// mulFn: HCL keeps the exact product up to 512 bits, else rounds it to at
// least 53.
func mulFn(l, r operand) numFn {
	return func(fr *frame) (float64, float64) {
		a, ea := l.eval(fr)
		b, eb := r.eval(fr)
		p := a * b
		if !finite(p) {
			return nan, 0
		}
		if p == 0 {
			if a != 0 && b != 0 { // underflow
				return nan, 0
			}
		} else if math.Abs(p) < minNormal {
			return nan, 0
		}
		if ea == 0 && eb == 0 && (p == 0 || math.Abs(p) >= tiny && math.FMA(a, b, -p) == 0) {
			return p, 0
		}
		return p, inexact((math.Abs(a)*eb+math.Abs(b)*ea+ea*eb)*grow + rnd*math.Abs(p))
	}
}

// divFn: a division by zero yields an infinity (or fails) in HCL; the fast
// path leaves it to HCL.
func divFn(l, r operand) numFn {
	return func(fr *frame) (float64, float64) {
		a, ea := l.eval(fr)
		b, eb := r.eval(fr)
		q := a / b
		if !finite(q) {
			return nan, 0
		}
		if q == 0 {
			if a != 0 { // underflow
				return nan, 0
			}
		} else if math.Abs(q) < minNormal {
			return nan, 0
		}
		if ea == 0 && eb == 0 {
			if a == 0 || math.Abs(a) >= tiny && math.FMA(q, b, -a) == 0 {
				return q, 0
			}
			return q, rnd * math.Abs(q)
		}
		den := math.Abs(b) - eb
		if !(den > 0.5*math.Abs(b)) {
			return nan, 0
		}
		return q, inexact((math.Abs(q)*eb+ea)/den*grow + rnd*math.Abs(q))
	}
}

// modFn follows cty: a % 0 is a, otherwise a - b*trunc(a/b). The fast path
// takes exact integers only, for which that is math.Mod up to the sign of a
// zero result.
func modFn(l, r operand) numFn {
	return func(fr *frame) (float64, float64) {
		a, ea := l.eval(fr)
		b, eb := r.eval(fr)
		if ea != 0 || eb != 0 || !finite(a) || !finite(b) {
			return nan, 0
		}
		if b == 0 {
			return a, 0
		}
		if a != math.Trunc(a) || b != math.Trunc(b) || math.Abs(a) >= 1<<52 || math.Abs(b) >= 1<<52 {
			return nan, 0
		}
		m := math.Mod(a, b)
		if m == 0 {
			// cty computes a - b*t: +0 unless a is -0 and b positive.
			m = 0
			if a == 0 && math.Signbit(a) && b > 0 {
				m = math.Copysign(0, -1)
			}
		}
		return m, 0
	}
}

// numOrder compares HCL's values of two numbers: -1, +1, or 0 when both are
// exact and equal; ok is false when the bounds cannot settle it.
func numOrder(a, ea, b, eb float64) (c int, ok bool) {
	if a != a || b != b {
		return 0, false
	}
	if ea == 0 && eb == 0 {
		switch {
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		}
		return 0, true
	}
	ra, rb := radius(a, ea), radius(b, eb)
	switch {
	case a+ra < b-rb:
		return -1, true
	case a-ra > b+rb:
		return 1, true
	}
	return 0, false
}

// sameText reports, for an exact value that equals another exact value,
// whether cty's == finds them equal. cty compares integers by value and
// other numbers by their shortest decimal text at their own precision, so
// equal values of different precisions can differ. A value with at most 10
// fractional bits and 5 integer digits prints exactly at every precision.
func sameText(a float64) (eq, ok bool) {
	if a == math.Trunc(a) {
		return true, true
	}
	if s := a * 1024; s == math.Trunc(s) && math.Abs(a) < 1<<16 {
		return true, true
	}
	return false, false
}

// numEqual is cty's == on numbers. Numbers whose intervals do not meet
// differ by more than their last printed digit, so they differ for cty.
func numEqual(a, ea, b, eb float64) (eq, ok bool) {
	c, ok := numOrder(a, ea, b, eb)
	if !ok {
		return false, false
	}
	if c != 0 {
		return false, true
	}
	return sameText(a)
}

type orderOp uint8

const (
	lessThan orderOp = iota
	lessOrEqual
)

// orderFn is a < b or a <= b; cty's <= is < or ==.
func orderFn(l, r operand, op orderOp) boolFn {
	return func(fr *frame) (bool, bool) {
		a, ea := l.eval(fr)
		b, eb := r.eval(fr)
		c, ok := numOrder(a, ea, b, eb)
		if !ok {
			return false, false
		}
		switch {
		case c < 0:
			return true, true
		case c > 0:
			return false, true
		case op == lessThan:
			return false, true
		}
		return sameText(a)
	}
}

// equalFn is == (or != when negate): values of different types are never
// equal, but both operands are still evaluated, as HCL does.
func equalFn(l, r node, negate bool) boolFn {
	var eq boolFn
	switch {
	case l.t == tNum && r.t == tNum:
		lo, ro := l.operand(), r.operand()
		eq = func(fr *frame) (bool, bool) {
			a, ea := lo.eval(fr)
			b, eb := ro.eval(fr)
			return numEqual(a, ea, b, eb)
		}
	case l.t == tStr && r.t == tStr:
		eq = func(fr *frame) (bool, bool) {
			a, ok := l.str(fr)
			if !ok {
				return false, false
			}
			b, ok := r.str(fr)
			return a == b, ok
		}
	case l.t == tBool && r.t == tBool:
		eq = func(fr *frame) (bool, bool) {
			a, ok := l.b(fr)
			if !ok {
				return false, false
			}
			b, ok := r.b(fr)
			return a == b, ok
		}
	default:
		lok, rok := evaluates(l), evaluates(r)
		eq = func(fr *frame) (bool, bool) { return false, lok(fr) && rok(fr) }
	}
	if !negate {
		return eq
	}
	return func(fr *frame) (bool, bool) {
		b, ok := eq(fr)
		return !b, ok
	}
}

// evaluates returns whether the fast path can evaluate n for a frame.
func evaluates(n node) func(*frame) bool {
	switch n.t {
	case tNum:
		return func(fr *frame) bool { v, _ := n.num(fr); return v == v }
	case tBool:
		return func(fr *frame) bool { _, ok := n.b(fr); return ok }
	}
	return func(fr *frame) bool { _, ok := n.str(fr); return ok }
}

// andFn and orFn: HCL evaluates both operands but a known false (true)
// left operand decides && (||) whatever the right one is, errors included.
func andFn(l, r boolFn) boolFn {
	return func(fr *frame) (bool, bool) {
		a, ok := l(fr)
		if !ok || !a {
			return false, ok
		}
		return r(fr)
	}
}

func orFn(l, r boolFn) boolFn {
	return func(fr *frame) (bool, bool) {
		a, ok := l(fr)
		if !ok || a {
			return a, ok
		}
		return r(fr)
	}
}

// conditional: HCL evaluates both results but reports only the chosen one's
// errors; both have type t.t, so no conversion applies.
func conditional(c boolFn, t, f node) node {
	switch t.t {
	case tNum:
		return node{t: tNum, num: func(fr *frame) (float64, float64) {
			b, ok := c(fr)
			if !ok {
				return nan, 0
			}
			if b {
				return t.num(fr)
			}
			return f.num(fr)
		}}
	case tStr:
		return node{t: tStr, str: func(fr *frame) (string, bool) {
			b, ok := c(fr)
			if !ok {
				return "", false
			}
			if b {
				return t.str(fr)
			}
			return f.str(fr)
		}}
	}
	return node{t: tBool, b: func(fr *frame) (bool, bool) {
		b, ok := c(fr)
		if !ok {
			return false, false
		}
		if b {
			return t.b(fr)
		}
		return f.b(fr)
	}}
}

func absFn(x operand) numFn {
	return func(fr *frame) (float64, float64) {
		a, ea := x.eval(fr)
		return math.Abs(a), ea
	}
}

// roundFn is floor or ceil: exact in cty, and never -0.
func roundFn(x operand, round func(float64) float64) numFn {
	return func(fr *frame) (float64, float64) {
		a, ea := x.eval(fr)
		if ea == 0 {
			r := round(a)
			if r == 0 {
				r = 0
			}
			return r, 0
		}
		ra := radius(a, ea)
		lo, hi := round(a-ra), round(a+ra)
		if lo != hi {
			return nan, 0
		}
		if lo == 0 {
			lo = 0
		}
		return lo, 0
	}
}

// extremeFn is max (or min): cty returns the first argument that is
// greater (less) than all before it. HCL's result lies between the chosen
// argument's value and the farthest edge of the arguments' intervals.
func extremeFn(args []operand, isMax bool) numFn {
	return func(fr *frame) (float64, float64) {
		var w, ew, edge float64
		for i := range args {
			a, ea := args[i].eval(fr)
			if a != a {
				return nan, 0
			}
			ra := radius(a, ea)
			if isMax {
				if i == 0 || a > w {
					w, ew = a, ea
				}
				if i == 0 || a+ra > edge {
					edge = a + ra
				}
			} else {
				if i == 0 || a < w {
					w, ew = a, ea
				}
				if i == 0 || a-ra < edge {
					edge = a - ra
				}
			}
		}
		e := math.Max(ew, math.Abs(edge-w))
		if e == 0 {
			return w, 0
		}
		return w, inexact(e * grow)
	}
}

// powFn: cty's pow is math.Pow of its arguments rounded to float64. With
// exact arguments that is the fast path's result exactly. Otherwise HCL's
// arguments lie in a box of positive bases, over which y*ln(x), and so
// pow, is extreme at the corners; the bound adds math.Pow's own error.
func powFn(x, y operand) numFn {
	return func(fr *frame) (float64, float64) {
		a, ea := x.eval(fr)
		b, eb := y.eval(fr)
		if a != a || b != b { // Pow(NaN, 0) is 1
			return nan, 0
		}
		r := math.Pow(a, b)
		if !finite(r) {
			return nan, 0
		}
		if ea == 0 && eb == 0 {
			return r, 0
		}
		ra, rb := radius(a, ea), radius(b, eb)
		if !(a-ra > 0) || r < tiny {
			return nan, 0
		}
		var dev, top float64
		for _, ca := range [2]float64{a - ra, a + ra} {
			for _, cb := range [2]float64{b - rb, b + rb} {
				c := math.Pow(ca, cb)
				if !finite(c) || c < tiny {
					return nan, 0
				}
				dev, top = math.Max(dev, math.Abs(c-r)), math.Max(top, c)
			}
		}
		lnx := math.Max(math.Abs(math.Log(a-ra)), math.Abs(math.Log(a+ra)))
		return r, inexact((dev + 2*powErr(math.Abs(b)+rb, lnx)*top) * grow)
	}
}

// powErr bounds the relative error of math.Pow(x, y) for |y| <= y and
// |ln x| <= lnx: it squares x repeatedly, which doubles the error each
// time, and takes the fraction of y through Exp(yf*Log(x)).
func powErr(y, lnx float64) float64 { return (4*y + 2*lnx + 80) * u }

// logFn: cty's log is math.Log(num)/math.Log(base) of its arguments rounded
// to float64. Over a box of positive numbers whose bases stay on one side
// of 1, that quotient is extreme at the corners; math.Log is within an ulp.
func logFn(x, base operand) numFn {
	return func(fr *frame) (float64, float64) {
		a, ea := x.eval(fr)
		b, eb := base.eval(fr)
		if a != a || b != b {
			return nan, 0
		}
		r := math.Log(a) / math.Log(b)
		if !finite(r) {
			return nan, 0
		}
		if ea == 0 && eb == 0 {
			return r, 0
		}
		ra, rb := radius(a, ea), radius(b, eb)
		if !(a-ra > 0) || !(b-rb > 0) || !(b-rb > 1 || b+rb < 1) {
			return nan, 0
		}
		var dev, top float64
		for _, ca := range [2]float64{a - ra, a + ra} {
			for _, cb := range [2]float64{b - rb, b + rb} {
				c := math.Log(ca) / math.Log(cb)
				if !finite(c) {
					return nan, 0
				}
				dev, top = math.Max(dev, math.Abs(c-r)), math.Max(top, math.Abs(c))
			}
		}
		return r, inexact((dev + 16*u*top + 8*u*math.Abs(r)) * grow)
	}
}
