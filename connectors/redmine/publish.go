package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// Publish makes a report an issue of report_tracker: its subject is the
// report's title followed by "[<key>]", by which publishing the same key
// again finds the issue and updates it in place (subject and description,
// only when they changed). The report's attachments (its charts) become
// the issue's attachments, one per file name: on publishing again a chart
// whose bytes changed is uploaded anew and the issue's earlier files of
// that name are deleted (see syncAttachments).
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
		ups, err := upload(ctx, api, r.Attachments)
		if err != nil {
			return sdk.Published{}, err
		}
		if len(ups) > 0 {
			p["uploads"] = ups
		}
		if _, err := api.do(ctx, "POST", "issues.json", nil, map[string]any{"issue": p}, &out); err != nil {
			return sdk.Published{}, err
		}
		return sdk.Published{URL: c.issueURL(cfg, out.Issue.ID), ExternalID: strconv.Itoa(out.Issue.ID), Created: true}, nil
	}
	old := ""
	if found.Description != nil {
		old = normText(*found.Description)
	}
	p := map[string]any{}
	if old != body || normLine(found.Subject) != subject {
		p["subject"], p["description"] = subject, body
	}
	stale, ups, err := c.stageAttachments(ctx, api, found.ID, r.Attachments)
	if err != nil {
		return sdk.Published{}, err
	}
	if len(ups) > 0 {
		p["uploads"] = ups
	}
	if len(p) > 0 {
		if _, err := api.do(ctx, "PUT", fmt.Sprintf("issues/%d.json", found.ID), nil, map[string]any{"issue": p}, nil); err != nil {
			return sdk.Published{}, err
		}
	}
	// Only once the new files are on the issue do the old ones go: a
	// publish cut short leaves a chart twice, never none, and the next
	// publish deletes the extra one.
	for _, id := range stale {
		if _, err := api.do(ctx, "DELETE", fmt.Sprintf("attachments/%d.json", id), nil, nil, nil); err != nil && !errors.Is(err, errNotFound) {
			return sdk.Published{}, fmt.Errorf("replace the charts of issue #%d: %w", found.ID, err)
		}
	}
	return sdk.Published{URL: c.issueURL(cfg, found.ID), ExternalID: strconv.Itoa(found.ID), Created: false}, nil
}

func (c *Connector) issueURL(cfg *config, id int) string {
	return cfg.base.JoinPath("issues", strconv.Itoa(id)).String()
}

// attachment is a file on a Redmine issue.
type attachment struct {
	ID          int    `json:"id"`
	Filename    string `json:"filename"`
	Filesize    int    `json:"filesize"`
	Description string `json:"description"`
}

// digest is what the description of an uploaded chart holds: its SHA-256,
// by which publishing again tells an unchanged chart without downloading
// it.
func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// uploadRef names an uploaded file in an issue's "uploads".
type uploadRef struct {
	Token       string `json:"token"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type,omitempty"`
	Description string `json:"description"`
}

// upload sends each file to /uploads.json (raw bytes, as Redmine requires
// application/octet-stream) and returns the tokens an issue create or
// update attaches them with. A POST is sent once, never retried: an upload
// left unattached by a failure is dropped by Redmine, never shown.
func upload(ctx context.Context, api *client, files []sdk.Attachment) ([]uploadRef, error) {
	var out []uploadRef
	seen := map[string]bool{}
	for _, f := range files {
		if f.Name == "" || seen[f.Name] || strings.ContainsAny(f.Name, "/\\\r\n") {
			return nil, sdk.Errorf(sdk.ClassInvalid, "attachment name %q cannot be published: names must be non-empty, unique in the report and without / \\ or line breaks", f.Name)
		}
		seen[f.Name] = true
		body, err := api.raw(ctx, "POST", "uploads.json", url.Values{"filename": {f.Name}}, "application/octet-stream", f.Data)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", f.Name, err)
		}
		var ans struct {
			Upload struct {
				Token string `json:"token"`
			} `json:"upload"`
		}
		if err := json.Unmarshal(body, &ans); err != nil || ans.Upload.Token == "" {
			return nil, sdk.Errorf(sdk.ClassPermanent, "upload %s: Redmine's answer has no upload token: %.200s", f.Name, body)
		}
		out = append(out, uploadRef{Token: ans.Upload.Token, Filename: f.Name, ContentType: f.ContentType, Description: digest(f.Data)})
	}
	return out, nil
}

// stageAttachments compares the report's files with the issue's: a file
// whose name the issue holds exactly once with the same size and digest
// (see digest) is left alone; any other is uploaded (its token returned in ups) and every
// earlier file of its name returned in stale, to delete once the new one
// is attached.
func (c *Connector) stageAttachments(ctx context.Context, api *client, issueID int, files []sdk.Attachment) (stale []int, ups []uploadRef, err error) {
	if len(files) == 0 {
		return nil, nil, nil
	}
	var ans struct {
		Issue struct {
			Attachments []attachment `json:"attachments"`
		} `json:"issue"`
	}
	if _, err := api.do(ctx, "GET", fmt.Sprintf("issues/%d.json", issueID), url.Values{"include": {"attachments"}}, nil, &ans); err != nil {
		return nil, nil, fmt.Errorf("read the attachments of issue #%d: %w", issueID, err)
	}
	byName := map[string][]attachment{}
	for _, a := range ans.Issue.Attachments {
		byName[a.Filename] = append(byName[a.Filename], a)
	}
	var changed []sdk.Attachment
	for _, f := range files {
		have := byName[f.Name]
		if len(have) == 1 && have[0].Filesize == len(f.Data) && have[0].Description == digest(f.Data) {
			continue
		}
		changed = append(changed, f)
		for _, a := range have {
			stale = append(stale, a.ID)
		}
	}
	ups, err = upload(ctx, api, changed)
	if err != nil {
		return nil, nil, err
	}
	return stale, ups, nil
}
