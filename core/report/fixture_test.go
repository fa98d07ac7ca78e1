package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// seeder is the part of store.Tx the fixture writes through, so that the
// same data goes into the SQLite store and into memStore.
type seeder interface {
	CreateRisk(r *model.Risk) error
	CastVote(v model.Vote) error
	CreateSprint(s *model.Sprint) error
	CreateScan(s *model.Scan) error
}

// riskID is the fixed UUID of the fixture's risk R-n.
func riskID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// seed writes the fixed dataset of the golden tests: initiative "ssc" with
// risks, votes, two sprints and scans; "ops" with a baseline and a scan of
// another method version; "fm_new" with nothing at all.
func seed(s seeder, cfg *config.Config) error {
	policy := cfg.Policy("ssc").Policy.Text
	risks := []model.Risk{
		{Kind: model.Threat, Title: "Password resets bounce between IT and facility desk", Process: model.Agree, Likelihood: 4, Impact: 4, Effort: 2, Status: model.Realized, Owner: "Sara"},
		{Kind: model.Opportunity, Title: "Self-service portal for room bookings", Process: model.Change, Likelihood: 3, Impact: 4, Effort: 3, Status: model.InProgress},
		{Kind: model.Threat, Title: "Escalations | no owner after 17:00", Process: model.Recover, Likelihood: 5, Impact: 3, Effort: 1, Status: model.Planned, Owner: "Pieter"},
		{Kind: model.Threat, Title: "Changes deployed without a rollback plan", Process: model.Change, Likelihood: 4, Impact: 5, Effort: 5, Status: model.Accepted},
		{Kind: model.Opportunity, Title: "Shared knowledge base\nfor both desks", Process: model.Improve, Likelihood: 3, Impact: 3, Effort: 2, Status: model.Accepted},
		{Kind: model.Threat, Title: "Monitoring alerts nobody reads", Process: model.Operate, Likelihood: 2, Impact: 4, Effort: 1, Status: model.Proposed},
		{Kind: model.Threat, Title: "Double registration of assets", Likelihood: 3, Impact: 2, Effort: 0, Status: model.Proposed},
		{Kind: model.Opportunity, Title: "Weekly stand-up with the sounding board", Process: model.Improve, Likelihood: 2, Impact: 2, Effort: 1, Status: model.Rejected},
		{Kind: model.Threat, Title: "Supplier contracts expire unnoticed", Process: model.Agree, Likelihood: 4, Impact: 3, Effort: 2, Status: model.Proposed},
		{Kind: model.Threat, Title: "Night shift lacks a runbook", Process: model.Operate, Likelihood: 3, Impact: 4, Effort: 2, Status: model.Accepted},
	}
	for i := range risks {
		r := &risks[i]
		r.ID, r.Key, r.Initiative = riskID(i+1), fmt.Sprintf("R-%d", i+1), "ssc"
		if err := s.CreateRisk(r); err != nil {
			return err
		}
	}
	for _, v := range []model.Vote{
		{RiskID: riskID(5), Voter: "Lotte", Weight: 1},
		{RiskID: riskID(5), Voter: "Youssef", Weight: 1},
		{RiskID: riskID(6), Voter: "Daan", Weight: 2},
	} {
		if err := s.CastVote(v); err != nil {
			return err
		}
	}
	item := func(n int, score float64) model.SprintItem {
		r := risks[n-1]
		return model.SprintItem{RiskID: r.ID, Key: r.Key, Title: r.Title, Score: score, Effort: r.Effort}
	}
	for _, sp := range []model.Sprint{
		{Initiative: "ssc", Number: 1, Goal: "Quick wins at the desks", Start: "2026-09-14", End: "2026-09-25",
			Capacity: 10, Used: 7, Status: model.SprintClosed, Policy: "likelihood * impact / max(effort, 1)",
			Items: []model.SprintItem{item(1, 8), item(4, 4)}},
		{Initiative: "ssc", Number: 2, Goal: "Fewer escalations | better hand-offs", Start: "2026-09-28", End: "2026-10-09",
			Capacity: 10, Used: 5, Status: model.SprintActive, Policy: policy,
			Items: []model.SprintItem{item(3, 15), item(2, 4), item(8, 4)}},
	} {
		if err := s.CreateSprint(&sp); err != nil {
			return err
		}
	}
	for _, sc := range []model.Scan{
		{Initiative: "ssc", Kind: model.Baseline, Method: "USM maturity scan", MethodVersion: "2.0", TakenOn: "2026-09-10",
			Scores: []model.ScanScore{{Dimension: "agree", Score: 2.1}, {Dimension: "change", Score: 2.5},
				{Dimension: "recover", Score: 1.8}, {Dimension: "operate", Score: 3}},
			Findings: []string{"No shared intake between the desks", "Changes | releases are not logged"}},
		{Initiative: "ssc", Kind: model.Progress, Method: "USM maturity scan", MethodVersion: "3.0", TakenOn: "2026-09-30",
			Scores: []model.ScanScore{{Dimension: "agree", Score: 4}}},
		{Initiative: "ssc", Kind: model.Progress, Method: "USM maturity scan", MethodVersion: "2.0", TakenOn: "2026-10-05",
			Scores: []model.ScanScore{{Dimension: "agree", Score: 2.8}, {Dimension: "change", Score: 2.5},
				{Dimension: "recover", Score: 1.6}, {Dimension: "improve", Score: 2}},
			Findings: []string{"Intake is shared since sprint 1", "Recovery still\ndepends on one person"}},
		{Initiative: "ops", Kind: model.Baseline, Method: "Quickscan", MethodVersion: "1", TakenOn: "2026-10-01",
			Scores: []model.ScanScore{{Dimension: "operate", Score: 2.25}, {Dimension: "recover", Score: 3}}},
		{Initiative: "ops", Kind: model.Progress, Method: "Quickscan", MethodVersion: "2", TakenOn: "2026-10-06",
			Scores: []model.ScanScore{{Dimension: "operate", Score: 3}}},
	} {
		if err := s.CreateScan(&sc); err != nil {
			return err
		}
	}
	return nil
}

