package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// Publish makes a report an issue of report_tracker: its subject is the
// report's title followed by "[<key>]", by which publishing the same key
// again finds the issue and updates it in place (subject and description,
// only when they changed).
func (c *Connector) Publish(ctx context.Context, r sdk.Report) (sdk.Published, error) {
	cfg, api, md, err := c.state()
	if err != nil {
		return sdk.Published{}, err
	}
	if cfg.ReportTracker == "" {
		return sdk.Published{}, sdk.Errorf(sdk.ClassPermanent, "report_tracker is not set: name the tracker reports become issues of (e.g. report_tracker = \"Report\") in the connector block")
	}
	key := strings.TrimSpace(r.Key)
	if key == "" || strings.ContainsAny(key, "[]|\r\n") {
		return sdk.Published{}, sdk.Errorf(sdk.ClassInvalid, "report key %q cannot be published: it must be non-empty, without [ ] | or line breaks", r.Key)
	}
	tracker, err := md.trackerID(ctx, api, "report_tracker", cfg.ReportTracker)
	if err != nil {
		return sdk.Published{}, problemErr(err)
	}
	tag := "[" + key + "]"
	title := normLine(r.Title)
	if title == "" {
		title = "Report"
	}
	if room := 255 - len([]rune(tag)) - 1; len([]rune(title)) > room {
		title = string([]rune(title)[:max(room-1, 0)]) + "…"
	}
	subject := title + " " + tag
	body := normText(r.Markdown)

	// Find the report's issue: the subject contains the tag (Redmine's
	// "~" filter), and must end with it exactly.
	q := url.Values{"project_id": {cfg.Project}, "subproject_id": {"!*"}, "tracker_id": {strconv.Itoa(tracker)}, "status_id": {"*"},
		"subject": {"~" + tag}, "sort": {"id:asc"}, "limit": {"100"}}
	var page issueList
	if _, err := api.do(ctx, "GET", "issues.json", q, nil, &page); err != nil {
		return sdk.Published{}, err
	}
	var found *issue
	for i := range page.Issues {
		if strings.HasSuffix(strings.TrimSpace(page.Issues[i].Subject), tag) {
			found = &page.Issues[i]
			break
		}
	}
	if found == nil {
		var out struct {
			Issue issue `json:"issue"`
		}
		p := map[string]any{"project_id": cfg.Project, "tracker_id": tracker, "subject": subject, "description": body}
		if _, err := api.do(ctx, "POST", "issues.json", nil, map[string]any{"issue": p}, &out); err != nil {
			return sdk.Published{}, err
		}
		return sdk.Published{URL: c.issueURL(cfg, out.Issue.ID), ExternalID: strconv.Itoa(out.Issue.ID), Created: true}, nil
	}
	old := ""
	if found.Description != nil {
		old = normText(*found.Description)
	}
	if old != body || normLine(found.Subject) != subject {
		p := map[string]any{"subject": subject, "description": body}
		if _, err := api.do(ctx, "PUT", fmt.Sprintf("issues/%d.json", found.ID), nil, map[string]any{"issue": p}, nil); err != nil {
			return sdk.Published{}, err
		}
	}
	return sdk.Published{URL: c.issueURL(cfg, found.ID), ExternalID: strconv.Itoa(found.ID), Created: false}, nil
}

func (c *Connector) issueURL(cfg *config, id int) string {
	return cfg.base.JoinPath("issues", strconv.Itoa(id)).String()
}
