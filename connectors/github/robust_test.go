package main

// What people and GitHub's limits do to a register's issues — an issue
// transferred or deleted, a label deleted, values over GitHub's limits, an
// owner GitHub cannot assign, a spent primary limit answered 429 — and that
// each is one change's clear error (or none), never a failed batch.

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/usmhub/usmhub/plugins/sdk"
)

func push(t *testing.T, c *Connector, changes ...sdk.Change) []sdk.Result {
	t.Helper()
	res, err := c.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: changes})
	if err != nil {
		t.Fatalf("Push: %v (one change's failure must not fail the batch)", err)
	}
	return res
}

// An issue transferred to another repository (GitHub answers 301 for its
// old number) or deleted (410) is gone: an update says so — not that the
// repository moved — and a delete has nothing left to do. The batch's
// other changes go through.
func TestTransferredOrDeletedIssueIsGone(t *testing.T) {
	f := newFake(t)
	f.AddRepo(owner, "elsewhere")
	c := mustConfigure(t, fakeConfig(t, f))
	create(t, c, 3)
	f.Transfer(owner, repoN, 1, owner, "elsewhere")
	f.Delete(owner, repoN, 2)
	upd := func(id string) sdk.Change {
		return sdk.Change{Op: sdk.OpUpdate, ExternalID: id, Fields: map[string]string{sdk.FieldTitle: "new title " + id}}
	}
	res := push(t, c, upd("1"), upd("2"), upd("3"))
	for i, want := range []string{"transferred", "deleted", ""} {
		e := res[i].Err
		switch {
		case want == "" && e != nil:
			t.Errorf("update of issue %d: %v, want it done", i+1, e)
		case want != "" && (e == nil || e.Class != sdk.ClassPermanent || !strings.Contains(e.Message, want) || strings.Contains(e.Message, "owner and repo")):
			t.Errorf("update of issue %d: %v, want a permanent error saying it was %s (not that the repository moved)", i+1, e, want)
		}
	}
	if got := f.Issue(owner, repoN, 3).GetTitle(); got != "new title 3" {
		t.Errorf("issue 3's title is %q after the batch", got)
	}
	res = push(t, c, sdk.Change{Op: sdk.OpDelete, ExternalID: "1"}, sdk.Change{Op: sdk.OpDelete, ExternalID: "2"})
	for i, r := range res {
		if r.Err != nil {
			t.Errorf("delete of gone issue %d: %v, want nothing to do", i+1, r.Err)
		}
	}
	if recs, _ := pullAll(t, c, ""); len(recs) != 1 || recs[0].ExternalID != "3" {
		t.Errorf("a full pull lists %v, want only issue 3", ids(recs))
	}
}

// A label a person deleted is gone from every issue: the next update of a
// risk's issue puts the risk label back.
func TestDeletedRiskLabelIsPutBack(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	create(t, c, 1)
	f.DeleteLabel(owner, repoN, "usm-risk")
	if recs, _ := pullAll(t, c, ""); len(recs) != 0 {
		t.Fatalf("issues without the label are pulled: %v", ids(recs))
	}
	if r := push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: "1", Fields: map[string]string{sdk.FieldTitle: "relabelled"}}); r[0].Err != nil {
		t.Fatalf("update: %v", r[0].Err)
	}
	if recs, _ := pullAll(t, c, ""); len(recs) != 1 {
		t.Errorf("after the update %d issues carry the label, want 1", len(recs))
	}
}

