package model

import (
	"errors"
	"strings"
	"testing"
)

func validRisk() Risk {
	return Risk{Title: "t", Kind: Threat, Likelihood: 3, Impact: 3, Effort: 1, Status: Proposed}
}

func TestRiskValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Risk)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*Risk) {}, ""},
		{"opportunity with process", func(r *Risk) { r.Kind, r.Process = Opportunity, Improve }, ""},
		{"zero effort", func(r *Risk) { r.Effort = 0 }, ""},
		{"likelihood 1 and impact 5", func(r *Risk) { r.Likelihood, r.Impact = 1, 5 }, ""},
		{"no title", func(r *Risk) { r.Title = "  " }, "title: is required"},
		{"likelihood 0", func(r *Risk) { r.Likelihood = 0 }, "likelihood: must be 1 to 5, not 0"},
		{"likelihood 6", func(r *Risk) { r.Likelihood = 6 }, "likelihood: must be 1 to 5, not 6"},
		{"impact 6", func(r *Risk) { r.Impact = 6 }, "impact: must be 1 to 5, not 6"},
		{"negative effort", func(r *Risk) { r.Effort = -0.5 }, "effort: must be 0 or more, not -0.5"},
		{"bad kind", func(r *Risk) { r.Kind = "issue" }, `kind: must be threat or opportunity, not "issue"`},
		{"bad process", func(r *Risk) { r.Process = "deploy" }, `process: must be one of agree, change, recover, operate, improve (or empty), not "deploy"`},
		{"bad status", func(r *Risk) { r.Status = "done" }, `status: must be one of proposed, accepted, planned, in_progress, realized, rejected, not "done"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validRisk()
			tc.mutate(&r)
			err := r.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRiskValidateReportsEveryField(t *testing.T) {
	r := Risk{Kind: "x", Likelihood: 9, Impact: 0, Effort: -1, Status: "y"}
	err := r.Validate()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *FieldError", e)
		}
		fields = append(fields, fe.Field)
	}
	if got := strings.Join(fields, ","); got != "title,kind,likelihood,impact,effort,status" {
		t.Fatalf("fields %s", got)
	}
}

func TestCheckTransition(t *testing.T) {
	legal := map[[2]Status]bool{
		{Proposed, Accepted}: true, {Proposed, Rejected}: true,
		{Accepted, Planned}: true, {Accepted, Rejected}: true,
		{Planned, InProgress}: true, {Planned, Accepted}: true, {Planned, Rejected}: true,
		{InProgress, Realized}: true, {InProgress, Accepted}: true, {InProgress, Rejected}: true,
		{Rejected, Proposed}: true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			err := CheckTransition(from, to)
			want := from == to || legal[[2]Status{from, to}]
			if want && err != nil {
				t.Errorf("%s → %s: unexpected error %v", from, to, err)
			}
			if !want {
				if err == nil {
					t.Errorf("%s → %s: want an error", from, to)
					continue
				}
				if !errors.Is(err, ErrTransition) || !strings.Contains(err.Error(), "from "+string(from)+" to "+string(to)) {
					t.Errorf("%s → %s: error %q must name both states", from, to, err)
				}
			}
		}
	}
	if err := CheckTransition(Realized, Rejected); err == nil || !strings.Contains(err.Error(), "realized is final") {
		t.Errorf("realized → rejected: %v", err)
	}
	if err := CheckTransition(Proposed, "done"); err == nil || !strings.Contains(err.Error(), `unknown status "done"`) {
		t.Errorf("unknown target: %v", err)
	}
}

func TestSprintValidate(t *testing.T) {
	for _, tc := range []struct {
		s    Sprint
		want string
	}{
		{Sprint{Start: "2026-12-01", End: "2026-12-14", Capacity: 10}, ""},
		{Sprint{Start: "2026-12-01", End: "2026-12-01", Capacity: 0.5}, ""},
		{Sprint{Start: "1 dec", End: "2026-12-14", Capacity: 10}, `start: must be a date YYYY-MM-DD, not "1 dec"`},
		{Sprint{Start: "2026-12-14", End: "2026-12-01", Capacity: 10}, "end: 2026-12-01 is before the start 2026-12-14"},
		{Sprint{Start: "2026-12-01", End: "2026-12-14", Capacity: 0}, "capacity: must be more than 0"},
	} {
		err := tc.s.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: error %v, want %q", tc.s, err, tc.want)
		}
	}
}

func TestScanValidateAndComparable(t *testing.T) {
	ok := Scan{Kind: Baseline, Method: "USM scan", MethodVersion: "2", TakenOn: "2026-09-01",
		Scores: []ScanScore{{Dimension: "agree", Score: 2}, {Dimension: "change", Score: 3}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	dup := ok
	dup.Scores = append([]ScanScore{}, ok.Scores...)
	dup.Scores = append(dup.Scores, ScanScore{Dimension: "agree", Score: 1})
	if err := dup.Validate(); err == nil || !strings.Contains(err.Error(), `"agree" is scored twice`) {
		t.Errorf("duplicate dimension: %v", err)
	}
	bad := Scan{Kind: "midterm"}
	err := bad.Validate()
	for _, want := range []string{"kind: must be baseline or progress", "method: is required", "method_version: is required", "date: must be a date", "scores: a scan needs at least one dimension"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("empty scan: %v lacks %q", err, want)
		}
	}
	p := ok
	p.Kind, p.MethodVersion = Progress, "3"
	if err := Comparable(ok, p); err == nil || !strings.Contains(err.Error(), "the baseline used USM scan 2, this scan USM scan 3") {
		t.Errorf("comparable: %v", err)
	}
	p.MethodVersion = "2"
	if err := Comparable(ok, p); err != nil {
		t.Errorf("same method: %v", err)
	}
	// A progress scan dated before the baseline is refused (it used to be
	// stored, and then hid the baseline); on the baseline's day it is fine.
	p.TakenOn = "2026-08-31"
	if err := Comparable(ok, p); err == nil || err.Error() != "the scan is dated 2026-08-31, before the baseline of 2026-09-01: a progress scan measures what changed since the baseline; check its date" {
		t.Errorf("a progress scan before the baseline: %v", err)
	}
}

func TestVoteValidate(t *testing.T) {
	if err := (&Vote{Voter: "ann", Weight: 1}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := (&Vote{Voter: " ", Weight: 0}).Validate()
	if err == nil || !strings.Contains(err.Error(), "voter: is required") || !strings.Contains(err.Error(), "weight: must be 1 or more, not 0") {
		t.Fatalf("bad vote: %v", err)
	}
}
