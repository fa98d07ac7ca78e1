package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// defaultLookback widens an incremental pull when the hub leaves the
// choice to the connector: GitHub's updated_at has whole seconds, and a
// write may be stamped a moment before a listing that already passed it.
const defaultLookback = time.Minute

// cursorPrefix marks the connector's cursors: "gh1:" and the updated_at of
// the newest issue delivered (RFC 3339), or nothing when none was.
const cursorPrefix = "gh1:"

func encodeCursor(t time.Time) string {
	if t.IsZero() {
		return cursorPrefix
	}
	return cursorPrefix + t.UTC().Format(time.RFC3339)
}

func parseCursor(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	rest, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return time.Time{}, sdk.Errorf(sdk.ClassInvalid, "cursor %q was not made by the GitHub connector (want %s<time>); run a full sync (usmhub sync -full) to start over", s, cursorPrefix)
	}
	if rest == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, rest)
	if err != nil {
		return time.Time{}, sdk.Errorf(sdk.ClassInvalid, "cursor %q holds no valid time: %v; run a full sync (usmhub sync -full) to start over", s, err)
	}
	return t, nil
}

// listOpts lists the label's issues, open and closed, oldest change first.
func listOpts(cfg *config, perPage int) *github.IssueListByRepoOptions {
	return &github.IssueListByRepoOptions{Labels: []string{cfg.Label}, State: "all", Sort: "updated", Direction: "asc",
		ListOptions: github.ListOptions{PerPage: perPage}}
}

// eachIssue lists the label's issues updated since `since` (all when zero),
// oldest change first, calling page for each page's issues (pull requests,
// which GitHub's issue list includes, left out) with the newest updated_at
// delivered so far. GitHub's pages are offsets: an issue updated while
// the listing pages on moves to its end and shifts the others, so one
// could be skipped. Each page past the first is therefore asked afresh,
// from a second before the newest updated_at seen, skipping the issues
// already delivered with that stamp; the Link header's next page is
// followed only while a page brings nothing newer (more than a page of
// issues updated in one second).
func (c *Connector) eachIssue(ctx context.Context, cfg *config, a *api, since time.Time, page func([]*github.Issue, time.Time) error) error {
	delivered := map[int]time.Time{}
	newest, basis := since, since
	opts := listOpts(cfg, cfg.pageSize)
	opts.Since = since
	opts.Page = 1
	for {
		list, resp, err := a.gh.Issues.ListByRepo(ctx, cfg.Owner, cfg.Repo, opts)
		if err = a.classify("list issues of "+cfg.Owner+"/"+cfg.Repo, err); err != nil {
			return err
		}
		var out []*github.Issue
		pageMax := time.Time{}
		for _, is := range list {
			t := is.GetUpdatedAt().Time.UTC()
			if t.After(pageMax) {
				pageMax = t
			}
			if d, ok := delivered[is.GetNumber()]; ok && !t.After(d) {
				continue
			}
			delivered[is.GetNumber()] = t
			if t.After(newest) {
				newest = t
			}
			if is.IsPullRequest() {
				continue
			}
			out = append(out, is)
		}
		if err := page(out, newest); err != nil {
			return err
		}
		if resp == nil || resp.NextPage == 0 || len(list) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return sdk.Errorf(sdk.ClassTransient, "list issues: %v", err)
		}
		if pageMax.After(basis) {
			basis = pageMax
			opts.Since, opts.Page = pageMax.Add(-time.Second), 1
		} else {
			opts.Page = resp.NextPage
		}
	}
}

