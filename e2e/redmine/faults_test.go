package redmine_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/internal/hubcli"
)

// The proof of "nothing lost, nothing doubled, nothing hidden" against a
// real Redmine, with the fault proxy (proxy_test.go) between the connector
// and Redmine: a create Redmine stored but answered 503, a truncated 200 on
// an update, 429 with Retry-After. The kill loop is in faultkill_test.go.

// newHubVia is newHub with the connector pointed at url (the proxy).
func newHubVia(t *testing.T, project, url string) *hub {
	t.Helper()
	h := &hub{Hub: hubcli.At(t, usmhubBin, t.TempDir(), "USMHUB_E2E_REDMINE_KEY="+redmine["REDMINE_API_KEY"]), project: project}
	h.Write("usmhub.hcl", fmt.Sprintf(hubConfig, url, project))
	return h
}

// faultInventory writes n risks R-1 … R-n, all proposed (so that Redmine's
// status edits New ↔ Rejected are legal moves for the hub in any order).
func (h *hub) faultInventory(n int) string {
	var b strings.Builder
	b.WriteString("key,title,kind,process,likelihood,impact,effort,owner,status\n")
	processes := []string{"agree", "change", "recover", "operate", "improve"}
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "R-%d,Fault risk %d,threat,%s,%d,%d,%d,anna,proposed\n", i, i, processes[i%5], 1+i%5, 1+(i*3)%5, 1+i%3)
	}
	return h.Write("risks.csv", b.String())
}

// syncRun is how one `usmhub sync risks -json` ended.
type syncRun struct {
	code           int
	stdout, stderr string
	counts         map[string]int // nil when stdout held no result
	changes        []syncChange
}

type syncChange struct {
	Direction  string `json:"direction"`
	Op         string `json:"op"`
	Key        string `json:"key"`
	ExternalID string `json:"external_id"`
	Reason     string `json:"reason"`
}

func (r syncRun) String() string {
	return fmt.Sprintf("exit %d, counts %v\nstderr: %s", r.code, r.counts, lastLines(strings.TrimSpace(r.stderr), 6))
}

// parseSyncRun reads the JSON results of `usmhub sync risks -json`.
func parseSyncRun(code int, stdout, stderr string) syncRun {
	r := syncRun{code: code, stdout: stdout, stderr: stderr}
	var res []struct {
		Binding string         `json:"binding"`
		Counts  map[string]int `json:"counts"`
		Changes []syncChange   `json:"changes"`
	}
	if json.Unmarshal([]byte(stdout), &res) == nil {
		for _, x := range res {
			if x.Binding == "risks" {
				r.counts, r.changes = x.Counts, x.Changes
			}
		}
	}
	return r
}

// syncRisks runs `usmhub sync risks -json` once, whatever its exit code.
func (h *hub) syncRisks() syncRun {
	h.T.Helper()
	out, errs, code := h.Run("sync", "risks", "-json")
	return parseSyncRun(code, out, errs)
}

// checkHonest fails the test when a run counted errors but exited 0: a
// failure nobody running `usmhub sync` (or cron) would see.
func checkHonest(t *testing.T, what string, r syncRun) {
	t.Helper()
	if r.code == 0 && r.counts["errors"] > 0 {
		t.Errorf("HIDDEN: %s exited 0 but counted %d error(s): %s", what, r.counts["errors"], r)
	}
}

// settle runs the risk sync until a run exits 0 with nothing left to
// change, at most max times; it returns the runs.
func (h *hub) settle(max int) ([]syncRun, bool) {
	h.T.Helper()
	var runs []syncRun
	for i := 0; i < max; i++ {
		r := h.syncRisks()
		runs = append(runs, r)
		if r.code == 0 && r.counts != nil && !changed(r.counts) {
			return runs, true
		}
	}
	return runs, false
}

