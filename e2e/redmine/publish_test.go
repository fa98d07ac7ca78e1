package redmine_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// rmAttachment is a file on a Redmine issue, as its API lists it.
type rmAttachment struct {
	ID          int    `json:"id"`
	Filename    string `json:"filename"`
	Filesize    int    `json:"filesize"`
	ContentType string `json:"content_type"`
	Description string `json:"description"`
}

// reportAttachments returns the files of the project's one report issue
// by name, failing the test unless there is exactly one report issue and
// one file per name.
func reportAttachments(t *testing.T, rm *api, project string) map[string]rmAttachment {
	t.Helper()
	reports := rm.issues(project, url.Values{"tracker_id": {redmine["REDMINE_REPORT_TRACKER_ID"]}})
	if len(reports) != 1 {
		t.Fatalf("%d report issues, want 1", len(reports))
	}
	var out struct {
		Issue struct {
			Attachments []rmAttachment `json:"attachments"`
		} `json:"issue"`
	}
	rm.call("GET", fmt.Sprintf("issues/%d.json", reports[0].ID), url.Values{"include": {"attachments"}}, nil, &out)
	byName := map[string]rmAttachment{}
	for _, a := range out.Issue.Attachments {
		if _, dup := byName[a.Filename]; dup {
			t.Errorf("report issue #%d holds %s twice: %+v", reports[0].ID, a.Filename, out.Issue.Attachments)
		}
		byName[a.Filename] = a
	}
	return byName
}

// TestPublishChartsToRedmine proves a published report carries its charts
// as attachments of its issue, replaced in place: publishing again leaves
// one file per chart name, re-uploads only the charts that changed, and
// deletes the file it replaces.
func TestPublishChartsToRedmine(t *testing.T) {
	requireRedmine(t)
	rm := adminAPI(t)
	project := rm.newProject("publish")
	h := newHub(t, project)
	h.OK("risk", "import", h.inventory(6))

	publish := func(want string) {
		t.Helper()
		out := h.OK("report", "register", "-publish", "redmine.main")
		if !strings.HasPrefix(out, want+" ") {
			t.Fatalf("publish: %q, want %s", out, want)
		}
	}
	publish("created")
	first := reportAttachments(t, rm, project)
	for _, name := range []string{"register-threats.svg", "register-opportunities.svg"} {
		a, ok := first[name]
		if !ok || a.Filesize < 200 || !strings.HasPrefix(a.Description, "sha256:") {
			t.Errorf("after the first publish %s is %+v (present %v), want an SVG chart with its digest; all: %v", name, a, ok, first)
		}
	}

	// Unchanged charts are not uploaded again.
	publish("updated")
	if again := reportAttachments(t, rm, project); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Errorf("publishing an unchanged report changed its files:\nbefore %v\nafter  %v", first, again)
	}

	// R-1 is an open threat of likelihood 2: moving it changes the threats'
	// heatmap only.
	if r := h.risks()["R-1"]; r.Kind != "threat" || r.Likelihood == 5 {
		t.Fatalf("R-1 is %+v, want a threat of likelihood other than 5", r)
	}
	h.OK("risk", "update", "R-1", "-likelihood", "5")
	publish("updated")
	third := reportAttachments(t, rm, project)
	if len(third) != len(first) {
		t.Errorf("after the change the issue holds %v, want the same chart names as %v", third, first)
	}
	old, now := first["register-threats.svg"], third["register-threats.svg"]
	if now.ID == 0 || now.ID == old.ID || now.Description == old.Description {
		t.Errorf("register-threats.svg was not replaced: before %+v, after %+v", old, now)
	}
	if a, b := first["register-opportunities.svg"], third["register-opportunities.svg"]; a != b {
		t.Errorf("the unchanged register-opportunities.svg was replaced: before %+v, after %+v", a, b)
	}
	// The replaced file is gone from Redmine, not only from the issue.
	if status := rm.status("GET", fmt.Sprintf("attachments/%d.json", old.ID)); status != 404 {
		t.Errorf("GET attachment %d (replaced): HTTP %d, want 404", old.ID, status)
	}
}

// status sends a request without a body and returns its HTTP status.
func (a *api) status(method, path string) int {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+"/"+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("X-Redmine-API-Key", a.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
