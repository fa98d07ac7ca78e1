// Package model holds usmhub's canonical USM types — initiatives, risks,
// sprints, scans, votes and trainings — and their validation rules.
//
// It owns the vocabulary every other package speaks and performs no I/O:
// no files, no database, no network. Storage lives in core/store, the
// priority policy in core/priority, and connectors only ever see these types
// through the plugin SDK.
package model

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// DateLayout is the layout of calendar dates (sprint start/end, scan dates,
// training dates, commitment dates) everywhere in usmhub.
const DateLayout = "2006-01-02"

// Kind tells whether a risk is a threat to reduce or an opportunity to take.
type Kind string

// The two kinds of risk USM knows.
const (
	Threat      Kind = "threat"
	Opportunity Kind = "opportunity"
)

// Kinds lists every valid Kind in display order.
var Kinds = []Kind{Threat, Opportunity}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == Threat || k == Opportunity }

// Process is one of USM's five processes, which a risk may improve.
type Process string

// USM's process model.
const (
	Agree   Process = "agree"
	Change  Process = "change"
	Recover Process = "recover"
	Operate Process = "operate"
	Improve Process = "improve"
)

// Processes lists every valid Process in USM order.
var Processes = []Process{Agree, Change, Recover, Operate, Improve}

// Valid reports whether p is empty (untagged) or one of USM's processes.
func (p Process) Valid() bool {
	if p == "" {
		return true
	}
	for _, q := range Processes {
		if p == q {
			return true
		}
	}
	return false
}

// Status is where a risk stands in the improvement flow.
type Status string

// The risk status flow: proposed → accepted → planned → in_progress →
// realized, and rejected from any state but realized.
const (
	Proposed   Status = "proposed"
	Accepted   Status = "accepted"
	Planned    Status = "planned"
	InProgress Status = "in_progress"
	Realized   Status = "realized"
	Rejected   Status = "rejected"
)

// Statuses lists every valid Status in flow order.
var Statuses = []Status{Proposed, Accepted, Planned, InProgress, Realized, Rejected}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, t := range Statuses {
		if s == t {
			return true
		}
	}
	return false
}

// transitions lists, per status, the statuses it may move to. Planned and
// in_progress may fall back to accepted: a closed sprint returns the risks it
// did not realise to the pool. A rejected risk may be proposed again.
var transitions = map[Status][]Status{
	Proposed:   {Accepted, Rejected},
	Accepted:   {Planned, Rejected},
	Planned:    {InProgress, Accepted, Rejected},
	InProgress: {Realized, Accepted, Rejected},
	Realized:   {},
	Rejected:   {Proposed},
}

// ErrTransition is wrapped by every illegal status transition error.
var ErrTransition = errors.New("illegal status transition")

// CheckTransition returns nil when a risk may move from one status to the
// other (staying put is always allowed), and otherwise an error naming both.
func CheckTransition(from, to Status) error {
	if !to.Valid() {
		return fmt.Errorf("unknown status %q (one of %s)", to, joinStatuses(Statuses))
	}
	if from == to {
		return nil
	}
	for _, t := range transitions[from] {
		if t == to {
			return nil
		}
	}
	allowed := transitions[from]
	hint := "none: realized is final"
	if len(allowed) > 0 {
		hint = joinStatuses(allowed)
	}
	return fmt.Errorf("%w from %s to %s (from %s a risk may move to: %s)", ErrTransition, from, to, from, hint)
}

func joinStatuses(ss []Status) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// Initiative is an improvement initiative: management's visible commitment
// (scope, rationale, approach, sponsor, date), and the structure with
// resources (lead, team, sprint capacity). It is declared in the config.
type Initiative struct {
	Key            string     `json:"key"`
	Name           string     `json:"name"`
	Scope          string     `json:"scope,omitempty"`
	Rationale      string     `json:"rationale,omitempty"`
	Approach       string     `json:"approach,omitempty"`
	Sponsor        string     `json:"sponsor,omitempty"`
	CommittedOn    string     `json:"committed_on,omitempty"`
	Lead           string     `json:"lead,omitempty"`
	Team           []string   `json:"team,omitempty"`
	SprintCapacity float64    `json:"sprint_capacity,omitempty"`
	SoundingBoard  []string   `json:"sounding_board,omitempty"`
	Priority       string     `json:"priority,omitempty"`
	Training       []Training `json:"training,omitempty"`
}

// Training records that a person followed a course (USM Foundation,
// Professional, or an internal one) on a date.
type Training struct {
	Person string `json:"person"`
	Course string `json:"course"`
	Date   string `json:"date"`
}

