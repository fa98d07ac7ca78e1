package sprint

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/priority"
	"github.com/usmhub/usmhub/core/store"
)

// policyText is the policy of issue 2's example.
const policyText = "(likelihood * impact + 2 * votes) / max(effort, 1)"

var tester = store.Actor{Name: "test:sprint"}

// openStore opens a fresh store on disk in the test's temporary folder.
func openStore(t testing.TB) *store.SQLite {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustPolicy(t testing.TB, text string) *priority.Policy {
	t.Helper()
	p, diags := priority.Parse("p", "", text)
	if diags.HasErrors() {
		t.Fatalf("policy %q: %s", text, diags.Error())
	}
	return p
}

// seed is one risk to store: accepted in initiative "sd" unless it says
// otherwise, with votes cast by as many voters.
type seed struct {
	title              string
	likelihood, impact int
	effort             float64
	votes              int
	status             model.Status
	initiative         string
}

// store stores the risks in order (so the first is the oldest, R-1) and
// returns them as stored.
func storeRisks(t testing.TB, st store.Store, seeds ...seed) []model.Risk {
	t.Helper()
	out := make([]model.Risk, len(seeds))
	update(t, st, func(tx store.Tx) error {
		for i, s := range seeds {
			r := model.Risk{Initiative: "sd", Kind: model.Threat, Title: s.title, Likelihood: s.likelihood,
				Impact: s.impact, Effort: s.effort, Status: model.Accepted}
			if s.status != "" {
				r.Status = s.status
			}
			if s.initiative != "" {
				r.Initiative = s.initiative
			}
			if err := tx.CreateRisk(&r); err != nil {
				return err
			}
			for v := range s.votes {
				if err := tx.CastVote(model.Vote{RiskID: r.ID, Voter: string(rune('a' + v)), Weight: 1}); err != nil {
					return err
				}
			}
			var err error
			if out[i], err = tx.Risk(r.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out
}

func update(t testing.TB, st store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := st.Update(context.Background(), tester, fn); err != nil {
		t.Fatal(err)
	}
}

func view(t testing.TB, st store.Store, fn func(store.Reader) error) {
	t.Helper()
	if err := st.View(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// statuses returns every risk's status by key.
func statuses(t testing.TB, st store.Store) map[string]model.Status {
	t.Helper()
	out := map[string]model.Status{}
	view(t, st, func(r store.Reader) error {
		return r.Risks(store.RiskFilter{}, func(risk model.Risk) error {
			out[risk.Key] = risk.Status
			return nil
		})
	})
	return out
}

// item is what a test compares of a sprint item.
type item struct {
	Key    string
	Score  float64
	Effort float64
}

func itemsOf(s model.Sprint) []item {
	var out []item
	for _, it := range s.Items {
		out = append(out, item{it.Key, it.Score, it.Effort})
	}
	return out
}

func keysOf(cs []priority.Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Risk.Key)
	}
	return out
}

func request(p *priority.Policy, capacity float64) Request {
	return Request{Initiative: "sd", Start: "2025-03-03", End: "2025-03-14", Capacity: capacity, Goal: "fewer repeats",
		Policy: p, Now: time.Now()}
}

func TestPropose(t *testing.T) {
	tests := []struct {
		name        string
		seeds       []seed
		capacity    float64
		want        []item
		wantUsed    float64
		wantSkipped []string
	}{
		{
			name: "by descending score while the effort fits; what does not fit is skipped",
			seeds: []seed{
				{title: "A", likelihood: 5, impact: 5, effort: 8}, // 3.125, too big once B and C are in
				{title: "B", likelihood: 4, impact: 4, effort: 2}, // 8
				{title: "C", likelihood: 3, impact: 3, effort: 1}, // 9
				{title: "D", likelihood: 2, impact: 2, effort: 3}, // 1.33…, does not fit in 2
				{title: "E", likelihood: 1, impact: 1, effort: 1}, // 1
				{title: "F", likelihood: 1, impact: 1, effort: 0}, // 1, no effort: always fits
			},
			capacity:    5,
			want:        []item{{"R-3", 9, 1}, {"R-2", 8, 2}, {"R-5", 1, 1}, {"R-6", 1, 0}},
			wantUsed:    4,
			wantSkipped: []string{"R-1", "R-4"},
		},
		{
			name: "capacity filled exactly, with fractions",
			seeds: []seed{
				{title: "A", likelihood: 2, impact: 2, effort: 0.1},
				{title: "B", likelihood: 2, impact: 3, effort: 0.2},
				{title: "C", likelihood: 1, impact: 1, effort: 0.1},
			},
			capacity:    0.3,
			want:        []item{{"R-2", 6, 0.2}, {"R-1", 4, 0.1}},
			wantUsed:    0.30000000000000004,
			wantSkipped: []string{"R-3"},
		},
		{
			name: "ties: the older risk first",
			seeds: []seed{
				{title: "old", likelihood: 3, impact: 3, effort: 1},
				{title: "middle", likelihood: 3, impact: 3, effort: 1},
				{title: "new", likelihood: 3, impact: 3, effort: 1},
			},
			capacity:    2,
			want:        []item{{"R-1", 9, 1}, {"R-2", 9, 1}},
			wantUsed:    2,
			wantSkipped: []string{"R-3"},
		},
		{
			name: "votes raise the priority",
			seeds: []seed{
				{title: "no votes", likelihood: 3, impact: 3, effort: 1},
				{title: "voted", likelihood: 2, impact: 2, effort: 1, votes: 3},
			},
			capacity:    1,
			want:        []item{{"R-2", 10, 1}},
			wantUsed:    1,
			wantSkipped: []string{"R-1"},
		},
		{
			name: "only the initiative's accepted risks",
			seeds: []seed{
				{title: "proposed", likelihood: 5, impact: 5, effort: 1, status: model.Proposed},
				{title: "planned", likelihood: 5, impact: 5, effort: 1, status: model.Planned},
				{title: "rejected", likelihood: 5, impact: 5, effort: 1, status: model.Rejected},
				{title: "realized", likelihood: 5, impact: 5, effort: 1, status: model.Realized},
				{title: "elsewhere", likelihood: 5, impact: 5, effort: 1, initiative: "cmdb"},
				{title: "accepted", likelihood: 1, impact: 2, effort: 1},
			},
			capacity: 10,
			want:     []item{{"R-6", 2, 1}},
			wantUsed: 1,
		},
		{
			name: "nothing fits",
			seeds: []seed{
				{title: "A", likelihood: 3, impact: 3, effort: 2},
				{title: "B", likelihood: 4, impact: 3, effort: 3},
			},
			capacity:    1.5,
			wantSkipped: []string{"R-1", "R-2"},
		},
		{
			name:     "no accepted risks",
			capacity: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			risks := storeRisks(t, st, tt.seeds...)
			var p Proposal
			view(t, st, func(r store.Reader) error {
				var err error
				p, err = Propose(r, request(mustPolicy(t, policyText), tt.capacity))
				return err
			})
			if diff := cmp.Diff(tt.want, itemsOf(p.Sprint)); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if p.Sprint.Used != tt.wantUsed {
				t.Errorf("used %v, want %v", p.Sprint.Used, tt.wantUsed)
			}
			if diff := cmp.Diff(tt.wantSkipped, keysOf(p.Skipped)); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
			byKey := map[string]model.Risk{}
			for _, r := range risks {
				byKey[r.Key] = r
			}
			for _, it := range p.Sprint.Items {
				if r := byKey[it.Key]; it.RiskID != r.ID || it.Title != r.Title {
					t.Errorf("item %s names risk %s %q, want %s %q", it.Key, it.RiskID, it.Title, r.ID, r.Title)
				}
			}
			want := model.Sprint{Initiative: "sd", Number: 1, Goal: "fewer repeats", Start: "2025-03-03", End: "2025-03-14",
				Capacity: tt.capacity, Used: tt.wantUsed, Status: model.SprintPlanned, Policy: policyText}
			p.Sprint.Items = nil
			if diff := cmp.Diff(want, p.Sprint); diff != "" {
				t.Errorf("sprint (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProposeErrors(t *testing.T) {
	st := openStore(t)
	storeRisks(t, st, seed{title: "no effort", likelihood: 3, impact: 3, effort: 0})
	good := request(mustPolicy(t, policyText), 5)
	tests := []struct {
		name   string
		change func(*Request)
		want   string
		is     error
	}{
		{
			name:   "no policy",
			change: func(r *Request) { r.Policy = nil },
			want:   "no priority policy: the prioritisation mechanism must be fixed before the first sprint; add a priority block with a score expression to the config",
			is:     ErrNoPolicy,
		},
		{
			name:   "bad dates and capacity",
			change: func(r *Request) { r.Start, r.End, r.Capacity = "2025-02-30", "14-03-2025", 0 },
			want: "sprint: start: must be a date YYYY-MM-DD, not \"2025-02-30\"\n" +
				"end: must be a date YYYY-MM-DD, not \"14-03-2025\"\n" +
				"capacity: must be more than 0, not 0",
		},
		{
			name:   "end before start",
			change: func(r *Request) { r.Start, r.End = "2025-03-14", "2025-03-03" },
			want:   "sprint: end: 2025-03-03 is before the start 2025-03-14",
		},
		{
			name:   "negative capacity",
			change: func(r *Request) { r.Capacity = -1 },
			want:   "sprint: capacity: must be more than 0, not -1",
		},
		{
			name:   "a risk the policy cannot score",
			change: func(r *Request) { r.Policy = mustPolicy(t, "likelihood * impact / effort") },
			want: `read accepted risks: score R-1: priority policy "p": cannot score a risk with likelihood=3, impact=3, effort=0, ` +
				`votes=0, kind="threat", process="", source="", age_days=0: the score is infinite (a division by zero?)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			tt.change(&req)
			var err error
			view(t, st, func(r store.Reader) error {
				_, err = Propose(r, req)
				return nil
			})
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

// TestPlan stores a sprint: its items with the scores they had when chosen,
// the policy's text, and the chosen risks moved to planned; the next sprint
// gets the next number and chooses from what is left.
func TestPlan(t *testing.T) {
	st := openStore(t)
	risks := storeRisks(t, st,
		seed{title: "A", likelihood: 4, impact: 4, effort: 2},
		seed{title: "B", likelihood: 3, impact: 3, effort: 3},
		seed{title: "C", likelihood: 2, impact: 2, effort: 1},
	)
	// age_days makes the score depend on the moment of planning.
	const text = "likelihood * impact + age_days"
	req := request(mustPolicy(t, text), 3)
	req.Now = risks[0].CreatedAt.Add(10*24*time.Hour + time.Minute)
	var p Proposal
	update(t, st, func(tx store.Tx) error {
		var err error
		p, err = Plan(tx, req)
		return err
	})
	if p.Sprint.ID == "" || p.Sprint.Number != 1 {
		t.Errorf("planned sprint %q number %d, want an id and number 1", p.Sprint.ID, p.Sprint.Number)
	}
	var stored model.Sprint
	view(t, st, func(r store.Reader) error {
		var err error
		stored, err = r.Sprint("sd", 1)
		return err
	})
	want := []model.SprintItem{
		{RiskID: risks[0].ID, Key: "R-1", Title: "A", Score: 26, Effort: 2},
		{RiskID: risks[2].ID, Key: "R-3", Title: "C", Score: 14, Effort: 1},
	}
	if diff := cmp.Diff(want, stored.Items); diff != "" {
		t.Errorf("stored items (-want +got):\n%s", diff)
	}
	if stored.Policy != text || stored.Status != model.SprintPlanned || stored.Used != 3 || stored.Capacity != 3 ||
		stored.Goal != "fewer repeats" || stored.Start != "2025-03-03" || stored.End != "2025-03-14" {
		t.Errorf("stored sprint %+v", stored)
	}
	if diff := cmp.Diff(map[string]model.Status{"R-1": model.Planned, "R-2": model.Accepted, "R-3": model.Planned}, statuses(t, st)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}

	// Votes now would change the score; the stored one stays.
	update(t, st, func(tx store.Tx) error {
		return tx.CastVote(model.Vote{RiskID: "R-1", Voter: "ann", Weight: 5})
	})
	view(t, st, func(r store.Reader) error {
		s, err := r.Sprint("sd", 1)
		if err == nil && s.Items[0].Score != 26 {
			t.Errorf("stored score changed to %v", s.Items[0].Score)
		}
		return err
	})

	// The second sprint: number 2, from what is still accepted.
	update(t, st, func(tx store.Tx) error {
		var err error
		p, err = Plan(tx, req)
		return err
	})
	if diff := cmp.Diff([]item{{"R-2", 19, 3}}, itemsOf(p.Sprint)); diff != "" || p.Sprint.Number != 2 {
		t.Errorf("second sprint %d (-want +got items):\n%s", p.Sprint.Number, diff)
	}
}

// TestPlanFailureStoresNothing: a failing Plan leaves the store as it was
// once the caller's transaction rolls back.
func TestPlanFailureStoresNothing(t *testing.T) {
	st := openStore(t)
	storeRisks(t, st, seed{title: "A", likelihood: 3, impact: 3, effort: 1}, seed{title: "B", likelihood: 3, impact: 3, effort: 0})
	req := request(mustPolicy(t, "likelihood / effort"), 5)
	err := st.Update(context.Background(), tester, func(tx store.Tx) error {
		_, err := Plan(tx, req)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "score R-2") {
		t.Fatalf("error %v, want one scoring R-2", err)
	}
	view(t, st, func(r store.Reader) error {
		ss, err := r.Sprints("sd")
		if len(ss) != 0 {
			t.Errorf("%d sprints stored", len(ss))
		}
		return err
	})
	if diff := cmp.Diff(map[string]model.Status{"R-1": model.Accepted, "R-2": model.Accepted}, statuses(t, st)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// planned stores three accepted risks and plans them all in sprint 1.
func planned(t *testing.T) *store.SQLite {
	t.Helper()
	st := openStore(t)
	storeRisks(t, st,
		seed{title: "A", likelihood: 3, impact: 3, effort: 1},
		seed{title: "B", likelihood: 2, impact: 2, effort: 1},
		seed{title: "C", likelihood: 1, impact: 1, effort: 1},
	)
	update(t, st, func(tx store.Tx) error {
		_, err := Plan(tx, request(mustPolicy(t, policyText), 3))
		return err
	})
	return st
}

func start(t *testing.T, st store.Store, number int) (model.Sprint, error) {
	t.Helper()
	var s model.Sprint
	err := st.Update(context.Background(), tester, func(tx store.Tx) error {
		var err error
		s, err = Start(tx, "sd", number)
		return err
	})
	return s, err
}

func closeSprint(t *testing.T, st store.Store, number int, realized ...string) (model.Sprint, error) {
	t.Helper()
	var s model.Sprint
	err := st.Update(context.Background(), tester, func(tx store.Tx) error {
		var err error
		s, err = Close(tx, "sd", number, realized)
		return err
	})
	return s, err
}

func TestStartAndClose(t *testing.T) {
	st := planned(t)
	// A risk rejected during the sprint stays rejected.
	update(t, st, func(tx store.Tx) error {
		r, err := tx.Risk("R-3")
		if err != nil {
			return err
		}
		r.Status = model.Rejected
		return tx.UpdateRisk(&r)
	})

	s, err := start(t, st, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != model.SprintActive {
		t.Errorf("started sprint is %s", s.Status)
	}
	if diff := cmp.Diff(map[string]model.Status{"R-1": model.InProgress, "R-2": model.InProgress, "R-3": model.Rejected}, statuses(t, st)); diff != "" {
		t.Errorf("statuses after start (-want +got):\n%s", diff)
	}
	if _, err := start(t, st, 1); err == nil || err.Error() != "sprint 1 is active; only a planned sprint can start" {
		t.Errorf("starting again: %v", err)
	}

	s, err = closeSprint(t, st, 1, "R-2")
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != model.SprintClosed {
		t.Errorf("closed sprint is %s", s.Status)
	}
	if diff := cmp.Diff(map[string]model.Status{"R-1": model.Accepted, "R-2": model.Realized, "R-3": model.Rejected}, statuses(t, st)); diff != "" {
		t.Errorf("statuses after close (-want +got):\n%s", diff)
	}
	if _, err := closeSprint(t, st, 1); err == nil || err.Error() != "sprint 1 is already closed" {
		t.Errorf("closing twice: %v", err)
	}
	if _, err := start(t, st, 1); err == nil || err.Error() != "sprint 1 is closed; only a planned sprint can start" {
		t.Errorf("starting a closed sprint: %v", err)
	}
}

// TestCloseUnstarted: closing a sprint that never started realises the
// named items (through in_progress) and returns the others to accepted.
func TestCloseUnstarted(t *testing.T) {
	st := planned(t)
	if _, err := closeSprint(t, st, 1, "R-1", "R-3"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]model.Status{"R-1": model.Realized, "R-2": model.Accepted, "R-3": model.Realized}, statuses(t, st)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestCloseUnknownKeyChangesNothing(t *testing.T) {
	st := planned(t)
	_, err := closeSprint(t, st, 1, "R-1", "R-9")
	if err == nil || err.Error() != "R-9 is not an item of sprint 1" {
		t.Fatalf("error %v", err)
	}
	if diff := cmp.Diff(map[string]model.Status{"R-1": model.Planned, "R-2": model.Planned, "R-3": model.Planned}, statuses(t, st)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	view(t, st, func(r store.Reader) error {
		s, err := r.Sprint("sd", 1)
		if err == nil && s.Status != model.SprintPlanned {
			t.Errorf("sprint is %s", s.Status)
		}
		return err
	})
}

func TestUnknownSprint(t *testing.T) {
	st := planned(t)
	if _, err := start(t, st, 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("start sprint 2: %v, want ErrNotFound", err)
	}
	if _, err := closeSprint(t, st, 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("close sprint 2: %v, want ErrNotFound", err)
	}
}

// TestStatusMovesAreAudited: every move Plan, Start and Close make is in
// the audit log, attributed to the transaction's actor.
func TestStatusMovesAreAudited(t *testing.T) {
	st := planned(t)
	if _, err := start(t, st, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := closeSprint(t, st, 1, "R-1"); err != nil {
		t.Fatal(err)
	}
	var got []string
	view(t, st, func(r store.Reader) error {
		return r.Audit(store.AuditFilter{EntityID: "R-1"}, func(e model.AuditEntry) error {
			if e.Field == "status" {
				got = append(got, e.Actor+" "+e.Old+"→"+e.New)
			}
			return nil
		})
	})
	want := []string{
		"test:sprint accepted→planned",
		"test:sprint planned→in_progress",
		"test:sprint in_progress→realized",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audited moves of R-1 (-want +got):\n%s", diff)
	}
}