// A title over 256 characters and a description that makes the body pass
// GitHub's 65536 characters are refused with the reason (the body before
// any request is spent on it); unicode and emoji go through whole.
func TestValuesOverGitHubsLimits(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	mk := func(i int, title, desc string) sdk.Change {
		return sdk.Change{Op: sdk.OpCreate, Marker: "usmhub-lim-" + string(rune('a'+i)), Fields: map[string]string{
			sdk.FieldTitle: title, sdk.FieldDescription: desc, sdk.FieldKey: "R-1", sdk.FieldLikelihood: "3", sdk.FieldImpact: "2", sdk.FieldStatus: "open"}}
	}
	emoji := "Störung 🔥 im Rechenzentrum — 数据中心 👍🏽"
	before := f.Counts().Writes
	res := push(t, c,
		mk(0, strings.Repeat("t", 300), "short"),
		mk(1, "a long description", strings.Repeat("ü", 65530)),
		mk(2, emoji, emoji+"\n\nmore "+emoji))
	if e := res[0].Err; e == nil || e.Class != sdk.ClassInvalid || !strings.Contains(e.Message, "title is too long (maximum is 256 characters)") || strings.Contains(e.Message, "custom") {
		t.Errorf("a title of 300 characters: %v, want GitHub's reason, plainly", e)
	}
	if e := res[1].Err; e == nil || e.Class != sdk.ClassInvalid || !strings.Contains(e.Message, "65536") || !strings.Contains(e.Message, "description") {
		t.Errorf("a description of 65530 characters: %v, want an invalid error naming the description and the limit", e)
	}
	if e := res[2].Err; e != nil {
		t.Fatalf("unicode and emoji: %v", e)
	}
	if got := f.Counts().Writes - before; got != 2 {
		t.Errorf("%d writes, want 2 (the refused title's and the emoji issue's; none for the body known too long)", got)
	}
	recs, _ := pullAll(t, c, "")
	if len(recs) != 1 || recs[0].Fields[sdk.FieldTitle] != emoji || recs[0].Fields[sdk.FieldDescription] != emoji+"\n\nmore "+emoji {
		t.Errorf("the emoji issue reads back as %v", recs)
	}
}

// An owner GitHub cannot assign (not a collaborator, or no such login):
// an update applies its other fields and is refused naming the login, so
// the hub holds the owner with the reason; a create makes the issue,
// unassigned, and reports the owner as not set, so the next full sync
// pushes it as an update and holds it there.
func TestOwnerGitHubCannotAssign(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	create(t, c, 1)
	res := push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: "1", Fields: map[string]string{sdk.FieldTitle: "retitled", sdk.FieldOwner: "stranger"}})
	if e := res[0].Err; e == nil || e.Class != sdk.ClassInvalid || !strings.Contains(e.Message, `"stranger"`) {
		t.Errorf("update to an owner GitHub cannot assign: %v, want an invalid error naming the login", e)
	}
	is := f.Issue(owner, repoN, 1)
	if is.GetTitle() != "retitled" || len(is.Assignees) != 1 || is.Assignees[0].GetLogin() != "anna" {
		t.Errorf("issue after the update: title %q, assignees %v; want the title taken and anna kept", is.GetTitle(), is.Assignees)
	}
	res = push(t, c, sdk.Change{Op: sdk.OpCreate, Marker: "usmhub-own-1", Fields: map[string]string{sdk.FieldTitle: "new", sdk.FieldOwner: "stranger"}})
	if e := res[0].Err; e != nil {
		t.Fatalf("create with an owner GitHub cannot assign: %v, want the issue made", e)
	}
	if v, ok := res[0].Fields[sdk.FieldOwner]; !ok || v != "" {
		t.Errorf("create's result owner = %q (present %v), want it reported as not set", v, ok)
	}
	// A name that is no login at all stays the hub's: no error.
	res = push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: "1", Fields: map[string]string{sdk.FieldOwner: "Kees Mulder"}})
	if res[0].Err != nil {
		t.Errorf("an owner that is a name, not a login: %v, want no error", res[0].Err)
	}
}

// A spent primary limit answered 429 (GitHub's documentation allows 403 or
// 429 with x-ratelimit-remaining 0) waits until the reset, not a secondary
// limit's minute.
func TestPrimaryLimitAnswered429(t *testing.T) {
	f := newFake(t)
	f.RateLimitStatus = 429
	c := mustConfigure(t, fakeConfig(t, f))
	f.SetRemaining(0, time.Now().Add(20*time.Second))
	err := c.Pull(t.Context(), sdk.PullRequest{Kind: sdk.KindRisk}, func(sdk.Batch) error { return nil })
	se := asSDK(err)
	if err == nil || se.Class != sdk.ClassTransient || se.RetryAfter < 10*time.Second || se.RetryAfter > 25*time.Second || !strings.Contains(se.Message, "primary") {
		t.Errorf("primary limit spent, answered 429: %v (wait %s), want a transient error waiting until the reset (~20s)", err, se.RetryAfter)
	}
}

