package redmine_test

import (
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// connectorConfig is a working config block for project.
func connectorConfig(project string) map[string]any {
	return map[string]any{
		"url": redmine["REDMINE_URL"], "api_key": redmine["REDMINE_API_KEY"], "project": project,
		"tracker": "Risk", "report_tracker": "Report",
	}
}

// The conformance kit against the built plugin binary, launched as the hub
// launches it, on a real Redmine. Statuses are Redmine's spelling (the
// sync's map_status translates the hub's), owners Redmine logins.
func TestConformance(t *testing.T) {
	requireRedmine(t)
	project := adminAPI(t).newProject("conformance")
	cfg := connectorConfig(project)
	bad := maps.Clone(cfg)
	bad["url"] = "redmine.example.org" // no scheme
	connectortest.Run(t, connectortest.Binary(redminePlugin), connectortest.Fixture{
		Config:       cfg,
		BadConfig:    bad,
		BadAttribute: "url",
		// The kit fails creates after Redmine stored them (503, dropped
		// connection, cut-off answer) through a proxy on this attribute.
		URLAttribute: "url",
		// Updates carrying a stale version are refused: the connector
		// compares the issue's digest before it writes.
		OptimisticConcurrency: true,
		NewFields: func(i int) map[string]string {
			f := connectortest.RiskFields(i)
			f[sdk.FieldStatus] = []string{"New", "Accepted", "In Progress"}[i%3]
			f[sdk.FieldOwner] = []string{"conformance", "anna"}[i%2]
			return f
		},
	})
}

// configured launches the plugin binary and configures it on project.
func configured(t *testing.T, cfg map[string]any) sdk.Connector {
	t.Helper()
	conn := connectortest.Binary(redminePlugin)(t)
	c, err := sdk.ConfigFromMap(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Configure(t.Context(), c); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return conn
}

// Check names a missing custom field and says how to create it (Redmine 5
// has no API for that); a bad key is a permanent error saying 401, and a
// user outside the project gets a permanent error saying 403.
func TestCheck(t *testing.T) {
	requireRedmine(t)
	project := adminAPI(t).newProject("check")

	if err := configured(t, connectorConfig(project)).Check(t.Context()); err != nil {
		t.Fatalf("Check of a good config: %v", err)
	}

	cfg := connectorConfig(project)
	cfg["likelihood_field"] = "Probability"
	err := configured(t, cfg).Check(t.Context())
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Attribute != "likelihood_field" {
		t.Fatalf("Check with a missing custom field = %v, want a ConfigError on likelihood_field", err)
	}
	if p := ce.Problems[0]; !strings.Contains(p.Summary, `"Probability"`) || !strings.Contains(p.Detail, "Administration → Custom fields") || !strings.Contains(p.Detail, "Integer") {
		t.Errorf("the problem does not say which field is missing and how to create it: %+v", p)
	}

	cfg = connectorConfig(project)
	cfg["tracker"] = "Bug" // not enabled in the project
	if err := configured(t, cfg).Check(t.Context()); !errors.As(err, &ce) || ce.Problems[0].Attribute != "tracker" {
		t.Errorf("Check with a tracker the project lacks = %v, want a ConfigError on tracker", err)
	}

	cfg = connectorConfig(project)
	cfg["api_key"] = strings.Repeat("0", 40)
	err = configured(t, cfg).Check(t.Context())
	if sdk.ClassOf(err) != sdk.ClassPermanent || !strings.Contains(err.Error(), "401") {
		t.Errorf("Check with a bad key = %v, want a permanent error naming HTTP 401", err)
	}
	if err != nil && strings.Contains(err.Error(), strings.Repeat("0", 40)) {
		t.Errorf("the error shows the API key: %v", err)
	}

	cfg = connectorConfig(project)
	cfg["api_key"] = redmine["REDMINE_OUTSIDER_KEY"]
	err = configured(t, cfg).Check(t.Context())
	if sdk.ClassOf(err) != sdk.ClassPermanent || !strings.Contains(err.Error(), "403") {
		t.Errorf("Check by a user outside the project = %v, want a permanent error naming HTTP 403", err)
	}
}

// Redmine answers 204 to an update its workflow refuses (no transition
// leads to status "Locked"): the connector reads the issue back and reports
// the refusal as an error of class invalid.
func TestRefusedStatusChangeIsAnError(t *testing.T) {
	requireRedmine(t)
	project := adminAPI(t).newProject("workflow")
	conn := configured(t, connectorConfig(project))
	f := connectortest.RiskFields(1)
	f[sdk.FieldStatus], f[sdk.FieldOwner] = "New", "anna"
	res, err := conn.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{
		{Op: sdk.OpCreate, Marker: "usmhub-workflow-1", Fields: f},
	}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("create: %v %v", err, res)
	}
	id := res[0].ExternalID
	res, err = conn.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{
		{Op: sdk.OpUpdate, ExternalID: id, Fields: map[string]string{sdk.FieldStatus: "Locked", sdk.FieldLikelihood: "5"}},
		{Op: sdk.OpUpdate, ExternalID: id, Fields: map[string]string{sdk.FieldStatus: "Accepted"}},
		{Op: sdk.OpUpdate, ExternalID: id, Fields: map[string]string{sdk.FieldStatus: "No such status"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e := res[0].Err; e == nil || e.Class != sdk.ClassInvalid || !strings.Contains(e.Message, "did not change the status") {
		t.Errorf("update to a status the workflow refuses: %v, want class invalid saying the status did not change", e)
	}
	if res[1].Err != nil {
		t.Errorf("update to an allowed status: %v", res[1].Err)
	}
	if e := res[2].Err; e == nil || e.Class != sdk.ClassInvalid || !strings.Contains(e.Message, "map_status") {
		t.Errorf("update to an unknown status: %v, want class invalid pointing at map_status", e)
	}
	is := adminAPI(t).risks(project)["CT-1"]
	if is.Status.Name != "Accepted" || is.cf("LIKELIHOOD") != "5" {
		t.Errorf("issue #%d: status %q likelihood %q, want Accepted and 5", is.ID, is.Status.Name, is.cf("LIKELIHOOD"))
	}
}

// Redmine lists a project's subprojects' issues with its own by default:
// the connector keeps to the configured project.
func TestSubprojectIssuesStayOut(t *testing.T) {
	requireRedmine(t)
	rm := adminAPI(t)
	parent := rm.newProject("parent")
	child := rm.newProject("child", parent)
	tracker, _ := strconv.Atoi(redmine["REDMINE_RISK_TRACKER_ID"])
	var created struct {
		Issue struct {
			ID int `json:"id"`
		} `json:"issue"`
	}
	rm.call("POST", "issues.json", nil, map[string]any{"issue": map[string]any{"project_id": child, "tracker_id": tracker,
		"subject": "A risk of the subproject", "custom_fields": []any{cfUpdate("MARKER", "usmhub-child-1")}}}, &created)

	conn := configured(t, connectorConfig(parent))
	var got []string
	err := conn.Pull(t.Context(), sdk.PullRequest{Kind: sdk.KindRisk}, func(b sdk.Batch) error {
		for _, r := range b.Records {
			got = append(got, r.ExternalID)
		}
		return nil
	})
	if err != nil || len(got) != 0 {
		t.Errorf("Pull of the parent project = %v, %v; want no records (issue #%d is the subproject's)", got, err, created.Issue.ID)
	}
	if r, err := conn.Find(t.Context(), sdk.KindRisk, "usmhub-child-1"); err != nil || r != nil {
		t.Errorf("Find in the parent project of the subproject's marker = %v, %v; want nil, nil", r, err)
	}
}
