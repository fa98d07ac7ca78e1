// Package github_test proves the GitHub connector end to end: usmhub and
// usmhub-connector-github are built and launched for real, and the
// connector reaches, over loopback HTTP, the project's fake GitHub server
// (connectors/github/fakegithub) running in the test process — github.com
// is not reachable from the machines the tests run on, and no real token
// is used anywhere. The conformance kit runs against the built binary over
// the wire; TestSyncWithGitHub syncs 200 risks, edits on both sides, plans
// a sprint, counts reactions as votes, publishes a report twice and counts
// the requests of quiet and busy syncs; TestKillLoop kills the sync with
// SIGKILL at least 20 times mid-run.
package github_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/usmhub/usmhub/connectors/github/fakegithub"
	"github.com/usmhub/usmhub/internal/hubcli"
	"github.com/usmhub/usmhub/plugins/connectortest"
)

var (
	usmhubBin    string
	githubPlugin string
)

const (
	owner = "acme"
	repo  = "service-improvement"
	token = "ghp_e2e_fake_token_not_real"
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "usmhub-e2e-github-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	usmhubBin = filepath.Join(dir, "usmhub")
	if out, err := exec.Command("go", "build", "-o", usmhubBin, "../../cmd/usmhub").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build usmhub: %v\n%s", err, out)
		return 1
	}
	if githubPlugin, err = connectortest.BuildBinary("../../connectors/github", "github", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// newFake starts a fake GitHub with the repository, the token's user
// usmhub-bot and the assignable logins anna, bram and chris.
func newFake(t *testing.T) *fakegithub.Server {
	t.Helper()
	f := fakegithub.New(owner, repo, token, "usmhub-bot", "anna", "bram", "chris")
	f.WritesPerMinute = -1 // the connector's pacing is proved in its unit tests
	t.Cleanup(f.Close)
	return f
}

// hub is a usmhub in a folder of its own, configured against the fake;
// no run may show the token.
type hub struct{ *hubcli.Hub }

const hubConfig = `
hub {
  data_dir = "data"
  strategy = "best_of_breed"
}

initiative "ssc" {
  name            = "GitHub end-to-end"
  lead            = "anna"
  team            = ["bram", "chris"]
  sprint_capacity = 12
  sounding_board  = ["k.mulder", "Lotte"]
}

priority "default" {
  score = (likelihood * impact + 2 * votes) / max(effort, 1)
}

connector "github" "main" {
  owner             = %q
  repo              = %q
  token             = env("USMHUB_E2E_GITHUB_TOKEN")
  base_url          = %q
  voters            = { "kmulder" = "k.mulder", "lotte" = "Lotte" }
  writes_per_minute = 100000
  # no cache_file: the ETags go where the hub tells its connectors to keep
  # state (data/connectors), which the quiet syncs' 304s prove
}

sync "risks" {
  kind      = "risk"
  connector = "github.main"
  lookback  = "2s"
  authority {
    default = "remote"
    fields  = { title = "hub" }
  }
  map_status = {
    proposed    = "open"
    accepted    = "accepted"
    planned     = "planned"
    in_progress = "in progress"
    realized    = "closed"
    rejected    = "not_planned"
  }
}

sync "sprints" {
  kind      = "sprint"
  connector = "github.main"
  authority {
    default = "remote"
  }
}

sync "votes" {
  kind      = "vote"
  connector = "github.main"
  direction = "pull"
  authority {
    default = "remote"
  }
}
`

func newHub(t *testing.T, baseURL string) *hub {
	t.Helper()
	h := &hub{hubcli.New(t, usmhubBin, hubConfigFor(baseURL), "USMHUB_E2E_GITHUB_TOKEN="+token)}
	h.Secret = token
	return h
}

func hubConfigFor(baseURL string) string { return fmt.Sprintf(hubConfig, owner, repo, baseURL) }

// sync runs `usmhub sync` (all syncs, or the named ones) and returns each
// binding's counts.
func (h *hub) sync(names ...string) map[string]map[string]int {
	h.T.Helper()
	var res []struct {
		Binding string         `json:"binding"`
		Counts  map[string]int `json:"counts"`
	}
	h.JSONOf(&res, append([]string{"sync"}, names...)...)
	out := map[string]map[string]int{}
	for _, r := range res {
		out[r.Binding] = r.Counts
	}
	return out
}

// hubRisk is a risk as `usmhub risk list -json` shows it.
type hubRisk struct {
	ID         string `json:"id"`
	Key        string `json:"key"`
	Title      string `json:"title"`
	Likelihood int    `json:"likelihood"`
	Impact     int    `json:"impact"`
	Votes      int    `json:"votes"`
	Status     string `json:"status"`
	Owner      string `json:"owner"`
}

func (h *hub) risks() map[string]hubRisk {
	h.T.Helper()
	var list []hubRisk
	h.JSONOf(&list, "risk", "list")
	out := map[string]hubRisk{}
	for _, r := range list {
		out[r.Key] = r
	}
	return out
}

// inventory writes a CSV of n risks (keys R-1 … R-n). Owners are GitHub
// logins but for every sixth risk, a name no GitHub user has.
func (h *hub) inventory(n int) string {
	var b strings.Builder
	b.WriteString("key,title,kind,process,source,likelihood,impact,effort,owner,status,description\n")
	owners := []string{"anna", "bram", "chris", "anna", "bram", "Hanna de Vries"}
	processes := []string{"agree", "change", "recover", "operate", "improve"}
	for i := 1; i <= n; i++ {
		kind := "threat"
		if i%4 == 0 {
			kind = "opportunity"
		}
		status := "proposed"
		if i%3 == 0 {
			status = "accepted"
		}
		fmt.Fprintf(&b, "R-%d,Risk %d: repeat incidents at desk %d,%s,%s,e2e inventory,%d,%d,%d,%s,%s,\"Found in the baseline scan.\nSecond line of risk %d.\"\n",
			i, i, i%7, kind, processes[i%5], 1+i%5, 1+(i*3)%5, 1+i%4, owners[i%6], status, i)
	}
	return h.Write("risks.csv", b.String())
}

// changed reports whether a sync's counts hold a change.
func changed(c map[string]int) bool {
	for _, k := range []string{"hub_creates", "hub_updates", "hub_deletes", "push_creates", "push_updates", "conflicts", "quarantined", "errors"} {
		if c[k] != 0 {
			return true
		}
	}
	return false
}

func pacificTZ(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
