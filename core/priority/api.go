// Package priority is the prioritisation mechanism USM asks to fix before the
// first improvement sprint: a policy written as an HCL expression over a
// risk's attributes, compiled once when the config loads, and the choice of
// a sprint's risks by that policy within a capacity.
//
// Score evaluates the policy with HCL's own evaluator and remembers each
// score by the attributes the policy reads, which risks largely share: a
// sprint plan over 100k risks is dominated by reading the store, not by
// scoring (see docs/BENCHMARKS.md).
//
// It reads risks (core/model) but never stores anything.
package priority

import "github.com/usmhub/usmhub/core/model"

// Inputs are the attributes a policy expression may use. Kind, Process and
// Source are strings (empty when unset); AgeDays counts whole days since the
// risk was created.
type Inputs struct {
	Likelihood int
	Impact     int
	Effort     float64
	Votes      int
	Kind       string
	Process    string
	Source     string
	AgeDays    int
}

// Candidate is a risk with its score under a policy.
type Candidate struct {
	Risk  model.Risk
	Score float64
}
