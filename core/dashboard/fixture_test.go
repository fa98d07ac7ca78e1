package dashboard

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// testConfig is the dashboard tests' configuration: one initiative, a
// policy, a file connector and a risk sync.
const testConfig = `
hub {
  data_dir = "data"
  strategy = "erp"
}

initiative "ssc" {
  name            = "Shared <b>service</b> centre"
  lead            = "Hanna"
  team            = ["Sara"]
  sprint_capacity = 10
  sounding_board  = ["Lotte", "Daan"]
}

priority "default" {
  score = (likelihood * impact + 2 * votes) / max(effort, 1)
}

connector "file" "sheet" {
  dir = "sheet"
}

sync "risks" {
  kind      = "risk"
  connector = "file.sheet"
}
`

// hostileTitle must show as text everywhere.
const hostileTitle = `<script>alert("t")</script><img src=x onerror=alert(1)>`

// fixture is a configuration and a SQLite store on disk with n risks (at
// least the 8 hand-written ones), votes, a sprint with a realized item,
// a baseline and a progress scan, and a sync with a quarantined record and
// a held field.
type fixture struct {
	cfg *config.Config
	st  store.Store
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sheet"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "usmhub.hcl"), []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "usmhub.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	today := time.Now().UTC()
	err = st.Update(ctx, store.Actor{Name: "cli:test"}, func(tx store.Tx) error {
		hand := []model.Risk{
			{Kind: model.Threat, Title: hostileTitle, Source: "javascript:alert(1)", Likelihood: 5, Impact: 5, Effort: 1, Owner: "Sara", Process: model.Agree},
			{Kind: model.Opportunity, Title: "Self-service portal", Source: "https://example.org/portal", Likelihood: 3, Impact: 4, Effort: 3, Process: model.Change},
			{Kind: model.Threat, Title: "Escalations without owner", Likelihood: 4, Impact: 3, Effort: 1, Process: model.Recover},
			{Kind: model.Threat, Title: "Changes without rollback", Likelihood: 4, Impact: 5, Effort: 5, Process: model.Change},
			{Kind: model.Opportunity, Title: "Shared knowledge base", Likelihood: 3, Impact: 3, Effort: 2, Process: model.Improve},
			{Kind: model.Threat, Title: "Alerts nobody reads", Likelihood: 2, Impact: 4, Effort: 1, Process: model.Operate},
			{Kind: model.Threat, Title: "Double registration", Likelihood: 3, Impact: 2, Effort: 1},
			{Kind: model.Opportunity, Title: "Weekly stand-up", Likelihood: 2, Impact: 2, Effort: 1, Process: model.Improve},
		}
		for i := len(hand); i < n; i++ {
			hand = append(hand, model.Risk{Kind: model.Kinds[i%2], Title: fmt.Sprintf("A risk of ordinary length, number %d", i),
				Process: model.Processes[i%5], Likelihood: 1 + i%5, Impact: 1 + (i/5)%5, Effort: float64(1 + i%7), Owner: []string{"", "Sara", "Pieter"}[i%3]})
		}
		for i := range hand {
			r := &hand[i]
			r.Initiative, r.Status = "ssc", model.Proposed
			if err := tx.CreateRisk(r); err != nil {
				return err
			}
		}
		step := func(r *model.Risk, ss ...model.Status) error {
			for _, s := range ss {
				r.Status = s
				if err := tx.UpdateRisk(r); err != nil {
					return err
				}
			}
			return nil
		}
		for _, i := range []int{0, 1, 2, 3} {
			if err := step(&hand[i], model.Accepted, model.Planned, model.InProgress); err != nil {
				return err
			}
		}
		if err := step(&hand[7], model.Rejected); err != nil {
			return err
		}
		items := []model.SprintItem{}
		for _, i := range []int{0, 1, 2, 3} {
			items = append(items, model.SprintItem{RiskID: hand[i].ID, Key: hand[i].Key, Title: hand[i].Title, Score: 5, Effort: hand[i].Effort})
		}
		if err := tx.CreateSprint(&model.Sprint{Initiative: "ssc", Goal: "Fewer escalations", Status: model.SprintActive, Capacity: 10, Used: 10,
			Start: today.AddDate(0, 0, -4).Format(model.DateLayout), End: today.AddDate(0, 0, 9).Format(model.DateLayout), Items: items}); err != nil {
			return err
		}
		if err := step(&hand[2], model.Realized); err != nil {
			return err
		}
		for _, v := range []model.Vote{{RiskID: hand[1].ID, Voter: "Lotte", Weight: 1}, {RiskID: hand[1].ID, Voter: "Daan", Weight: 2}} {
			if err := tx.CastVote(v); err != nil {
				return err
			}
		}
		for _, sc := range []model.Scan{
			{Initiative: "ssc", Kind: model.Baseline, Method: "USM scan", MethodVersion: "2", TakenOn: "2026-09-10",
				Scores: []model.ScanScore{{Dimension: "agree", Score: 2.1}, {Dimension: "change", Score: 2.5}, {Dimension: "recover <i>x</i>", Score: 1.8}}},
			{Initiative: "ssc", Kind: model.Progress, Method: "USM scan", MethodVersion: "2", TakenOn: "2026-11-10",
				Scores: []model.ScanScore{{Dimension: "agree", Score: 2.6}, {Dimension: "change", Score: 2.4}, {Dimension: "recover <i>x</i>", Score: 2.2}}},
		} {
			if err := tx.CreateScan(&sc); err != nil {
				return err
			}
		}
		if err := tx.PutLink(store.Link{Binding: "risks", HubID: hand[1].ID, ExternalID: "https://tracker.example.org/issues/7", State: store.LinkLinked,
			Held: map[string]store.Hold{"status": {Side: store.HoldPull, Value: "accepted", Reason: "illegal status transition <from> in_progress", Since: today}}}); err != nil {
			return err
		}
		if err := tx.QuarantineRecord(store.Quarantined{Binding: "risks", ExternalID: "K-99", Reason: "likelihood: must be 1 to 5, not 9", At: today}); err != nil {
			return err
		}
		return tx.PutBindingState(store.BindingState{Binding: "risks", Failures: 1, LastError: "sheet: risks.csv:4: bad row"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{cfg: cfg, st: st}
}

// server serves the fixture's dashboard on a test server that says it
// listens on listen (the access rule's input).
func (f *fixture) server(t testing.TB, listen, token string) *httptest.Server {
	t.Helper()
	d, err := New(Options{Config: f.cfg, Store: f.st, Listen: listen, ReadToken: token})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return srv
}
