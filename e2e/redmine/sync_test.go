package redmine_test

import (
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The whole loop on a real Redmine, step by step on one hub and one
// project: 200 risks become 200 issues; changes made in Redmine come back
// per the authority rules; changes made in the hub go out; a field both
// sides changed goes to its owner and the conflict is in the audit log;
// the request counts of quiet and busy syncs; a planned sprint becomes a
// version holding its issues; a sprint report published twice is one
// issue, updated.
func TestSyncWithRedmine(t *testing.T) {
	requireRedmine(t)
	rm := adminAPI(t)
	project := rm.newProject("sync")
	h := newHub(t, project)
	const n = 200
	h.OK("risk", "import", h.inventory(n))

	// 200 risks → 200 issues, each with its marker and key.
	counts := h.sync("risks")["risks"]
	if counts["push_creates"] != n || counts["errors"] != 0 || counts["quarantined"] != 0 {
		t.Fatalf("first sync: %v, want %d creates and no errors", counts, n)
	}
	issues := rm.risks(project)
	if len(issues) != n {
		t.Fatalf("Redmine has %d risk issues, want %d", len(issues), n)
	}
	markers := map[string]string{}
	for key, is := range issues {
		m := is.cf("MARKER")
		if !strings.HasPrefix(m, "usmhub-") {
			t.Errorf("issue #%d (%s) has marker %q", is.ID, key, m)
		}
		if other, dup := markers[m]; dup {
			t.Errorf("marker %s is on %s and %s", m, other, key)
		}
		markers[m] = key
	}
	r7 := issues["R-7"] // likelihood 3, impact 2, effort 4, owner anna, proposed
	if r7.Subject != "Risk 7: repeat incidents at desk 0" || r7.Status.Name != "New" || r7.AssignedTo == nil ||
		r7.cf("LIKELIHOOD") != "3" || r7.cf("IMPACT") != "2" || r7.cf("EFFORT") != "4" || r7.cf("KIND") != "threat" ||
		r7.cf("PROCESS") != "recover" || r7.Description != "Found in the baseline scan.\r\nSecond line of risk 7." {
		t.Errorf("issue of R-7 = %+v", r7)
	}
	if r5 := issues["R-5"]; r5.AssignedTo != nil || r5.Status.Name != "New" {
		t.Errorf("issue of R-5 (owner Hanna de Vries, no Redmine login; proposed): assignee %v, status %q; want none and New", r5.AssignedTo, r5.Status.Name)
	}
	// Nothing echoes: the next sync changes nothing on either side.
	if c := h.sync("risks")["risks"]; changed(c) {
		t.Fatalf("second sync changed things: %v", c)
	}
	if r := h.risks()["R-5"]; r.Owner != "Hanna de Vries" {
		t.Errorf("R-5 in the hub has owner %q after syncs, want Hanna de Vries kept", r.Owner)
	}

	t.Run("redmine_changes_come_back", func(t *testing.T) {
		// Redmine owns status and likelihood (authority default remote).
		is := issues["R-9"] // accepted, likelihood 5
		rm.setIssue(is.ID, map[string]any{"status_id": rm.statusID("Rejected"),
			"custom_fields": []any{cfUpdate("LIKELIHOOD", "2")}})
		c := h.sync("risks")["risks"]
		if c["hub_updates"] != 1 || c["errors"] != 0 {
			t.Errorf("sync after a change in Redmine: %v, want 1 hub update", c)
		}
		r := h.risks()["R-9"]
		if r.Status != "rejected" || r.Likelihood != 2 {
			t.Errorf("R-9 in the hub: status %q, likelihood %d; want rejected and 2 from Redmine", r.Status, r.Likelihood)
		}
	})

	t.Run("hub_changes_go_out", func(t *testing.T) {
		h.OK("risk", "update", "R-10", "-likelihood", "5", "-description", "Rewritten in the hub.\nTwo lines.", "-status", "accepted")
		c := h.sync("risks")["risks"]
		if c["push_updates"] != 1 || c["errors"] != 0 {
			t.Errorf("sync after a change in the hub: %v, want 1 push update", c)
		}
		is := rm.risks(project)["R-10"]
		if is.cf("LIKELIHOOD") != "5" || is.Status.Name != "Accepted" || is.Description != "Rewritten in the hub.\r\nTwo lines." {
			t.Errorf("issue of R-10: likelihood %q, status %q, description %q", is.cf("LIKELIHOOD"), is.Status.Name, is.Description)
		}
	})

	t.Run("conflict_owner_wins", func(t *testing.T) {
		// Both change impact (Redmine owns it) and the title (the hub owns it).
		is := issues["R-11"]
		h.OK("risk", "update", "R-11", "-impact", "1", "-title", "Title from the hub")
		rm.setIssue(is.ID, map[string]any{"subject": "Title from Redmine", "custom_fields": []any{cfUpdate("IMPACT", "5")}})
		c := h.sync("risks")["risks"]
		if c["conflicts"] != 2 || c["errors"] != 0 {
			t.Errorf("sync with both sides changed: %v, want 2 conflicts", c)
		}
		r := h.risks()["R-11"]
		if r.Impact != 5 || r.Title != "Title from the hub" {
			t.Errorf("R-11 in the hub: impact %d, title %q; want 5 (Redmine owns it) and the hub's title", r.Impact, r.Title)
		}
		got := rm.risks(project)["R-11"]
		if got.cf("IMPACT") != "5" || got.Subject != "Title from the hub" {
			t.Errorf("issue of R-11: impact %q, subject %q; want 5 and the hub's title", got.cf("IMPACT"), got.Subject)
		}
		log := h.OK("log", "-entity", "R-11")
		for _, want := range []string{"conflict:impact", "conflict:title", "remote wins", "hub wins"} {
			if !strings.Contains(log, want) {
				t.Errorf("usmhub log -entity R-11 lacks %q:\n%s", want, log)
			}
		}
		if c := h.sync("risks")["risks"]; changed(c) {
			t.Errorf("the sync after the conflict changed things: %v", c)
		}
	})

	t.Run("request_counts", func(t *testing.T) {
		h.sync("risks") // settle
		quiet := h.countSync()
		for i := 20; i < 30; i++ {
			h.OK("risk", "update", "R-"+strconv.Itoa(i), "-likelihood", strconv.Itoa(1+(i+2)%5))
		}
		busy := h.countSync()
		t.Logf("Redmine requests of `usmhub sync risks` (%d risks, lookback 1s): 0 changed: %d %v; 10 changed: %d %v",
			n, len(quiet), summary(quiet), len(busy), summary(busy))
		writeBenchmark(t, quiet, busy)
		// 0 changes: one listing page. 10 changes: those, one listing page
		// reading the 10 issues before (the stale check) and one after
		// (Redmine's 204 hides refusals). Besides, once per connector
		// launch, metadata: the project's trackers and custom fields, and
		// the user directory when a listed issue has an assignee.
		checkCounts(t, "a sync with nothing changed", quiet, 1, 0)
		checkCounts(t, "a sync of 10 changed risks", busy, 3, 10)
	})

	t.Run("sprint_becomes_version", func(t *testing.T) {
		h.OK("sprint", "plan", "-start", "2026-12-01", "-end", "2026-12-14", "-goal", "Fewer repeat incidents")
		var s struct {
			Number int `json:"number"`
			Items  []struct {
				Key string `json:"key"`
			} `json:"items"`
		}
		h.JSONOf(&s, "sprint", "show", "1")
		if len(s.Items) == 0 {
			t.Fatal("the planned sprint has no items")
		}
		res := h.sync() // risks (now planned), then sprints
		if c := res["sprints"]; c["push_creates"] != 1 || c["errors"] != 0 {
			t.Fatalf("sprint sync: %v, want 1 create", c)
		}
		var versions struct {
			Versions []struct {
				ID      int    `json:"id"`
				Name    string `json:"name"`
				Status  string `json:"status"`
				DueDate string `json:"due_date"`
			} `json:"versions"`
		}
		rm.call("GET", "projects/"+project+"/versions.json", nil, nil, &versions)
		if len(versions.Versions) != 1 {
			t.Fatalf("project has %d versions, want 1: %+v", len(versions.Versions), versions)
		}
		v := versions.Versions[0]
		if v.Name != "Sprint 1: Fewer repeat incidents" || v.DueDate != "2026-12-14" || v.Status != "open" {
			t.Errorf("version = %+v", v)
		}
		var want, got []string
		for _, it := range s.Items {
			want = append(want, it.Key)
		}
		for _, is := range rm.issues(project, url.Values{"fixed_version_id": {strconv.Itoa(v.ID)}}) {
			got = append(got, is.cf("KEY"))
			if is.Status.Name != "Planned" {
				t.Errorf("issue #%d (%s) of the sprint has status %q, want Planned", is.ID, is.cf("KEY"), is.Status.Name)
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(want, ",") != strings.Join(got, ",") {
			t.Errorf("version %d holds %v, want the sprint's items %v", v.ID, got, want)
		}
		if c := h.sync(); changed(c["risks"]) || changed(c["sprints"]) {
			t.Errorf("the sync after the sprint changed things: %v", c)
		}

		// Closing the sprint closes the version.
		h.OK("sprint", "start", "1")
		h.OK("sprint", "close", "1", "-realized", want[0])
		h.sync()
		rm.call("GET", "projects/"+project+"/versions.json", nil, nil, &versions)
		if v := versions.Versions[0]; v.Status != "closed" {
			t.Errorf("after closing the sprint its version is %q, want closed", v.Status)
		}
		if is := rm.risks(project)[want[0]]; is.Status.Name != "Closed" {
			t.Errorf("realised %s: issue status %q, want Closed", want[0], is.Status.Name)
		}
	})

	t.Run("report_published_twice_is_one_issue", func(t *testing.T) {
		first := h.OK("report", "sprint", "-sprint", "1", "-publish", "redmine.main")
		if !strings.HasPrefix(first, "created ") {
			t.Errorf("first publish: %q, want created", first)
		}
		second := h.OK("report", "sprint", "-sprint", "1", "-publish", "redmine.main")
		if !strings.HasPrefix(second, "updated ") {
			t.Errorf("second publish: %q, want updated", second)
		}
		reports := rm.issues(project, url.Values{"tracker_id": {redmine["REDMINE_REPORT_TRACKER_ID"]}})
		if len(reports) != 1 {
			t.Fatalf("%d report issues, want 1", len(reports))
		}
		if r := reports[0]; !strings.Contains(r.Description, "Fewer repeat incidents") || !strings.Contains(first, fmt.Sprintf("/issues/%d", r.ID)) {
			t.Errorf("report issue #%d: subject %q, description %.200q; publish said %q", r.ID, r.Subject, r.Description, first)
		}
		// Reports are not risks: the risk sync does not take them.
		if c := h.sync("risks")["risks"]; c["hub_creates"] != 0 {
			t.Errorf("the risk sync after publishing created %d hub risks", c["hub_creates"])
		}
	})
}

// countSync runs `usmhub sync risks` and returns the Redmine requests it made.
func (h *hub) countSync() []string {
	h.T.Helper()
	before := len(h.requests())
	c := h.sync("risks")["risks"]
	if c["errors"] != 0 || c["quarantined"] != 0 {
		h.T.Errorf("sync: %v", c)
	}
	return h.requests()[before:]
}

// checkCounts checks a sync's requests: lists listing pages, puts PUTs,
// and at most one request each for the project's metadata and the users.
func checkCounts(t *testing.T, what string, reqs []string, lists, puts int) {
	t.Helper()
	var gotLists, gotPuts, project, users int
	for _, r := range reqs {
		f := strings.Fields(r)
		if len(f) >= 2 {
			f[1] = strings.TrimPrefix(f[1], "/") // the request log writes the path whole
		}
		switch {
		case len(f) < 2:
		case f[0] == "GET" && strings.HasPrefix(f[1], "issues.json"):
			gotLists++
		case f[0] == "PUT" && strings.HasPrefix(f[1], "issues/"):
			gotPuts++
		case f[0] == "GET" && strings.HasPrefix(f[1], "projects/"):
			project++
		case f[0] == "GET" && strings.HasPrefix(f[1], "users.json"):
			users++
		default:
			t.Errorf("%s made an unexpected request: %s", what, r)
		}
	}
	if gotLists != lists || gotPuts != puts || project > 1 || users > 1 {
		t.Errorf("%s made %d listing requests and %d PUTs (want %d and %d), %d project and %d user look-ups (want at most 1 each):\n%s",
			what, gotLists, gotPuts, lists, puts, project, users, strings.Join(reqs, "\n"))
	}
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

// summary groups requests as "GET issues.json ×3".
func summary(reqs []string) []string {
	by := map[string]int{}
	for _, r := range reqs {
		f := strings.Fields(r)
		if len(f) < 2 {
			continue
		}
		path, _, _ := strings.Cut(f[1], "?")
		if strings.HasPrefix(path, "/issues/") {
			path = "/issues/N.json"
		}
		by[f[0]+" "+path]++
	}
	var out []string
	for k, v := range by {
		out = append(out, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(out)
	return out
}

// writeBenchmark leaves the counts where the lead can pick them up
// (USMHUB_E2E_COUNTS=path), besides the test log.
func writeBenchmark(t *testing.T, quiet, busy []string) {
	path := os.Getenv("USMHUB_E2E_COUNTS")
	if path == "" {
		return
	}
	body := fmt.Sprintf("0 changed risks: %d requests\n%s\n\n10 changed risks: %d requests\n%s\n",
		len(quiet), strings.Join(quiet, "\n"), len(busy), strings.Join(busy, "\n"))
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Error(err)
	}
}
