package register

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// hub is a loaded config with one initiative (a sounding board of ann) and
// its policy, and an empty store.
func hub(t *testing.T) (*config.Config, *store.SQLite) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "usmhub.hcl")
	const hcl = `
hub {
  data_dir = "data"
}

initiative "t" {
  name           = "Test"
  sounding_board = ["Ann"]
}

priority "p" {
  score = likelihood * impact + votes
}
`
	if err := os.WriteFile(path, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadWith(path, config.Options{WithoutHubSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), cfg.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return cfg, st
}

// An edit that changes nothing stores nothing; one that changes a field
// stores a new version; the list shows the new priority.
func TestUpdateAndList(t *testing.T) {
	cfg, st := hub(t)
	ctx := context.Background()
	actor := store.Actor{Name: "test"}
	r := model.NewRisk("t")
	r.Title = "Badges"
	added, err := Add(ctx, st, cfg, actor, r)
	if err != nil {
		t.Fatal(err)
	}
	same := Edit{Values: model.Risk{Likelihood: model.DefaultLikelihood}, Fields: []string{"likelihood"}}
	got, changed, err := Update(ctx, st, cfg, actor, "r-1", same)
	if err != nil || changed || got.Version != added.Version {
		t.Fatalf("an edit to the same value: changed %v, version %d → %d, %v", changed, added.Version, got.Version, err)
	}
	got, changed, err = Update(ctx, st, cfg, actor, "R-1", Edit{Values: model.Risk{Likelihood: 5}, Fields: []string{"likelihood"},
		SetAffects: true, Affects: []string{"CI-1"}})
	if err != nil || !changed || got.Likelihood != 5 || got.Version == added.Version || got.Priority == nil || *got.Priority != 15 {
		t.Fatalf("an edit of the likelihood: %+v, changed %v, %v", got, changed, err)
	}
	d, err := ShowRisk(ctx, st, cfg, "R-1")
	if err != nil || len(d.Affects) != 1 || !d.Affects[0].Missing || len(d.History) < 2 || d.Risk.Priority == nil {
		t.Fatalf("show: %+v, %v", d, err)
	}
	list, err := ListRisks(ctx, st, cfg, store.RiskFilter{}, ByPriority, 0)
	if err != nil || len(list) != 1 || list[0].Priority == nil || *list[0].Priority != 15 {
		t.Fatalf("list: %+v, %v", list, err)
	}
}

// Only the sounding board votes (names compared without case); a retract
// takes the vote back.
func TestVote(t *testing.T) {
	cfg, st := hub(t)
	ctx := context.Background()
	actor := store.Actor{Name: "test"}
	r := model.NewRisk("t")
	r.Title = "Badges"
	if _, err := Add(ctx, st, cfg, actor, r); err != nil {
		t.Fatal(err)
	}
	if _, err := Vote(ctx, st, cfg, actor, "R-1", "bob", 1, false); err == nil || !strings.Contains(err.Error(), "bob is not on the sounding board") {
		t.Fatalf("a vote from outside the board: %v", err)
	}
	got, err := Vote(ctx, st, cfg, actor, "R-1", " ann ", 2, false)
	if err != nil || got.Votes != 2 {
		t.Fatalf("ann's vote: %+v, %v", got, err)
	}
	got, err = Vote(ctx, st, cfg, actor, "R-1", " ann ", 0, true)
	if err != nil || got.Votes != 0 {
		t.Fatalf("ann's retract: %+v, %v", got, err)
	}
}

// A draft takes the only initiative and is checked before anything is
// stored: every bad field on one line.
func TestDraft(t *testing.T) {
	cfg, _ := hub(t)
	r := model.NewRisk("")
	r.Title = "Badges"
	got, err := Draft(cfg, "", r)
	if err != nil || got.Initiative != "t" {
		t.Fatalf("a good draft: %+v, %v", got, err)
	}
	r.Likelihood, r.Impact = 9, 0
	_, err = Draft(cfg, "", r)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "risk not added: likelihood") ||
		!strings.Contains(err.Error(), "; impact") {
		t.Fatalf("a bad draft: %v", err)
	}
	if _, err := Draft(cfg, "nope", r); err == nil {
		t.Fatal("a draft in an initiative that does not exist")
	}
}

// The list stops after limit risks, the highest first.
func TestListLimit(t *testing.T) {
	cfg, st := hub(t)
	ctx := context.Background()
	for _, l := range []int{1, 5, 3} {
		r := model.NewRisk("t")
		r.Title, r.Likelihood = fmt.Sprint("L", l), l
		if _, err := Add(ctx, st, cfg, store.Actor{Name: "test"}, r); err != nil {
			t.Fatal(err)
		}
	}
	list, err := ListRisks(ctx, st, cfg, store.RiskFilter{}, ByPriority, 2)
	if err != nil || len(list) != 2 || list[0].Title != "L5" || list[1].Title != "L3" {
		t.Fatalf("list -limit 2: %+v, %v", list, err)
	}
}