// Risk is one improvement: a threat or an opportunity in the risk database.
// ID is a UUID (the hub marker written into remote records); Key is the human
// key (R-1, R-2, …). Votes is the sum of the weights of its current votes.
// Version increases with every stored change (optimistic concurrency).
type Risk struct {
	ID          string    `json:"id"`
	Key         string    `json:"key"`
	Initiative  string    `json:"initiative"`
	Kind        Kind      `json:"kind"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Process     Process   `json:"process,omitempty"`
	Source      string    `json:"source,omitempty"`
	Likelihood  int       `json:"likelihood"`
	Impact      int       `json:"impact"`
	Effort      float64   `json:"effort"`
	Owner       string    `json:"owner,omitempty"`
	Status      Status    `json:"status"`
	Votes       int       `json:"votes"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// The values of a new risk's fields that neither a person, a file nor a
// tool gave.
const (
	DefaultKind       = Threat
	DefaultLikelihood = 3
	DefaultImpact     = 3
	DefaultEffort     = 1.0
	DefaultStatus     = Proposed
)

// NewRisk is a risk of the initiative with every default set.
func NewRisk(initiative string) Risk {
	return Risk{Initiative: initiative, Kind: DefaultKind, Likelihood: DefaultLikelihood, Impact: DefaultImpact,
		Effort: DefaultEffort, Status: DefaultStatus}
}

// FieldError is a validation error on one named field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks a risk's own fields (not its transition history). It
// returns every problem found, joined, each a *FieldError.
func (r *Risk) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(r.Title) == "" {
		add("title", "is required")
	}
	if !r.Kind.Valid() {
		add("kind", "must be threat or opportunity, not %q", r.Kind)
	}
	if !r.Process.Valid() {
		add("process", "must be one of agree, change, recover, operate, improve (or empty), not %q", r.Process)
	}
	if r.Likelihood < 1 || r.Likelihood > 5 {
		add("likelihood", "must be 1 to 5, not %d", r.Likelihood)
	}
	if r.Impact < 1 || r.Impact > 5 {
		add("impact", "must be 1 to 5, not %d", r.Impact)
	}
	if r.Effort < 0 || math.IsNaN(r.Effort) || math.IsInf(r.Effort, 0) {
		add("effort", "must be 0 or more, not %g", r.Effort)
	}
	if !r.Status.Valid() {
		add("status", "must be one of %s, not %q", joinStatuses(Statuses), r.Status)
	}
	return errors.Join(errs...)
}

// OneLine is err with its lines joined by "; ": the problems Validate
// joins one a line, for a message that must stay on one line (nil stays
// nil). The result keeps the text, not the error chain.
func OneLine(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
}

// Vote is one sounding-board member's vote on a risk. A voter has at most one
// vote per risk; Weight is at least 1.
type Vote struct {
	RiskID string    `json:"risk_id"`
	Voter  string    `json:"voter"`
	Weight int       `json:"weight"`
	CastAt time.Time `json:"cast_at"`
}

// Validate checks a vote's fields.
func (v *Vote) Validate() error {
	var errs []error
	if strings.TrimSpace(v.Voter) == "" {
		errs = append(errs, &FieldError{Field: "voter", Msg: "is required"})
	}
	if v.Weight < 1 {
		errs = append(errs, &FieldError{Field: "weight", Msg: fmt.Sprintf("must be 1 or more, not %d", v.Weight)})
	}
	return errors.Join(errs...)
}

// SprintStatus is where an improvement sprint stands.
type SprintStatus string

// Sprint statuses: planned, then active once started, then closed.
const (
	SprintPlanned SprintStatus = "planned"
	SprintActive  SprintStatus = "active"
	SprintClosed  SprintStatus = "closed"
)

// Sprint is an improvement sprint of an initiative: a small step whose items
// were chosen by the priority policy. Policy holds the policy's text at the
// moment of planning; each item holds the score it had then.
type Sprint struct {
	ID         string       `json:"id"`
	Initiative string       `json:"initiative"`
	Number     int          `json:"number"`
	Goal       string       `json:"goal,omitempty"`
	Start      string       `json:"start"`
	End        string       `json:"end"`
	Capacity   float64      `json:"capacity"`
	Used       float64      `json:"used"`
	Status     SprintStatus `json:"status"`
	Policy     string       `json:"policy"`
	Items      []SprintItem `json:"items"`
	Version    int64        `json:"version"`
	CreatedAt  time.Time    `json:"created_at"`
}

// SprintItem is one risk chosen for a sprint, with its score and effort at
// the moment it was chosen.
type SprintItem struct {
	RiskID string  `json:"risk_id"`
	Key    string  `json:"key"`
	Title  string  `json:"title,omitempty"`
	Score  float64 `json:"score"`
	Effort float64 `json:"effort"`
}

