package redmine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/internal/hubcli"
)

// hub is a usmhub in a folder of its own, configured against a Redmine
// project, whose connector logs every Redmine request to requests.log.
type hub struct {
	*hubcli.Hub
	project string
}

// hubConfig is the e2e config: best of breed with Redmine owning risks
// (authority remote, but the title is the hub's) and sprints.
const hubConfig = `
hub {
  data_dir = "data"
  strategy = "best_of_breed"
}

initiative "ssc" {
  name            = "Redmine end-to-end"
  lead            = "anna"
  team            = ["bram", "chris"]
  sprint_capacity = 12
  sounding_board  = ["dewi", "eva"]
}

priority "default" {
  score = (likelihood * impact + 2 * votes) / max(effort, 1)
}

connector "redmine" "main" {
  url            = %q
  api_key        = env("USMHUB_E2E_REDMINE_KEY")
  project        = %q
  tracker        = "Risk"
  report_tracker = "Report"
  request_log    = "requests.log"
}

sync "risks" {
  kind      = "risk"
  connector = "redmine.main"
  lookback  = "1s"
  authority {
    default = "remote"
    fields  = { title = "hub" }
  }
  map_status = {
    proposed    = "New"
    accepted    = "Accepted"
    planned     = "Planned"
    in_progress = "In Progress"
    realized    = "Closed"
    rejected    = "Rejected"
  }
}

sync "sprints" {
  kind      = "sprint"
  connector = "redmine.main"
  authority {
    default = "remote"
  }
}
`

func newHub(t *testing.T, project string) *hub {
	t.Helper()
	return &hub{Hub: hubcli.New(t, usmhubBin, fmt.Sprintf(hubConfig, redmine["REDMINE_URL"], project),
		"USMHUB_E2E_REDMINE_KEY="+redmine["REDMINE_API_KEY"]), project: project}
}

// syncResult is one binding's result of `usmhub sync -json`.
type syncResult struct {
	Binding string         `json:"binding"`
	Counts  map[string]int `json:"counts"`
}

// sync runs `usmhub sync` (all syncs, or the named ones) and returns each
// binding's counts.
func (h *hub) sync(names ...string) map[string]map[string]int {
	h.T.Helper()
	var res []syncResult
	h.JSONOf(&res, append([]string{"sync"}, names...)...)
	out := map[string]map[string]int{}
	for _, r := range res {
		out[r.Binding] = r.Counts
	}
	return out
}

// requests returns the Redmine requests the connector logged so far.
func (h *hub) requests() []string {
	h.T.Helper()
	b, err := os.ReadFile(filepath.Join(h.Dir, "requests.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		h.T.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// hubRisk is a risk as `usmhub risk list -json` shows it.
type hubRisk struct {
	Key        string  `json:"key"`
	Title      string  `json:"title"`
	Kind       string  `json:"kind"`
	Process    string  `json:"process"`
	Likelihood int     `json:"likelihood"`
	Impact     int     `json:"impact"`
	Effort     float64 `json:"effort"`
	Status     string  `json:"status"`
	Owner      string  `json:"owner"`
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

// inventory writes a CSV of n risks (keys R-1 … R-n) and returns its path.
// Owners are Redmine logins, but for every sixth risk, whose owner is a
// name no Redmine user has (the hub keeps it; the issue stays unassigned).
func (h *hub) inventory(n int) string {
	var b strings.Builder
	b.WriteString("key,title,kind,process,source,likelihood,impact,effort,owner,status,description\n")
	owners := []string{"anna", "bram", "chris", "dewi", "eva", "Hanna de Vries"}
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