// A 403 saying "secondary rate limit" is one, even with a documentation_url
// go-github v60 does not recognise: it waits, it is not "forbidden".
func TestSecondaryLimitKnownByItsMessage(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	_, a, _ := c.state()
	resp := &http.Response{StatusCode: 403, Header: http.Header{"X-Ratelimit-Remaining": {"4000"}, "Retry-After": {"42"}}, Request: &http.Request{Method: "GET", URL: &url.URL{Path: "/x"}}}
	err := a.classify("list", &github.ErrorResponse{Response: resp, Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", DocumentationURL: "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"})
	if se := asSDK(err); se.Class != sdk.ClassTransient || se.RetryAfter != 42*time.Second {
		t.Errorf("a secondary limit with an unknown documentation_url: %v, want transient waiting 42s", err)
	}
}

// The hub launches connectors without its environment (no HOME): the ETag
// cache then lives in the state folder the hub names, so that a quiet
// sync costs 304s with the default config too.
func TestETagCacheWithoutHome(t *testing.T) {
	f := newFake(t)
	state := t.TempDir()
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv(sdk.EnvStateDir, state)
	cfg := fakeConfig(t, f)
	delete(cfg, "cache_file")
	c := mustConfigure(t, cfg)
	create(t, c, 2)
	pullAll(t, c, "")
	again := mustConfigure(t, cfg) // the next launch
	before := f.Counts()
	pullAll(t, again, "")
	if got := f.Counts(); got.Total-before.Total != 1 || got.NotModified-before.NotModified != 1 {
		t.Errorf("a quiet pull from a new launch: %d requests, %d answered 304; want 1 and 1", got.Total-before.Total, got.NotModified-before.NotModified)
	}
	files, _ := filepath.Glob(filepath.Join(state, "github-*.json"))
	if len(files) != 1 {
		t.Fatalf("state folder holds %v, want one github-*.json", files)
	}
	if b, _ := os.ReadFile(files[0]); strings.Contains(string(b), token) {
		t.Errorf("the ETag cache holds the token")
	}
}

// GitHub ignores state_reason unless the state changes: a closed issue
// whose reason must change (completed → not planned) is reopened and
// closed again with the new reason, or the hub and GitHub would disagree
// for good (and the update be sent again every sync).
func TestCloseReasonOfAClosedIssueChanges(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	create(t, c, 1)
	for _, tc := range []struct{ status, state, reason string }{
		{"closed", "closed", "completed"},
		{"not_planned", "closed", "not_planned"},
		{"closed", "closed", "completed"},
		{"open", "open", "reopened"},
	} {
		res := push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: "1", Fields: map[string]string{sdk.FieldStatus: tc.status}})
		is := f.Issue(owner, repoN, 1)
		if res[0].Err != nil || is.GetState() != tc.state || is.GetStateReason() != tc.reason || res[0].Fields[sdk.FieldStatus] != tc.status {
			t.Errorf("status %s: %v; issue %s (%s), result status %q; want %s (%s)", tc.status, res[0].Err, is.GetState(), is.GetStateReason(), res[0].Fields[sdk.FieldStatus], tc.state, tc.reason)
		}
	}
}

// A report longer than an issue body may be is published cut at a line,
// saying so, instead of failing (GitHub refuses more than 65536
// characters).
func TestLongReportIsCutNotRefused(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	line := "| R-1 | Störung im Rechenzentrum 🔥 | 4 | 3 |\n"
	md := strings.Repeat(line, 70000/len([]rune(line))+10)
	pub, err := c.Publish(t.Context(), sdk.Report{Key: "usmhub-ssc-register-2026-W49", Title: "Register", Markdown: md})
	if err != nil {
		t.Fatalf("Publish of a %d-character report: %v", len([]rune(md)), err)
	}
	n, _ := strconv.Atoi(pub.ExternalID)
	body := f.Issue(owner, repoN, n).GetBody()
	if len([]rune(body)) > 65536 || !strings.Contains(body, "cut here") || !strings.HasPrefix(body, line) {
		t.Errorf("published body: %d characters, cut note %v", len([]rune(body)), strings.Contains(body, "cut here"))
	}
	if _, err := c.Publish(t.Context(), sdk.Report{Key: "usmhub-ssc-register-2026-W49", Title: "Register", Markdown: md}); err != nil {
		t.Errorf("publishing it again: %v", err)
	}
	if got := len(f.Issues(owner, repoN)); got != 1 {
		t.Errorf("%d issues after two publishes, want 1", got)
	}
}