// Validate checks a sprint's dates and capacity.
func (s *Sprint) Validate() error {
	var errs []error
	start, err1 := time.Parse(DateLayout, s.Start)
	if err1 != nil {
		errs = append(errs, &FieldError{Field: "start", Msg: fmt.Sprintf("must be a date YYYY-MM-DD, not %q", s.Start)})
	}
	end, err2 := time.Parse(DateLayout, s.End)
	if err2 != nil {
		errs = append(errs, &FieldError{Field: "end", Msg: fmt.Sprintf("must be a date YYYY-MM-DD, not %q", s.End)})
	}
	if err1 == nil && err2 == nil && end.Before(start) {
		errs = append(errs, &FieldError{Field: "end", Msg: fmt.Sprintf("%s is before the start %s", s.End, s.Start)})
	}
	if s.Capacity <= 0 {
		errs = append(errs, &FieldError{Field: "capacity", Msg: fmt.Sprintf("must be more than 0, not %g", s.Capacity)})
	}
	return errors.Join(errs...)
}

// ScanKind tells a baseline scan (the starting point) from a progress scan.
type ScanKind string

// The two kinds of scan.
const (
	Baseline ScanKind = "baseline"
	Progress ScanKind = "progress"
)

// Scan is a measurement of an initiative's situation with a method (and its
// version), as scores per dimension. Progress scans are only comparable with
// a baseline of the same method and version.
type Scan struct {
	ID            string      `json:"id"`
	Initiative    string      `json:"initiative"`
	Kind          ScanKind    `json:"kind"`
	Method        string      `json:"method"`
	MethodVersion string      `json:"method_version"`
	TakenOn       string      `json:"taken_on"`
	Scores        []ScanScore `json:"scores"`
	Findings      []string    `json:"findings,omitempty"`
	CreatedAt     time.Time   `json:"created_at"`
}

// ScanScore is a scan's score on one dimension.
type ScanScore struct {
	Dimension   string  `json:"dimension"`
	Score       float64 `json:"score"`
	Respondents int     `json:"respondents,omitempty"`
	Note        string  `json:"note,omitempty"`
}

// Validate checks a scan's fields and that no dimension is scored twice.
func (s *Scan) Validate() error {
	var errs []error
	if s.Kind != Baseline && s.Kind != Progress {
		errs = append(errs, &FieldError{Field: "kind", Msg: fmt.Sprintf("must be baseline or progress, not %q", s.Kind)})
	}
	if strings.TrimSpace(s.Method) == "" {
		errs = append(errs, &FieldError{Field: "method", Msg: "is required"})
	}
	if strings.TrimSpace(s.MethodVersion) == "" {
		errs = append(errs, &FieldError{Field: "method_version", Msg: "is required"})
	}
	if _, err := time.Parse(DateLayout, s.TakenOn); err != nil {
		errs = append(errs, &FieldError{Field: "date", Msg: fmt.Sprintf("must be a date YYYY-MM-DD, not %q", s.TakenOn)})
	}
	if len(s.Scores) == 0 {
		errs = append(errs, &FieldError{Field: "scores", Msg: "a scan needs at least one dimension"})
	}
	seen := map[string]bool{}
	for _, sc := range s.Scores {
		if strings.TrimSpace(sc.Dimension) == "" {
			errs = append(errs, &FieldError{Field: "dimension", Msg: "is required"})
		}
		if seen[sc.Dimension] {
			errs = append(errs, &FieldError{Field: "dimension", Msg: fmt.Sprintf("%q is scored twice", sc.Dimension)})
		}
		seen[sc.Dimension] = true
		if sc.Respondents < 0 {
			errs = append(errs, &FieldError{Field: "respondents", Msg: "must be 0 or more"})
		}
	}
	return errors.Join(errs...)
}

// Comparable returns nil when a progress scan may be compared with the
// baseline (the same method and version, dated on or after it), and
// otherwise the reason it may not.
func Comparable(baseline, progress Scan) error {
	if baseline.Method != progress.Method || baseline.MethodVersion != progress.MethodVersion {
		return fmt.Errorf("progress scans must use the baseline's method: the baseline used %s %s, this scan %s %s",
			baseline.Method, baseline.MethodVersion, progress.Method, progress.MethodVersion)
	}
	if progress.TakenOn < baseline.TakenOn { // both YYYY-MM-DD (Validate)
		return fmt.Errorf("the scan is dated %s, before the baseline of %s: a progress scan measures what changed since the baseline; check its date",
			progress.TakenOn, baseline.TakenOn)
	}
	return nil
}

// AuditEntry is one recorded change of one field of one entity.
type AuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	RunID    string    `json:"run_id,omitempty"`
	Entity   string    `json:"entity"`
	EntityID string    `json:"entity_id"`
	Field    string    `json:"field"`
	Old      string    `json:"old"`
	New      string    `json:"new"`
}