// Pull lists the risk issues changed since the cursor (all without one),
// or the votes (see votes.go).
func (c *Connector) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	cfg, a, err := c.state()
	if err != nil {
		return err
	}
	defer a.cache.save()
	switch req.Kind {
	case sdk.KindRisk:
	case sdk.KindVote:
		return c.pullVotes(ctx, cfg, a, send)
	default:
		return sdk.Errorf(sdk.ClassPermanent, "the GitHub connector does not pull %ss (it pulls risks and votes; sprints are pushed)", req.Kind)
	}
	from, err := parseCursor(req.Cursor)
	if err != nil {
		return err
	}
	lookback := req.Lookback
	if lookback <= 0 {
		lookback = defaultLookback
	}
	var since time.Time
	if !from.IsZero() {
		since = from.Add(-lookback)
	}
	sent := false
	return c.eachIssue(ctx, cfg, a, since, func(list []*github.Issue, newest time.Time) error {
		if newest.Before(from) {
			newest = from
		}
		batch := sdk.Batch{Records: make([]sdk.Record, 0, len(list)), Cursor: encodeCursor(newest)}
		for _, is := range list {
			batch.Records = append(batch.Records, c.riskRecord(cfg, is))
		}
		if len(batch.Records) == 0 && sent {
			return nil
		}
		sent = true
		return send(batch)
	})
}