// hubStatus is what `usmhub status risks` says of the risk sync.
type hubStatus struct {
	Health      string     // the text status's verdict: ok, failing (…), PAUSED …, never synced
	Failures    int        `json:"failures"`
	LastError   string     `json:"last_error"`
	LastSuccess *time.Time `json:"last_success"`
	LastRun     *struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"last_run"`
	Links       map[string]int `json:"links"`
	Quarantined []struct {
		ExternalID string `json:"external_id"`
		Reason     string `json:"reason"`
	} `json:"quarantined"`
}

func (s hubStatus) String() string {
	last := "none"
	if s.LastRun != nil {
		last = s.LastRun.Status
	}
	return fmt.Sprintf("health %q, %d failure(s), last run %s, links %v, %d quarantined, last error %q",
		s.Health, s.Failures, last, s.Links, len(s.Quarantined), s.LastError)
}

func (h *hub) status() hubStatus {
	h.T.Helper()
	var list []hubStatus
	h.JSONOf(&list, "status", "risks")
	if len(list) != 1 {
		h.T.Fatalf("usmhub status risks -json: %d entries", len(list))
	}
	s := list[0]
	text := h.OK("status", "risks")
	first, _, _ := strings.Cut(text, "\n")
	if _, health, ok := strings.Cut(first, "): "); ok {
		s.Health = strings.TrimSpace(health)
	} else {
		s.Health = first
	}
	return s
}

// hubRiskID is a risk as `usmhub risk list -json` shows it, with its id.
type hubRiskID struct {
	ID         string `json:"id"`
	Key        string `json:"key"`
	Title      string `json:"title"`
	Likelihood int    `json:"likelihood"`
	Impact     int    `json:"impact"`
	Status     string `json:"status"`
}

func (h *hub) risksByKey() map[string]hubRiskID {
	h.T.Helper()
	var list []hubRiskID
	h.JSONOf(&list, "risk", "list")
	out := map[string]hubRiskID{}
	for _, r := range list {
		out[r.Key] = r
	}
	return out
}

// riskIssues lists the project's risk issues straight from Redmine (not
// through the proxy).
func riskIssues(rm *api, project string) []rmIssue {
	return rm.issues(project, url.Values{"tracker_id": {redmine["REDMINE_RISK_TRACKER_ID"]}})
}

// checkOneIssueEach fails the test on a marker or a key held by more than
// one issue, an issue without a marker, a hub risk without an issue; it
// returns the issues by key (the first of duplicates).
func checkOneIssueEach(t *testing.T, issues []rmIssue, risks map[string]hubRiskID) map[string]rmIssue {
	t.Helper()
	byMarker := map[string][]int{}
	byKey := map[string][]int{}
	out := map[string]rmIssue{}
	for _, is := range issues {
		m, k := is.cf("MARKER"), is.cf("KEY")
		byMarker[m] = append(byMarker[m], is.ID)
		byKey[k] = append(byKey[k], is.ID)
		if _, ok := out[k]; !ok {
			out[k] = is
		}
		if m == "" {
			t.Errorf("issue #%d (%s, %q) has no hub marker", is.ID, k, is.Subject)
		}
	}
	for _, m := range sortedKeys(byMarker) {
		if ids := byMarker[m]; len(ids) > 1 && m != "" {
			t.Errorf("DOUBLED: marker %s is on %d issues %v (one create, %d tickets)", m, len(ids), ids, len(ids))
		}
	}
	for _, k := range sortedKeys(byKey) {
		if ids := byKey[k]; len(ids) > 1 {
			t.Errorf("DOUBLED: key %s is on %d issues %v", k, len(ids), ids)
		}
	}
	for _, k := range sortedKeys(risks) {
		r := risks[k]
		if len(byKey[k]) == 0 {
			t.Errorf("risk %s has no issue in Redmine", k)
		} else if m := "usmhub-" + r.ID; len(byMarker[m]) == 0 {
			t.Errorf("risk %s: no issue carries its marker %s", k, m)
		}
	}
	if len(issues) != len(risks) {
		t.Errorf("Redmine holds %d risk issues for %d hub risks", len(issues), len(risks))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return naturalLess(keys[i], keys[j]) })
	return keys
}

// naturalLess orders R-2 before R-10.
func naturalLess(a, b string) bool {
	pa, na := splitNum(a)
	pb, nb := splitNum(b)
	if pa != pb || na < 0 || nb < 0 {
		return a < b
	}
	return na < nb
}

func splitNum(s string) (string, int) {
	i := strings.LastIndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return s, -1
	}
	return s[:i+1], n
}

var re = regexp.MustCompile

// A create POST that Redmine stored but that the connector saw answered
// 503 (a proxy or load balancer failing after the backend did the work):
// the run that could not confirm its creates must say so (exit 1; status
// not ok while the creates are pending), and the next syncs must find the
// stored issues by their markers instead of creating them again: exactly
// one issue per marker.
func TestFaultCreate503AfterStored(t *testing.T) {
	requireRedmine(t)
	rm := adminAPI(t)
	const n = 3

	t.Run("redmine_fails_after_storing", func(t *testing.T) {
		// Every create is stored by Redmine and answered 503; once the
		// first is, every other request fails too (503 before Redmine), so
		// no client can confirm what happened: the run has failed.
		project := rm.newProject("f503all")
		p := newFaultProxy(t, redmine["REDMINE_URL"], 1)
		h := newHubVia(t, project, p.URL)
		h.OK("risk", "import", h.faultInventory(n))
		post := &faultRule{Method: "POST", Path: re(`^/issues\.json$`), Fault: fault5xxAfter, Count: 1000, Name: "POST stored by Redmine, answered 503"}
		p.set(post, &faultRule{Fault: fault5xxBefore, Count: 1000, OnlyAfter: post, Name: "Redmine failing since"})
		first := h.syncRisks()
		p.passThrough()
		faults := p.injected()
		stored := riskIssues(rm, project)
		t.Logf("the faulted run: %s", first)
		t.Logf("the proxy injected %d faults: %d POSTs stored by Redmine but answered 503; Redmine now holds %d issues for %d risks",
			len(faults), p.firedOf(post), len(stored), n)
		if p.firedOf(post) == 0 {
			t.Fatal("the connector never POSTed a create: the test proves nothing")
		}
		if first.code != 1 {
			t.Errorf("HIDDEN: usmhub sync exited %d for a run whose %d create POST(s) all got 503 (Redmine stored %d issues the hub could not confirm); want exit 1",
				first.code, p.firedOf(post), len(stored))
		}
		st := h.status()
		t.Logf("status after the faulted run: %s", st)
		if st.Health == "ok" {
			t.Errorf("HIDDEN: usmhub status says the risk sync is ok after a run that could not confirm its creates (%d pending): %s",
				st.Links["pending_create"], st)
		}

		runs, settled := h.settle(6)
		for i, r := range runs {
			t.Logf("pass-through sync %d: %s", i+1, r)
		}
		if !settled {
			t.Errorf("%d pass-through syncs did not settle: the last %s", len(runs), runs[len(runs)-1])
		}
		checkOneIssueEach(t, riskIssues(rm, project), h.risksByKey())
		if st := h.status(); st.Health != "ok" || st.Links["linked"] != n || st.Links["pending_create"] != 0 {
			t.Errorf("status after the syncs settled: %s; want ok, %d linked", st, n)
		}
	})

	t.Run("one_create_answered_503", func(t *testing.T) {
		// Only the first POST is answered 503 after Redmine stored it;
		// everything else goes through (the classic doubled ticket of a
		// blindly retried POST).
		project := rm.newProject("f503one")
		p := newFaultProxy(t, redmine["REDMINE_URL"], 2)
		h := newHubVia(t, project, p.URL)
		h.OK("risk", "import", h.faultInventory(n))
		post := &faultRule{Method: "POST", Path: re(`^/issues\.json$`), Fault: fault5xxAfter, Count: 1, Name: "POST stored by Redmine, answered 503"}
		p.set(post)
		first := h.syncRisks()
		p.passThrough()
		t.Logf("the faulted run: %s; status then: %s", first, h.status())
		checkHonest(t, "the run whose first POST got 503", first)
		if p.firedOf(post) != 1 {
			t.Fatal("the connector never POSTed a create: the test proves nothing")
		}
		runs, settled := h.settle(6)
		for i, r := range runs {
			t.Logf("pass-through sync %d: %s", i+1, r)
		}
		if !settled {
			t.Errorf("%d pass-through syncs did not settle: the last %s", len(runs), runs[len(runs)-1])
		}
		checkOneIssueEach(t, riskIssues(rm, project), h.risksByKey())
	})
}

// A truncated 200 answer to an update (Redmine stored it; the connection
// broke before the body was through) is a transient failure, not Redmine
// refusing the values: the risk must not be quarantined ("push refused"),
// and the update is in place (both sides) after the next sync.
func TestFaultTruncatedUpdate(t *testing.T) {
	requireRedmine(t)
	t.Run("put_answer", func(t *testing.T) {
		truncatedUpdate(t, func() (*faultRule, []*faultRule) {
			put := &faultRule{Method: "PUT", Path: re(`^/issues/\d+\.json$`), Fault: faultTruncate, Count: 1, Name: "PUT stored by Redmine, 200 truncated"}
			return put, []*faultRule{put}
		})
	})
	t.Run("read_back_answer", func(t *testing.T) {
		// The listing that reads the updated issue back after the PUT
		// (Redmine's 204 hides refused status changes) is truncated.
		truncatedUpdate(t, func() (*faultRule, []*faultRule) {
			put := &faultRule{Method: "PUT", Path: re(`^/issues/\d+\.json$`), Fault: faultPass, Count: 1000}
			back := &faultRule{Method: "GET", Path: re(`^/issues\.json$`), Fault: faultTruncate, Count: 1, OnlyAfter: put, Name: "read-back after the PUT, 200 truncated"}
			return back, []*faultRule{put, back}
		})
	})
}

// truncatedUpdate syncs 3 risks, changes one in the hub and syncs with
// the rules of faults (which returns the one that must fire), then without.
func truncatedUpdate(t *testing.T, faults func() (*faultRule, []*faultRule)) {
	rm := adminAPI(t)
	project := rm.newProject("ftrunc")
	p := newFaultProxy(t, redmine["REDMINE_URL"], 3)
	h := newHubVia(t, project, p.URL)
	const n = 3
	h.OK("risk", "import", h.faultInventory(n))
	if runs, ok := h.settle(4); !ok {
		t.Fatalf("the first syncs (no faults) did not settle: %s", runs[len(runs)-1])
	}

	h.OK("risk", "update", "R-2", "-likelihood", "5", "-title", "Truncated answer, stored update")
	must, rules := faults()
	p.set(rules...)
	faulted := h.syncRisks()
	p.passThrough()
	t.Logf("the faulted run: %s", faulted)
	checkHonest(t, "the run whose answer was truncated", faulted)
	t.Logf("the proxy injected: %v", p.injected())
	if p.firedOf(must) != 1 {
		t.Fatalf("%s never happened (%d): the test proves nothing", must.Name, p.firedOf(must))
	}
	quarantined := func(when string, r *syncRun) {
		st := h.status()
		if len(st.Quarantined) > 0 || st.Links["quarantined"] > 0 {
			t.Errorf("QUARANTINED %s: a truncated 200 made the update a permanent refusal: %s; reasons: %+v", when, st, st.Quarantined)
		}
		if r != nil {
			for _, c := range r.changes {
				if c.Op == "quarantine" || strings.Contains(strings.ToLower(c.Reason), "refused") {
					t.Errorf("%s: the run reports %s %s %s: %s", when, c.Direction, c.Op, c.Key, c.Reason)
				}
			}
		}
	}
	quarantined("after the faulted run", &faulted)

	runs, settled := h.settle(6)
	for i, r := range runs {
		t.Logf("pass-through sync %d: %s", i+1, r)
		quarantined(fmt.Sprintf("after pass-through sync %d", i+1), &runs[i])
	}
	if !settled {
		t.Errorf("%d pass-through syncs did not settle: the last %s", len(runs), runs[len(runs)-1])
	}
	risks := h.risksByKey()
	issues := checkOneIssueEach(t, riskIssues(rm, project), risks)
	is, r := issues["R-2"], risks["R-2"]
	if is.cf("LIKELIHOOD") != "5" || is.Subject != "Truncated answer, stored update" {
		t.Errorf("LOST: issue #%d of R-2 has likelihood %q and subject %q, want 5 and the hub's title", is.ID, is.cf("LIKELIHOOD"), is.Subject)
	}
	if r.Likelihood != 5 || r.Title != "Truncated answer, stored update" {
		t.Errorf("LOST: R-2 in the hub has likelihood %d and title %q, want 5 and its own title", r.Likelihood, r.Title)
	}
}

// 429 with Retry-After is honoured: no request comes back inside the
// window (the proxy refuses those again and counts them), and the sync
// completes — the run that met the 429s succeeds, with everything landed.
func TestFault429RetryAfter(t *testing.T) {
	requireRedmine(t)
	rm := adminAPI(t)
	project := rm.newProject("f429")
	p := newFaultProxy(t, redmine["REDMINE_URL"], 4)
	h := newHubVia(t, project, p.URL)
	const n = 3
	h.OK("risk", "import", h.faultInventory(n))

	list := &faultRule{Method: "GET", Path: re(`^/issues\.json$`), Fault: fault429, Count: 1, RetryAfter: 2, Name: "listing rate-limited"}
	post := &faultRule{Method: "POST", Path: re(`^/issues\.json$`), Fault: fault429, Count: 1, RetryAfter: 2, Name: "create rate-limited"}
	p.set(list, post)
	first := h.syncRisks()
	t.Logf("creates under 429: %s; injected %v", first, p.injected())
	if p.firedOf(list)+p.firedOf(post) == 0 {
		t.Fatal("no request was rate-limited: the test proves nothing")
	}
	if first.code != 0 || first.counts["errors"] != 0 || first.counts["push_creates"] != n {
		t.Errorf("the sync that met 429 with Retry-After did not complete: %s; want exit 0 and %d creates", first, n)
	}
	p.passThrough()
	if runs, ok := h.settle(4); !ok {
		t.Fatalf("the syncs after the creates did not settle: %s", runs[len(runs)-1])
	}

	h.OK("risk", "update", "R-1", "-likelihood", "4")
	put := &faultRule{Method: "PUT", Path: re(`^/issues/\d+\.json$`), Fault: fault429, Count: 2, RetryAfter: 1, Name: "update rate-limited twice"}
	p.set(put)
	second := h.syncRisks()
	t.Logf("an update under 429: %s; injected %v", second, p.injected())
	if p.firedOf(put) == 0 {
		t.Error("no PUT was rate-limited")
	}
	if second.code != 0 || second.counts["errors"] != 0 || second.counts["push_updates"] != 1 {
		t.Errorf("the sync that met 429 twice on its update did not complete: %s; want exit 0 and 1 update", second)
	}
	p.passThrough()
	for _, e := range p.earlyRequests() {
		t.Errorf("Retry-After NOT HONOURED: %s %s came back inside the window of the 429 before it (at %s)", e.Method, e.Target, e.At.Format("15:04:05.000"))
	}
	if runs, ok := h.settle(3); !ok {
		t.Errorf("the syncs after the 429s did not settle: %s", runs[len(runs)-1])
	}
	issues := checkOneIssueEach(t, riskIssues(rm, project), h.risksByKey())
	if is := issues["R-1"]; is.cf("LIKELIHOOD") != "4" {
		t.Errorf("LOST: issue #%d of R-1 has likelihood %q, want 4", is.ID, is.cf("LIKELIHOOD"))
	}
}