// memStore is an in-memory store.Reader (and seeder) that behaves like the
// SQLite store for what reports read: risks in creation order, sprints by
// number, scans by date.
type memStore struct {
	// Reader's sync-state methods are never called by reports; embedding
	// the interface (nil) lets memStore implement it without them.
	store.Reader

	risks   []model.Risk
	byRef   map[string]int
	votes   map[string][]model.Vote // by risk ID
	sprints []model.Sprint
	scans   []model.Scan
	clock   time.Time
}

var (
	_ store.Reader = (*memStore)(nil)
	_ seeder       = (*memStore)(nil)
	_ seeder       = (store.Tx)(nil)
)

func newMemStore() *memStore {
	return &memStore{byRef: map[string]int{}, votes: map[string][]model.Vote{},
		clock: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)}
}

// Affects: the fixture's risks name no configuration items.
func (m *memStore) Affects(string) ([]string, error) { return nil, nil }

// Items: the fixture has no BIR.
func (m *memStore) Items(store.ItemFilter, func(model.Item) error) error { return nil }

// CountLinks: the fixture's risks are linked to no tool.
func (m *memStore) CountLinks(string, store.LinkState) (int, error) { return 0, nil }

func (m *memStore) tick() time.Time {
	m.clock = m.clock.Add(time.Minute)
	return m.clock
}

func (m *memStore) CreateRisk(r *model.Risk) error {
	if r.Status == "" {
		r.Status = model.Proposed
	}
	if err := r.Validate(); err != nil {
		return err
	}
	if r.ID == "" {
		r.ID = fmt.Sprintf("mem-%d", len(m.risks)+1)
	}
	if r.Key == "" {
		r.Key = fmt.Sprintf("R-%d", len(m.risks)+1)
	}
	if _, dup := m.byRef[r.Key]; dup {
		return fmt.Errorf("risk %s: %w", r.Key, store.ErrConflict)
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = m.tick()
	}
	r.UpdatedAt, r.Version = r.CreatedAt, 1
	m.byRef[r.ID], m.byRef[r.Key] = len(m.risks), len(m.risks)
	m.risks = append(m.risks, *r)
	return nil
}

