package github_test

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/usmhub/usmhub/connectors/github/fakegithub"
)

// issuesByKey maps each risk key to its issues (the key from the body's
// block), and returns the count of issues of the risk label.
func issuesByKey(f *fakegithub.Server) map[string][]github.Issue {
	out := map[string][]github.Issue{}
	for _, is := range f.Issues(owner, repo) {
		risk := false
		for _, l := range is.Labels {
			risk = risk || l.GetName() == "usm-risk"
		}
		if !risk {
			continue
		}
		if m := keyRE.FindStringSubmatch(is.GetBody()); m != nil {
			out[m[1]] = append(out[m[1]], is)
		} else {
			out[""] = append(out[""], is)
		}
	}
	return out
}

var (
	keyRE        = regexp.MustCompile(`(?m)^- key: (\S+)$`)
	markerRE     = regexp.MustCompile(`<!-- usmhub-marker: (usmhub-\S+) -->`)
	likelihoodRE = regexp.MustCompile(`(?m)^- likelihood: (\d)$`)
)

func labelsOf(is github.Issue) []string {
	var out []string
	for _, l := range is.Labels {
		out = append(out, l.GetName())
	}
	sort.Strings(out)
	return out
}

// The whole loop on one hub and one fake repository: 200 risks become 200
// issues; changes made in GitHub come back, changes made in the hub go
// out; the request counts of quiet and busy syncs; a planned sprint becomes
// a milestone holding its issues; 👍 reactions of voters are votes, and a
// removed one is withdrawn; a report published twice is one issue.
func TestSyncWithGitHub(t *testing.T) {
	f := newFake(t)
	h := newHub(t, f.BaseURL())
	const n = 200
	h.OK("risk", "import", h.inventory(n))

	c := h.sync("risks")["risks"]
	if c["push_creates"] != n || c["errors"] != 0 || c["quarantined"] != 0 {
		t.Fatalf("first sync: %v, want %d creates and no errors", c, n)
	}
	byKey := issuesByKey(f)
	markers := map[string]bool{}
	for i := 1; i <= n; i++ {
		list := byKey["R-"+strconv.Itoa(i)]
		if len(list) != 1 {
			t.Fatalf("R-%d has %d issues, want 1", i, len(list))
		}
		m := markerRE.FindStringSubmatch(list[0].GetBody())
		if m == nil || markers[m[1]] {
			t.Fatalf("R-%d: marker missing or doubled in\n%s", i, list[0].GetBody())
		}
		markers[m[1]] = true
	}
	r3 := byKey["R-3"][0] // accepted, owner anna
	if got := strings.Join(labelsOf(r3), ","); got != "kind: threat,status: accepted,usm-risk" || len(r3.Assignees) != 1 || r3.Assignees[0].GetLogin() != "anna" ||
		!strings.HasPrefix(r3.GetBody(), "Found in the baseline scan.\nSecond line of risk 3.\n\n<details><summary>USM risk R-3</summary>") {
		t.Errorf("issue of R-3: labels %s, assignees %v, body\n%s", got, r3.Assignees, r3.GetBody())
	}
	if r5 := byKey["R-5"][0]; len(r5.Assignees) != 0 {
		t.Errorf("issue of R-5 (owner Hanna de Vries, no GitHub login) is assigned to %v", r5.Assignees)
	}
	if c := h.sync("risks")["risks"]; changed(c) {
		t.Fatalf("second sync changed things: %v", c)
	}
	if r := h.risks()["R-5"]; r.Owner != "Hanna de Vries" {
		t.Errorf("R-5 in the hub has owner %q after syncs, want Hanna de Vries kept", r.Owner)
	}

	t.Run("github_changes_come_back", func(t *testing.T) {
		is := byKey["R-9"][0] // accepted, likelihood 5
		f.Edit(owner, repo, is.GetNumber(), func(is *github.Issue) {
			body := likelihoodRE.ReplaceAllString(is.GetBody(), "- likelihood: 2")
			is.Body = github.String(strings.ReplaceAll(body, "\n", "\r\n"))
			is.State, is.StateReason = github.String("closed"), github.String("not_planned")
		})
		c := h.sync("risks")["risks"]
		if c["hub_updates"] != 1 || c["errors"] != 0 {
			t.Errorf("sync after a change in GitHub: %v, want 1 hub update", c)
		}
		if r := h.risks()["R-9"]; r.Status != "rejected" || r.Likelihood != 2 {
			t.Errorf("R-9 in the hub: status %q, likelihood %d; want rejected and 2 from GitHub", r.Status, r.Likelihood)
		}
	})

	t.Run("hub_changes_go_out", func(t *testing.T) {
		h.OK("risk", "update", "R-10", "-likelihood", "5", "-description", "Rewritten in the hub.\nTwo lines.", "-status", "accepted")
		c := h.sync("risks")["risks"]
		if c["push_updates"] != 1 || c["errors"] != 0 {
			t.Errorf("sync after a change in the hub: %v, want 1 push update", c)
		}
		is := issuesByKey(f)["R-10"][0]
		if !strings.Contains(is.GetBody(), "- likelihood: 5") || !strings.HasPrefix(is.GetBody(), "Rewritten in the hub.\nTwo lines.\n\n<details>") ||
			!strings.Contains(strings.Join(labelsOf(is), ","), "status: accepted") {
			t.Errorf("issue of R-10: labels %v, body\n%s", labelsOf(is), is.GetBody())
		}
	})

	t.Run("request_counts", func(t *testing.T) {
		// Settle: the first sync after changes moves the cursor, and the
		// listing from the new cursor is answered 200 once.
		h.sync("risks")
		h.sync("risks")
		quiet := countSync(t, h, f)
		for i := 20; i < 30; i++ {
			h.OK("risk", "update", "R-"+strconv.Itoa(i), "-likelihood", strconv.Itoa(1+(i+2)%5))
		}
		busy := countSync(t, h, f)
		t.Logf("GitHub requests of `usmhub sync risks` (%d linked risks, lookback 2s): 0 changed: %s; 10 changed: %s", n, quiet, busy)
		if quiet.total == 0 || quiet.total != quiet.notModified {
			t.Errorf("a quiet sync made %d requests of which %d answered 304; want only 304s: %v", quiet.total, quiet.notModified, quiet.lines)
		}
		if busy.patches != 10 || busy.other != 0 {
			t.Errorf("a sync of 10 changed risks: %s; want 10 PATCHes, the issues read before, listing pages and nothing else: %v", busy, busy.lines)
		}
		if path := os.Getenv("USMHUB_E2E_COUNTS"); path != "" {
			os.WriteFile(path, []byte(fmt.Sprintf("quiet: %s\n%s\n\nbusy: %s\n%s\n", quiet, strings.Join(quiet.lines, "\n"), busy, strings.Join(busy.lines, "\n"))), 0o644)
		}
	})

	t.Run("sprint_becomes_milestone", func(t *testing.T) {
		h.OK("sprint", "plan", "-start", "2026-12-01", "-end", "2026-12-14", "-goal", "Fewer repeat incidents")
		var s struct {
			Items []struct {
				Key string `json:"key"`
			} `json:"items"`
		}
		h.JSONOf(&s, "sprint", "show", "1")
		if len(s.Items) == 0 {
			t.Fatal("the planned sprint has no items")
		}
		res := h.sync("risks", "sprints")
		if c := res["sprints"]; c["push_creates"] != 1 || c["errors"] != 0 {
			t.Fatalf("sprint sync: %v, want 1 create", res)
		}
		ms := f.Milestones(owner, repo)
		if len(ms) != 1 || ms[0].GetTitle() != "Sprint 1: Fewer repeat incidents" || ms[0].GetState() != "open" ||
			ms[0].GetDueOn().In(pacificTZ(t)).Format("2006-01-02") != "2026-12-14" {
			t.Fatalf("milestones = %+v", ms)
		}
		var want, got []string
		for _, it := range s.Items {
			want = append(want, it.Key)
		}
		for key, list := range issuesByKey(f) {
			if list[0].Milestone != nil && list[0].Milestone.GetNumber() == ms[0].GetNumber() {
				got = append(got, key)
				if l := strings.Join(labelsOf(list[0]), ","); !strings.Contains(l, "status: planned") {
					t.Errorf("issue of %s in the sprint has labels %s, want status: planned", key, l)
				}
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(want, ",") != strings.Join(got, ",") {
			t.Errorf("milestone %d holds %v, want the sprint's items %v", ms[0].GetNumber(), got, want)
		}
		if c := h.sync("risks", "sprints"); changed(c["risks"]) || changed(c["sprints"]) {
			t.Errorf("the sync after the sprint changed things: %v", c)
		}
		h.OK("sprint", "start", "1")
		h.OK("sprint", "close", "1", "-realized", want[0])
		h.sync("risks", "sprints")
		if ms := f.Milestones(owner, repo); ms[0].GetState() != "closed" {
			t.Errorf("after closing the sprint its milestone is %q, want closed", ms[0].GetState())
		}
		if is := issuesByKey(f)[want[0]][0]; is.GetState() != "closed" || is.GetStateReason() != "completed" {
			t.Errorf("realised %s: issue %s (%s), want closed as completed", want[0], is.GetState(), is.GetStateReason())
		}
	})

	t.Run("reactions_are_votes", func(t *testing.T) {
		num := issuesByKey(f)["R-12"][0].GetNumber()
		f.React(owner, repo, num, "kmulder", "+1", true)
		f.React(owner, repo, num, "lotte", "+1", true)
		f.React(owner, repo, num, "stranger", "+1", true) // not a voter
		f.React(owner, repo, num, "kmulder", "heart", true)
		c := h.sync("votes")["votes"]
		if c["errors"] != 0 || c["quarantined"] != 0 {
			t.Errorf("vote sync: %v", c)
		}
		if v := h.risks()["R-12"].Votes; v != 2 {
			t.Errorf("R-12 has %d votes after two voters' 👍, want 2", v)
		}
		f.React(owner, repo, num, "lotte", "+1", false)
		c = h.sync("votes")["votes"]
		if v := h.risks()["R-12"].Votes; v != 1 || c["errors"] != 0 {
			t.Errorf("R-12 has %d votes after a 👍 was removed (sync %v), want 1", v, c)
		}
	})

	t.Run("report_published_twice_is_one_issue", func(t *testing.T) {
		first := h.OK("report", "sprint", "-sprint", "1", "-publish", "github.main")
		second := h.OK("report", "sprint", "-sprint", "1", "-publish", "github.main")
		if !strings.HasPrefix(first, "created ") || !strings.HasPrefix(second, "updated ") {
			t.Errorf("publishes said %q then %q, want created then updated", first, second)
		}
		var reports []github.Issue
		for _, is := range f.Issues(owner, repo) {
			if strings.Join(labelsOf(is), ",") == "usm-report" {
				reports = append(reports, is)
			}
		}
		if len(reports) != 1 || !strings.Contains(reports[0].GetBody(), "Fewer repeat incidents") || !strings.HasSuffix(reports[0].GetTitle(), "]") {
			t.Fatalf("%d report issues (want 1): %+v", len(reports), reports)
		}
		if c := h.sync("risks")["risks"]; c["hub_creates"] != 0 {
			t.Errorf("the risk sync after publishing created %d hub risks", c["hub_creates"])
		}
	})
}

// requestCount sorts the fake's requests of one sync.
type requestCount struct {
	total, notModified, patches, issueReads, listings, other int
	lines                                                    []string
}

func (r requestCount) String() string {
	return fmt.Sprintf("%d requests (%d answered 304): %d listing pages, %d issue reads, %d PATCHes, %d other",
		r.total, r.notModified, r.listings, r.issueReads, r.patches, r.other)
}

var issuePath = regexp.MustCompile(`^/api/v3/repos/[^/]+/[^/]+/issues/\d+$`)

// countSync runs `usmhub sync risks` and sorts the requests the fake saw.
func countSync(t *testing.T, h *hub, f *fakegithub.Server) requestCount {
	t.Helper()
	before := len(f.Log())
	c := h.sync("risks")["risks"]
	if c["errors"] != 0 || c["quarantined"] != 0 {
		t.Errorf("sync: %v", c)
	}
	var r requestCount
	for _, line := range f.Log()[before:] {
		r.lines = append(r.lines, line)
		fields := strings.Fields(line)
		path, _, _ := strings.Cut(fields[1], "?")
		r.total++
		if fields[2] == "304" {
			r.notModified++
		}
		switch {
		case fields[0] == "GET" && strings.HasSuffix(path, "/issues"):
			r.listings++
		case fields[0] == "GET" && issuePath.MatchString(path):
			r.issueReads++
		case fields[0] == "PATCH" && issuePath.MatchString(path):
			r.patches++
		default:
			r.other++
		}
	}
	return r
}
