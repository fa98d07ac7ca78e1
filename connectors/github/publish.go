package main

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// Publish makes a report an issue carrying report_label, titled
// "<title> [<key>]": publishing the same key again finds the issue by its
// title (listing the label's issues, which is current at once, unlike
// search) and updates it in place, only when it changed. GitHub issues
// take no attachments: when the report has a dashboard URL, the body ends
// with a link to it, where its charts are (see dashboardLink).
func (c *Connector) Publish(ctx context.Context, r sdk.Report) (sdk.Published, error) {
	cfg, a, err := c.state()
	if err != nil {
		return sdk.Published{}, err
	}
	defer a.cache.save()
	key := strings.TrimSpace(r.Key)
	if key == "" || strings.ContainsAny(key, "[]\r\n") {
		return sdk.Published{}, sdk.Errorf(sdk.ClassInvalid, "report key %q cannot be published: it must be non-empty, without [ ] or line breaks", r.Key)
	}
	tag := "[" + key + "]"
	title := normLine(r.Title)
	if title == "" {
		title = "Report"
	}
	title += " " + tag
	md := r.Markdown
	if link := dashboardLink(r.URL); link != "" {
		md = strings.TrimRight(md, " \t\r\n") + link
	}
	body := fitBody(normText(md), key)

	var found *github.Issue
	opts := &github.IssueListByRepoOptions{Labels: []string{cfg.ReportLabel}, State: "all", Sort: "created", Direction: "asc",
		ListOptions: github.ListOptions{PerPage: 100, Page: 1}}
	for found == nil {
		list, resp, err := a.gh.Issues.ListByRepo(ctx, cfg.Owner, cfg.Repo, opts)
		if err = a.classify("list the report issues of "+cfg.Owner+"/"+cfg.Repo, err); err != nil {
			return sdk.Published{}, err
		}
		for _, is := range list {
			if !is.IsPullRequest() && strings.HasSuffix(normLine(is.GetTitle()), tag) {
				found = is
				break
			}
		}
		if resp == nil || resp.NextPage == 0 || len(list) == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if found == nil {
		labels := []string{cfg.ReportLabel}
		is, _, err := a.gh.Issues.Create(ctx, cfg.Owner, cfg.Repo, &github.IssueRequest{Title: &title, Body: &body, Labels: &labels})
		if err = a.classify("create the report issue", err); err != nil {
			return sdk.Published{}, err
		}
		return sdk.Published{URL: is.GetHTMLURL(), ExternalID: strconv.Itoa(is.GetNumber()), Created: true}, nil
	}
	if normText(found.GetBody()) != body || normLine(found.GetTitle()) != title {
		is, _, err := a.gh.Issues.Edit(ctx, cfg.Owner, cfg.Repo, found.GetNumber(), &github.IssueRequest{Title: &title, Body: &body})
		if err = a.classify("update the report issue", err); err != nil {
			return sdk.Published{}, err
		}
		found = is
	}
	return sdk.Published{URL: found.GetHTMLURL(), ExternalID: strconv.Itoa(found.GetNumber()), Created: false}, nil
}

// fitBody cuts a report longer than GitHub takes in an issue body (it
// refuses more than maxBody characters) at a line, saying so, rather than
// failing the publish.
func fitBody(body, key string) string {
	if utf8.RuneCountInString(body) <= maxBody {
		return body
	}
	note := "\n\n… (cut here: GitHub takes at most 65536 characters in an issue; the whole report is usmhub report's output for " + key + ")\n"
	room := maxBody - utf8.RuneCountInString(note)
	cut := len(body)
	for n, i := 0, 0; i < len(body); n++ {
		if n == room {
			cut = i
			break
		}
		_, w := utf8.DecodeRuneInString(body[i:])
		i += w
	}
	if nl := strings.LastIndexByte(body[:cut], '\n'); nl > 0 {
		cut = nl
	}
	return body[:cut] + note
}

// dashboardLink is the line a report's body ends with when the hub has a
// public URL: a link to the report's page, which shows its charts. It
// returns "" for no URL; parentheses are escaped so the Markdown link
// holds the whole URL.
func dashboardLink(u string) string {
	u = strings.TrimSpace(u)
	if u == "" {
		return ""
	}
	u = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(u)
	return "\n\n[Charts and the whole report on the usmhub dashboard](" + u + ")"
}