func (m *memStore) CastVote(v model.Vote) error {
	i, ok := m.byRef[v.RiskID]
	if !ok {
		return fmt.Errorf("vote on %s: %w", v.RiskID, store.ErrNotFound)
	}
	id := m.risks[i].ID
	vs := slices.DeleteFunc(m.votes[id], func(o model.Vote) bool { return o.Voter == v.Voter })
	v.RiskID = id
	m.votes[id] = append(vs, v)
	total := 0
	for _, o := range m.votes[id] {
		total += o.Weight
	}
	m.risks[i].Votes = total
	return nil
}

func (m *memStore) CreateSprint(s *model.Sprint) error {
	if s.Number == 0 {
		s.Number = 1
		for _, o := range m.sprints {
			if o.Initiative == s.Initiative && o.Number >= s.Number {
				s.Number = o.Number + 1
			}
		}
	}
	s.ID = fmt.Sprintf("sprint-%s-%d", s.Initiative, s.Number)
	s.CreatedAt = m.tick()
	m.sprints = append(m.sprints, *s)
	slices.SortStableFunc(m.sprints, func(a, b model.Sprint) int {
		return cmp.Or(strings.Compare(a.Initiative, b.Initiative), cmp.Compare(a.Number, b.Number))
	})
	return nil
}

func (m *memStore) CreateScan(s *model.Scan) error {
	if err := s.Validate(); err != nil {
		return err
	}
	s.ID = fmt.Sprintf("scan-%d", len(m.scans)+1)
	s.CreatedAt = m.tick()
	m.scans = append(m.scans, *s)
	slices.SortStableFunc(m.scans, func(a, b model.Scan) int { return strings.Compare(a.TakenOn, b.TakenOn) })
	return nil
}

func (m *memStore) Risk(ref string) (model.Risk, error) {
	i, ok := m.byRef[ref]
	if !ok {
		return model.Risk{}, fmt.Errorf("risk %q: %w", ref, store.ErrNotFound)
	}
	return m.risks[i], nil
}

func (m *memStore) RiskByTitle(initiative, title string) (model.Risk, error) {
	for _, r := range m.risks {
		if r.Initiative == initiative && r.Title == title {
			return r, nil
		}
	}
	return model.Risk{}, fmt.Errorf("risk titled %q: %w", title, store.ErrNotFound)
}

func matches(f store.RiskFilter, r *model.Risk) bool {
	return (f.Initiative == "" || r.Initiative == f.Initiative) &&
		(len(f.Statuses) == 0 || slices.Contains(f.Statuses, r.Status)) &&
		(f.Kind == "" || r.Kind == f.Kind) &&
		(f.Process == "" || r.Process == f.Process)
}

func (m *memStore) Risks(f store.RiskFilter, fn func(model.Risk) error) error {
	for i := range m.risks {
		if matches(f, &m.risks[i]) {
			if err := fn(m.risks[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memStore) CountRisks(f store.RiskFilter) (int, error) {
	n := 0
	for i := range m.risks {
		if matches(f, &m.risks[i]) {
			n++
		}
	}
	return n, nil
}

func (m *memStore) Votes(riskID string) ([]model.Vote, error) {
	r, err := m.Risk(riskID)
	if err != nil {
		return nil, err
	}
	vs := slices.Clone(m.votes[r.ID])
	slices.SortFunc(vs, func(a, b model.Vote) int { return strings.Compare(a.Voter, b.Voter) })
	return vs, nil
}

func (m *memStore) Voters(initiative string) ([]string, error) {
	var out []string
	for _, r := range m.risks {
		if initiative != "" && r.Initiative != initiative {
			continue
		}
		for _, v := range m.votes[r.ID] {
			out = append(out, v.Voter)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (m *memStore) Sprint(initiative string, number int) (model.Sprint, error) {
	for _, s := range m.sprints {
		if s.Initiative == initiative && s.Number == number {
			return s, nil
		}
	}
	return model.Sprint{}, fmt.Errorf("sprint %d of initiative %q: %w", number, initiative, store.ErrNotFound)
}

func (m *memStore) Sprints(initiative string) ([]model.Sprint, error) {
	var out []model.Sprint
	for _, s := range m.sprints {
		if initiative == "" || s.Initiative == initiative {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *memStore) Scans(initiative string) ([]model.Scan, error) {
	var out []model.Scan
	for _, s := range m.scans {
		if s.Initiative == initiative {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *memStore) Audit(store.AuditFilter, func(model.AuditEntry) error) error { return nil }
