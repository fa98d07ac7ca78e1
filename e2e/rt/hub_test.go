package rt_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/internal/hubcli"
)

// hub is a usmhub in a folder of its own, configured against an RT queue,
// report queue and catalog, whose connector logs every RT request to
// requests.log.
type hub struct{ *hubcli.Hub }

// hubConfig is the e2e config: best of breed, RT holding both the risks
// (authority remote, but the title is the hub's) and the BIR (its assets).
// The risk queue has the USM lifecycle of scripts/rt-up.sh, whose statuses
// are the hub's, so the risk sync needs no map_status; the catalog has
// RT's asset lifecycle.
const hubConfig = `
hub {
  data_dir = "data"
  strategy = "best_of_breed"
}

initiative "ssc" {
  name            = "RT end-to-end"
  lead            = "ops"
  sprint_capacity = 12
  sounding_board  = ["dewi", "eva"]
}

priority "default" {
  score = (likelihood * impact + 2 * votes) / max(effort, 1)
}

connector "rt" "main" {
  url          = %q
  token        = env("USMHUB_E2E_RT_TOKEN")
  queue        = %q
  report_queue = %q
  catalog      = %q
  request_log  = "requests.log"
}

sync "risks" {
  kind      = "risk"
  connector = "rt.main"
  lookback  = "1s"
  authority {
    default = "remote"
    fields  = { title = "hub" }
  }
}

sync "items" {
  kind       = "item"
  connector  = "rt.main"
  lookback   = "1s"
  map_status = { planned = "new", in_use = "in-use", retired = "recycled" }
  authority {
    default = "remote"
  }
}
`

func newHub(t *testing.T, queue, reports, catalog string) *hub {
	t.Helper()
	return &hub{hubcli.New(t, usmhubBin, fmt.Sprintf(hubConfig, rt["RT_URL"], queue, reports, catalog),
		"USMHUB_E2E_RT_TOKEN="+rt["RT_TOKEN"])}
}

// syncResult is one binding's result of `usmhub sync -json`.
type syncResult struct {
	Binding string         `json:"binding"`
	Counts  map[string]int `json:"counts"`
}

// syncCode runs `usmhub sync -json` (all syncs, or the named ones) and
// returns each binding's counts and the exit code (1: something waits).
func (h *hub) syncCode(names ...string) (map[string]map[string]int, int) {
	h.T.Helper()
	out, errs, code := h.Run(append([]string{"sync", "-json"}, names...)...)
	var res []syncResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		h.T.Fatalf("usmhub sync -json %v: exit %d, %v\nstdout: %s\nstderr: %s", names, code, err, out, errs)
	}
	counts := map[string]map[string]int{}
	for _, r := range res {
		counts[r.Binding] = r.Counts
	}
	return counts, code
}

// sync is syncCode that fails the test unless the sync exits 0.
func (h *hub) sync(names ...string) map[string]map[string]int {
	h.T.Helper()
	c, code := h.syncCode(names...)
	if code != 0 {
		out, errs, _ := h.Run("status")
		h.T.Fatalf("usmhub sync %v: exit %d, counts %v\nstatus: %s%s", names, code, c, out, errs)
	}
	return c
}

// requests returns the RT requests the connector logged so far.
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
	ID          string `json:"id"`
	Key         string `json:"key"`
	Title       string `json:"title"`
	Likelihood  int    `json:"likelihood"`
	Impact      int    `json:"impact"`
	Status      string `json:"status"`
	Owner       string `json:"owner"`
	Description string `json:"description"`
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
// Owners are RT user names or none.
func (h *hub) inventory(n int) string {
	var b strings.Builder
	b.WriteString("key,title,kind,process,source,likelihood,impact,effort,owner,status,description\n")
	owners := []string{"ops", "root", ""}
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
			i, i, i%7, kind, processes[i%5], 1+i%5, 1+(i*3)%5, 1+i%4, owners[i%3], status, i)
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
