// Package priority is the prioritisation mechanism USM asks to fix before the
// first improvement sprint: a policy written as an HCL expression over a
// risk's attributes, compiled once when the config loads, and the choice of
// a sprint's risks by that policy within a capacity.
//
// Compile also translates a native-syntax policy into Go closures, so that
// Score can rank 100k risks in well under a second. A policy or a risk the
// closures cannot score as HCL does is scored by HCL: either way Score gives
// the same errors, and scores equal to HCL's or, after inexact arithmetic
// such as 1/3, within a relative 1e-12 of them.
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