// riskRecord turns an issue into a canonical risk record. Block lines a
// person deleted, and the owner of an unassigned issue, are left out: the
// hub keeps its own values.
func (c *Connector) riskRecord(cfg *config, is *github.Issue) sdk.Record {
	p := parseBody(is.GetBody())
	f := map[string]string{sdk.FieldTitle: normLine(is.GetTitle()), sdk.FieldDescription: p.description}
	for k, v := range p.fields {
		if v = canon(k, v); v != "" {
			f[k] = v
		}
	}
	statusLabel := ""
	for _, l := range is.Labels {
		name := l.GetName()
		if rest, ok := cutPrefixFold(name, cfg.kindPrefix); ok && strings.TrimSpace(rest) != "" {
			f[sdk.FieldKind] = canon(sdk.FieldKind, rest)
		} else if rest, ok := cutPrefixFold(name, cfg.statusPrefix); ok && strings.TrimSpace(rest) != "" && statusLabel == "" {
			statusLabel = strings.TrimSpace(rest)
		}
	}
	switch {
	case is.GetState() == "closed" && is.GetStateReason() == "not_planned":
		f[sdk.FieldStatus] = "not_planned"
	case is.GetState() == "closed":
		f[sdk.FieldStatus] = "closed"
	case statusLabel != "":
		f[sdk.FieldStatus] = statusLabel
	default:
		f[sdk.FieldStatus] = "open"
	}
	if len(is.Assignees) > 0 {
		f[sdk.FieldOwner] = is.Assignees[0].GetLogin()
	} else if is.Assignee != nil {
		f[sdk.FieldOwner] = is.Assignee.GetLogin()
	}
	return sdk.Record{ExternalID: strconv.Itoa(is.GetNumber()), Version: digest(f), UpdatedAt: is.GetUpdatedAt().Time.UTC(),
		Marker: p.marker, Fields: f}
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// digest is a record's version: its canonical fields' hash, so that an
// issue's reactions or comments do not make it "changed".
func digest(f map[string]string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%q\n", k, f[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// recentByMarker lists the label's issues created within find_window,
// newest first, by the marker they carry (the oldest issue of a marker
// wins). Listings are current at once, unlike search.
func (c *Connector) recentByMarker(ctx context.Context, cfg *config, a *api, label string) (map[string]*github.Issue, error) {
	out := map[string]*github.Issue{}
	horizon := time.Now().Add(-cfg.findWindow)
	opts := &github.IssueListByRepoOptions{Labels: []string{label}, State: "all", Sort: "created", Direction: "desc",
		ListOptions: github.ListOptions{PerPage: cfg.pageSize, Page: 1}}
	for {
		list, resp, err := a.gh.Issues.ListByRepo(ctx, cfg.Owner, cfg.Repo, opts)
		if err = a.classify("list the newest issues of "+cfg.Owner+"/"+cfg.Repo, err); err != nil {
			return nil, err
		}
		old := false
		for _, is := range list {
			if is.GetCreatedAt().Time.Before(horizon) {
				old = true
				break
			}
			if is.IsPullRequest() {
				continue
			}
			if m := parseBody(is.GetBody()).marker; m != "" {
				if prev := out[m]; prev == nil || is.GetNumber() < prev.GetNumber() {
					out[m] = is
				}
			}
		}
		if old || resp == nil || resp.NextPage == 0 || len(list) == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// findIssue finds the risk issue carrying marker: among the newest issues
// (which search may not know yet), then by search.
func (c *Connector) findIssue(ctx context.Context, cfg *config, a *api, marker string) (*github.Issue, error) {
	recent, err := c.recentByMarker(ctx, cfg, a, cfg.Label)
	if err != nil {
		return nil, err
	}
	if is := recent[marker]; is != nil {
		return is, nil
	}
	q := fmt.Sprintf("%q repo:%s/%s label:%q in:body", marker, cfg.Owner, cfg.Repo, cfg.Label)
	res, _, err := a.gh.Search.Issues(ctx, q, &github.SearchOptions{Sort: "created", Order: "asc", ListOptions: github.ListOptions{PerPage: 100}})
	if err = a.classify("search issues of "+cfg.Owner+"/"+cfg.Repo, err); err != nil {
		return nil, err
	}
	for _, is := range res.Issues {
		if is.IsPullRequest() || parseBody(is.GetBody()).marker != marker || !hasLabel(is, cfg.Label) {
			continue
		}
		return is, nil
	}
	return nil, nil
}

func hasLabel(is *github.Issue, name string) bool {
	for _, l := range is.Labels {
		if strings.EqualFold(l.GetName(), name) {
			return true
		}
	}
	return false
}

// Find returns the risk issue, or the sprint milestone, carrying the marker.
func (c *Connector) Find(ctx context.Context, kind sdk.EntityKind, marker string) (*sdk.Record, error) {
	cfg, a, err := c.state()
	if err != nil {
		return nil, err
	}
	defer a.cache.save()
	switch kind {
	case sdk.KindRisk:
		is, err := c.findIssue(ctx, cfg, a, marker)
		if err != nil || is == nil {
			return nil, err
		}
		rec := c.riskRecord(cfg, is)
		return &rec, nil
	case sdk.KindSprint:
		m, err := c.findMilestone(ctx, cfg, a, marker)
		if err != nil || m == nil {
			return nil, err
		}
		rec := milestoneRecord(m)
		return &rec, nil
	}
	return nil, sdk.Errorf(sdk.ClassPermanent, "the GitHub connector does not keep %ss", kind)
}

// Push applies changes of risks (issues) or sprints (milestones).
func (c *Connector) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	cfg, a, err := c.state()
	if err != nil {
		return nil, err
	}
	defer a.cache.save()
	switch req.Kind {
	case sdk.KindRisk:
		return c.pushRisks(ctx, cfg, a, req.Changes)
	case sdk.KindSprint:
		return c.pushSprints(ctx, cfg, a, req.Changes)
	}
	return nil, sdk.Errorf(sdk.ClassPermanent, "the GitHub connector does not push %ss (it pushes risks and sprints)", req.Kind)
}

// validate refuses values the hub's model would refuse, before any request.
func validate(f map[string]string) *sdk.Error {
	for _, k := range []string{sdk.FieldLikelihood, sdk.FieldImpact} {
		v, ok := f[k]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 5 {
			return sdk.Errorf(sdk.ClassInvalid, "%s %q is not a whole number from 1 to 5", k, v)
		}
	}
	if v, ok := f[sdk.FieldEffort]; ok {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || x < 0 {
			return sdk.Errorf(sdk.ClassInvalid, "effort %q is not a number of zero or more", v)
		}
	}
	if v, ok := f[sdk.FieldTitle]; ok && normLine(v) == "" {
		return sdk.Errorf(sdk.ClassInvalid, "a risk needs a title (an issue needs one)")
	}
	return nil
}

// pushRisks applies risk changes in order. Creates are idempotent: the
// issues created within find_window are listed first (once) and an issue
// already carrying a create's marker is returned instead of created again.
// Once GitHub fails transiently, the rest of the batch waits.
func (c *Connector) pushRisks(ctx context.Context, cfg *config, a *api, changes []sdk.Change) ([]sdk.Result, error) {
	results := make([]sdk.Result, len(changes))
	creates := false
	for i, ch := range changes {
		if ch.Op == sdk.OpCreate || ch.Op == sdk.OpUpdate {
			if e := validate(ch.Fields); e != nil {
				results[i].Err = e
				continue
			}
		}
		if ch.Op == sdk.OpCreate {
			if ch.Marker == "" {
				results[i].Err = sdk.Errorf(sdk.ClassInvalid, "a create needs the hub marker")
				continue
			}
			creates = true
		}
	}
	var existing map[string]*github.Issue
	if creates {
		var err error
		if existing, err = c.recentByMarker(ctx, cfg, a, cfg.Label); err != nil {
			return nil, err
		}
	}
	var transient *sdk.Error
	for i, ch := range changes {
		if results[i].Err != nil {
			continue
		}
		if transient != nil {
			results[i] = sdk.Result{ExternalID: ch.ExternalID, Err: transient}
			continue
		}
		var err error
		switch ch.Op {
		case sdk.OpCreate:
			var is *github.Issue
			var refused string
			if is = existing[ch.Marker]; is == nil {
				is, refused, err = c.createIssue(ctx, cfg, a, ch)
				if is != nil {
					existing[ch.Marker] = is
				}
			}
			if is != nil {
				rec := c.riskRecord(cfg, is)
				if _, has := rec.Fields[sdk.FieldOwner]; refused != "" && !has {
					// Not set: the hub's next full sync sends the owner
					// again, as an update, which holds it with the reason.
					rec.Fields[sdk.FieldOwner] = ""
				}
				results[i] = sdk.Result{ExternalID: rec.ExternalID, Version: rec.Version, Fields: rec.Fields}
			}
		case sdk.OpUpdate, sdk.OpDelete:
			results[i].ExternalID = ch.ExternalID
			n, perr := strconv.Atoi(ch.ExternalID)
			if perr != nil || n <= 0 {
				results[i].Err = sdk.Errorf(sdk.ClassPermanent, "%q is not a GitHub issue number", ch.ExternalID)
				continue
			}
			var is *github.Issue
			if ch.Op == sdk.OpUpdate {
				is, err = c.updateIssue(ctx, cfg, a, n, ch)
			} else {
				is, err = c.deleteIssue(ctx, cfg, a, n)
			}
			if err == nil && is != nil {
				rec := c.riskRecord(cfg, is)
				results[i].Version, results[i].Fields = rec.Version, rec.Fields
			}
		default:
			err = sdk.Errorf(sdk.ClassInvalid, "unknown operation %q", ch.Op)
		}
		if err != nil {
			e := asSDK(err)
			if e.Class == sdk.ClassTransient {
				transient = e
			}
			results[i].Err = e
		}
	}
	return results, nil
}

// asSDK returns err as an *sdk.Error (class permanent when unclassified).
func asSDK(err error) *sdk.Error {
	var se *sdk.Error
	if errors.As(err, &se) {
		return se
	}
	return &sdk.Error{Class: sdk.ClassPermanent, Message: err.Error()}
}

// issueState is what a status value asks of an issue: its state, state
// reason and status label ("" for none).
func (cfg *config) issueState(v string) (state, reason, label string) {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "closed", "completed":
		return "closed", "completed", ""
	case "not_planned", "not planned":
		return "closed", "not_planned", ""
	case "open", "":
		return "open", "", ""
	}
	if _, ok := cutPrefixFold(v, cfg.statusPrefix); ok {
		return "open", "", v
	}
	return "open", "", cfg.statusPrefix + v
}

// withLabels replaces the labels of prefix with want ("" for none).
func withLabels(labels []string, prefix, want string) []string {
	out := make([]string, 0, len(labels)+1)
	for _, l := range labels {
		if _, ok := cutPrefixFold(l, prefix); !ok {
			out = append(out, l)
		}
	}
	if want != "" {
		out = append(out, want)
	}
	return out
}

// owner returns the assignees for a hub owner: the login when GitHub may
// assign it; none for an owner that is no login at all (a name, a team:
// the hub keeps its owner). A login GitHub cannot assign (no collaborator,
// or no such user) comes back as refused, with no assignees: the caller
// leaves the issue's assignees alone and says why.
func (c *Connector) owner(ctx context.Context, cfg *config, a *api, login string) (assignees []string, refused string, err error) {
	login = strings.TrimSpace(login)
	if login == "" || !validOwner(login) {
		return []string{}, "", nil
	}
	c.amu.Lock()
	ok, known := c.assignable[strings.ToLower(login)]
	c.amu.Unlock()
	if !known {
		var err error
		ok, _, err = a.gh.Issues.IsAssignee(ctx, cfg.Owner, cfg.Repo, login)
		if err = a.classify("check assignee "+login, err); err != nil {
			return nil, "", err
		}
		c.amu.Lock()
		c.assignable[strings.ToLower(login)] = ok
		c.amu.Unlock()
	}
	if !ok {
		return nil, login, nil
	}
	return []string{login}, "", nil
}

// unassignable is the error of an owner GitHub cannot assign.
func unassignable(cfg *config, n int, login string) *sdk.Error {
	what := "the issue"
	if n > 0 {
		what = fmt.Sprintf("issue #%d", n)
	}
	return sdk.Errorf(sdk.ClassInvalid, "owner %q cannot be assigned in %s/%s: GitHub assigns issues only to users with access to the repository (collaborators, members of a team with access), and no user %q has; "+
		"add them as a collaborator, or give the risk an owner who has access (%s keeps its assignee; the change's other fields were written)", login, cfg.Owner, cfg.Repo, login, what)
}

// maxBody is the most characters GitHub takes in an issue's body (it
// answers 422 "body is too long (maximum is 65536 characters)").
const maxBody = 65536

// checkBody refuses a body GitHub would refuse, naming the description,
// before a request is spent on it.
func checkBody(body, description string) *sdk.Error {
	n := utf8.RuneCountInString(body)
	if n <= maxBody {
		return nil
	}
	d := utf8.RuneCountInString(normText(description))
	return sdk.Errorf(sdk.ClassInvalid, "the description has %d characters: with the block of the risk's other fields and the hub marker (%d) the issue body would have %d, more than the %d GitHub takes; shorten the description to at most %d characters",
		d, n-d, n, maxBody, maxBody-(n-d))
}

// issueGone tells an issue gone from the repository from other failures
// to read it, returning why it is gone ("" with the error to report when
// it is not): 410 (deleted), 404 (deleted or transferred where the token
// cannot see it), or a redirect while the repository itself is where it
// was (transferred to another repository; GitHub answers 301 for its old
// number). A redirect of the repository too is the repository's error.
func (c *Connector) issueGone(ctx context.Context, cfg *config, a *api, n int, err error) (string, error) {
	var mv movedError
	switch {
	case errors.As(err, &mv):
		_, _, rerr := a.gh.Repositories.Get(ctx, cfg.Owner, cfg.Repo)
		if rerr = a.classify("read repository "+cfg.Owner+"/"+cfg.Repo, rerr); rerr != nil {
			if errors.As(rerr, &mv) {
				return "", err // the repository moved
			}
			return "", rerr
		}
		return fmt.Sprintf("transferred to another repository (GitHub answers HTTP 301 for #%d, pointing to %s)", n, mv.to), nil
	case errors.Is(err, errDeleted):
		return "deleted (GitHub answers HTTP 410 Gone)", nil
	case errors.Is(err, errNotFound):
		return "deleted, or transferred to a repository the token cannot read (GitHub answers HTTP 404)", nil
	}
	return "", err
}

// createIssue creates the issue of a change (sent once: a failure whose
// outcome is open is transient, for Find to settle). A status that closes
// the issue takes a second request, as GitHub creates issues open. An
// owner GitHub cannot assign is returned (the issue is made unassigned).
func (c *Connector) createIssue(ctx context.Context, cfg *config, a *api, ch sdk.Change) (*github.Issue, string, error) {
	f := map[string]string{}
	for k, v := range ch.Fields {
		f[k] = canon(k, v)
	}
	title := f[sdk.FieldTitle]
	if title == "" {
		return nil, "", sdk.Errorf(sdk.ClassInvalid, "a risk needs a title (an issue needs one)")
	}
	body := renderBody(f[sdk.FieldDescription], f, ch.Marker)
	if e := checkBody(body, f[sdk.FieldDescription]); e != nil {
		return nil, "", e
	}
	state, reason, statusLabel := cfg.issueState(f[sdk.FieldStatus])
	labels := []string{cfg.Label}
	if k := f[sdk.FieldKind]; k != "" {
		labels = append(labels, cfg.kindPrefix+k)
	}
	if statusLabel != "" {
		labels = append(labels, statusLabel)
	}
	assignees, refused, err := c.owner(ctx, cfg, a, f[sdk.FieldOwner])
	if err != nil {
		return nil, "", err
	}
	if refused != "" {
		sdk.Logger().Warn("owner cannot be assigned: the issue is created unassigned; the next full sync (full_every, or usmhub sync -full) sends the owner again and holds it with the reason",
			"owner", refused, "repo", cfg.Owner+"/"+cfg.Repo, "error", unassignable(cfg, 0, refused).Message)
	}
	req := &github.IssueRequest{Title: &title, Body: &body, Labels: &labels}
	if len(assignees) > 0 {
		req.Assignees = &assignees
	}
	is, _, err := a.gh.Issues.Create(ctx, cfg.Owner, cfg.Repo, req)
	if err = a.classify("create issue in "+cfg.Owner+"/"+cfg.Repo, err); err != nil {
		return nil, "", err
	}
	if state == "closed" {
		closed, _, err := a.gh.Issues.Edit(ctx, cfg.Owner, cfg.Repo, is.GetNumber(), &github.IssueRequest{State: &state, StateReason: &reason})
		if err == nil {
			return closed, refused, nil
		}
		// The issue exists, open: the result says so, and the hub sends
		// the status again as an update.
		sdk.Logger().Warn("created issue but could not close it", "issue", is.GetNumber(), "error", a.classify("close issue", err))
	}
	return is, refused, nil
}

// updateIssue reads the issue (a conditional request: usually 304), refuses
// the change as a conflict when the issue is no longer the version the hub
// last saw, and sends what the change alters of it; nothing when it
// already holds it.
func (c *Connector) updateIssue(ctx context.Context, cfg *config, a *api, n int, ch sdk.Change) (*github.Issue, error) {
	cur, _, err := a.gh.Issues.Get(ctx, cfg.Owner, cfg.Repo, n)
	if err = a.classify(fmt.Sprintf("read issue #%d", n), err); err != nil {
		why, err := c.issueGone(ctx, cfg, a, n, err)
		if why != "" {
			return nil, sdk.Errorf(sdk.ClassPermanent, "issue #%d is gone from %s/%s: %s; the hub's next full sync settles the risk by the binding's on_delete", n, cfg.Owner, cfg.Repo, why)
		}
		return nil, err
	}
	if ch.Version != "" {
		// Optimistic concurrency: the hub read another issue than the one
		// GitHub holds now (a person changed it since): merge first.
		if now := c.riskRecord(cfg, cur).Version; now != ch.Version {
			return nil, sdk.Errorf(sdk.ClassConflict, "issue #%d changed in GitHub since the hub read it (version %s, now %s): pull and merge first", n, ch.Version, now)
		}
	}
	p := parseBody(cur.GetBody())
	marker := p.marker
	if marker == "" {
		marker = ch.Marker
	}
	block := map[string]string{}
	for k, v := range p.fields {
		block[k] = canon(k, v)
	}
	desc, title := p.description, cur.GetTitle()
	var labels []string
	for _, l := range cur.Labels {
		labels = append(labels, l.GetName())
	}
	oldLabels := strings.Join(labels, "\x00")
	state, reason := cur.GetState(), cur.GetStateReason()
	var assignees *[]string
	var refused string
	for k, v := range ch.Fields {
		v = canon(k, v)
		switch k {
		case sdk.FieldTitle:
			title = v
		case sdk.FieldDescription:
			desc = v
		case sdk.FieldKind:
			want := ""
			if v != "" {
				want = cfg.kindPrefix + v
			}
			labels = withLabels(labels, cfg.kindPrefix, want)
		case sdk.FieldStatus:
			var statusLabel string
			state, reason, statusLabel = cfg.issueState(v)
			labels = withLabels(labels, cfg.statusPrefix, statusLabel)
		case sdk.FieldOwner:
			as, no, err := c.owner(ctx, cfg, a, v)
			if err != nil {
				return nil, err
			}
			if no != "" {
				refused = no // the assignees stay as they are
				continue
			}
			assignees = &as
		default:
			block[k] = v
		}
	}
	req := &github.IssueRequest{}
	send := false
	if normLine(title) != normLine(cur.GetTitle()) {
		req.Title, send = &title, true
	}
	if body := renderBody(desc, block, marker); normText(body) != normText(cur.GetBody()) {
		if e := checkBody(body, desc); e != nil {
			return nil, e
		}
		req.Body, send = &body, true
	}
	if !hasLabel(cur, cfg.Label) {
		labels = append(labels, cfg.Label)
	}
	if strings.Join(labels, "\x00") != oldLabels {
		if labels == nil {
			labels = []string{}
		}
		req.Labels, send = &labels, true
	}
	if state != cur.GetState() || (state == "closed" && reason != cur.GetStateReason()) {
		req.State, send = &state, true
		if state == "closed" {
			req.StateReason = &reason
		}
	}
	if assignees != nil {
		have := []string{}
		for _, u := range cur.Assignees {
			have = append(have, u.GetLogin())
		}
		if !strings.EqualFold(strings.Join(have, ","), strings.Join(*assignees, ",")) {
			req.Assignees, send = assignees, true
		}
	}
	is := cur
	if send {
		is, _, err = a.gh.Issues.Edit(ctx, cfg.Owner, cfg.Repo, n, req)
		if err = a.classify(fmt.Sprintf("update issue #%d", n), err); err != nil {
			return nil, err
		}
		if is, err = c.recloseIssue(ctx, cfg, a, is, state, reason); err != nil {
			return nil, err
		}
	}
	if refused != "" {
		return nil, unassignable(cfg, n, refused)
	}
	return is, nil
}

// recloseIssue gives a closed issue the close reason wanted when GitHub
// kept another: it ignores state_reason unless the state changes, so a
// closed issue is reopened and closed again (two more writes, and two
// lines in its timeline).
func (c *Connector) recloseIssue(ctx context.Context, cfg *config, a *api, is *github.Issue, state, reason string) (*github.Issue, error) {
	if state != "closed" || is.GetState() != "closed" || is.GetStateReason() == reason {
		return is, nil
	}
	n := is.GetNumber()
	open := "open"
	if _, _, err := a.gh.Issues.Edit(ctx, cfg.Owner, cfg.Repo, n, &github.IssueRequest{State: &open}); err != nil {
		return nil, a.classify(fmt.Sprintf("reopen issue #%d to change its close reason", n), err)
	}
	closed, _, err := a.gh.Issues.Edit(ctx, cfg.Owner, cfg.Repo, n, &github.IssueRequest{State: &state, StateReason: &reason})
	if err = a.classify(fmt.Sprintf("close issue #%d as %s", n, reason), err); err != nil {
		return nil, err
	}
	return closed, nil
}

// deleteIssue takes an issue out of the register: GitHub's REST API cannot
// delete issues, so it is closed as not planned and loses the label (the
// marker stays in its body, for the record).
func (c *Connector) deleteIssue(ctx context.Context, cfg *config, a *api, n int) (*github.Issue, error) {
	cur, _, err := a.gh.Issues.Get(ctx, cfg.Owner, cfg.Repo, n)
	if err = a.classify(fmt.Sprintf("read issue #%d", n), err); err != nil {
		why, err := c.issueGone(ctx, cfg, a, n, err)
		if why != "" {
			return nil, nil // already gone (a retried delete, or deleted or transferred by a person)
		}
		return nil, err
	}
	var labels []string
	for _, l := range cur.Labels {
		if !strings.EqualFold(l.GetName(), cfg.Label) {
			labels = append(labels, l.GetName())
		}
	}
	if labels == nil {
		labels = []string{}
	}
	state, reason := "closed", "not_planned"
	req := &github.IssueRequest{Labels: &labels}
	if cur.GetState() != "closed" {
		req.State, req.StateReason = &state, &reason
	}
	_, _, err = a.gh.Issues.Edit(ctx, cfg.Owner, cfg.Repo, n, req)
	return nil, a.classify(fmt.Sprintf("take issue #%d out of the register", n), err)
}
