package register

import (
	"context"
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
	if err := Add(ctx, st, actor, &r); err != nil {
		t.Fatal(err)
	}
	same := Edit{Values: model.Risk{Likelihood: model.DefaultLikelihood}, Fields: []string{"likelihood"}}
	got, changed, err := Update(ctx, st, actor, "r-1", same)
	if err != nil || changed || got.Version != r.Version {
		t.Fatalf("an edit to the same value: changed %v, version %d → %d, %v", changed, r.Version, got.Version, err)
	}
	got, changed, err = Update(ctx, st, actor, "R-1", Edit{Values: model.Risk{Likelihood: 5}, Fields: []string{"likelihood"},
		SetAffects: true, Affects: []string{"CI-1"}})
	if err != nil || !changed || got.Likelihood != 5 || got.Version == r.Version {
		t.Fatalf("an edit of the likelihood: %+v, changed %v, %v", got, changed, err)
	}
	d, err := ShowRisk(ctx, st, "R-1")
	if err != nil || len(d.Affects) != 1 || !d.Affects[0].Missing || len(d.History) < 2 {
		t.Fatalf("show: %+v, %v", d, err)
	}
	list, err := ListRisks(ctx, st, cfg, store.RiskFilter{}, ByPriority)
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
	if err := Add(ctx, st, actor, &r); err != nil {
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
