package main

// Tests against fakegithub, the project's fake GitHub server (github.com
// cannot be reached here): what GitHub does to clients — pages and Link
// headers, ETags and 304s, rate limits, a 502 after a committed write, pull
// requests in the issue list, milestone numbers and due dates, search lag,
// reactions — and how the connector meets it. The conformance kit runs
// here in process and, over the wire with the built binary, in e2e/github.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/usmhub/usmhub/connectors/github/fakegithub"
	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/sdk"
)

const (
	owner = "acme"
	repoN = "service-improvement"
	token = "ghp_test_token_not_real"
)

func newFake(t *testing.T) *fakegithub.Server {
	t.Helper()
	f := fakegithub.New(owner, repoN, token, "usmhub-bot", "anna", "bram")
	f.WritesPerMinute = -1
	t.Cleanup(f.Close)
	return f
}

func fakeConfig(t *testing.T, f *fakegithub.Server) map[string]any {
	return map[string]any{"owner": owner, "repo": repoN, "token": token, "base_url": f.BaseURL(),
		"cache_file": filepath.Join(t.TempDir(), "etags.json"), "writes_per_minute": 100000,
		"voters": map[string]any{"kmulder": "k.mulder", "lotte": "Lotte"}}
}

func configure(t *testing.T, m map[string]any) (*Connector, error) {
	t.Helper()
	c := New().(*Connector)
	cfg, err := sdk.ConfigFromMap(m)
	if err != nil {
		t.Fatal(err)
	}
	return c, c.Configure(context.Background(), cfg)
}

func mustConfigure(t *testing.T, m map[string]any) *Connector {
	t.Helper()
	c, err := configure(t, m)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return c
}

// The conformance kit, in process over gRPC, against the fake; the fault
// proxy fails creates after GitHub took them.
func TestConformance(t *testing.T) {
	f := newFake(t)
	f.SearchLag = time.Hour // Find must not depend on search
	cfg := fakeConfig(t, f)
	bad := fakeConfig(t, f)
	bad["repo"] = "no/such"
	connectortest.Run(t, connectortest.InProcess(New), connectortest.Fixture{
		Config: cfg, BadConfig: bad, BadAttribute: "repo", URLAttribute: "base_url",
		// An update carrying a stale version is refused: the connector
		// reads the issue before it writes and compares its digest.
		OptimisticConcurrency: true,
		NewFields: func(i int) map[string]string {
			fl := connectortest.RiskFields(i)
			fl[sdk.FieldStatus] = []string{"open", "accepted", "closed", "not_planned"}[i%4]
			fl[sdk.FieldOwner] = []string{"anna", "bram"}[i%2]
			return fl
		},
	})
}

func TestConfigureNamesTheBadAttribute(t *testing.T) {
	f := newFake(t)
	for _, tc := range []struct {
		set  map[string]any
		attr string
	}{
		{map[string]any{"owner": ""}, "owner"},
		{map[string]any{"owner": "a b"}, "owner"},
		{map[string]any{"repo": ""}, "repo"},
		{map[string]any{"token": " "}, "token"},
		{map[string]any{"base_url": "ghe.example.org"}, "base_url"},
		{map[string]any{"report_label": "usm-risk"}, "report_label"},
		{map[string]any{"page_size": 500}, "page_size"},
		{map[string]any{"writes_per_minute": 0.5}, "writes_per_minute"},
		{map[string]any{"timeout": "soon"}, "timeout"},
		{map[string]any{"voters": map[string]any{"not a login": "x"}}, "voters"},
	} {
		m := fakeConfig(t, f)
		for k, v := range tc.set {
			m[k] = v
		}
		_, err := configure(t, m)
		var ce *sdk.ConfigError
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Attribute != tc.attr {
			t.Errorf("Configure with %v = %v, want one problem on %s", tc.set, err, tc.attr)
		}
	}
}

func create(t *testing.T, c *Connector, n int) []sdk.Result {
	t.Helper()
	var changes []sdk.Change
	for i := 1; i <= n; i++ {
		fl := connectortest.RiskFields(i)
		fl[sdk.FieldKey] = fmt.Sprintf("R-%d", i)
		fl[sdk.FieldOwner] = "anna"
		changes = append(changes, sdk.Change{Op: sdk.OpCreate, Marker: fmt.Sprintf("usmhub-t-%d", i), Fields: fl})
	}
	res, err := c.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("create %d: %v", i, r.Err)
		}
	}
	return res
}

func pullAll(t *testing.T, c *Connector, cursor string) ([]sdk.Record, string) {
	t.Helper()
	var out []sdk.Record
	err := c.Pull(t.Context(), sdk.PullRequest{Kind: sdk.KindRisk, Cursor: cursor, Lookback: time.Second}, func(b sdk.Batch) error {
		out = append(out, b.Records...)
		cursor = b.Cursor
		return nil
	})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	return out, cursor
}

// A full pull pages through Link headers, leaves pull requests out and
// delivers every issue once; a second pull of the same listing is answered
// 304 throughout and costs no rate limit, also from a new launch (the
// ETags are kept on disk).
func TestPullPagesAndConditionalRequests(t *testing.T) {
	f := newFake(t)
	cfg := fakeConfig(t, f)
	cfg["page_size"] = 30
	c := mustConfigure(t, cfg)
	create(t, c, 75)
	f.AddPullRequest(owner, repoN, "A pull request with the label", "usm-risk")

	before := f.Counts()
	recs, cursor := pullAll(t, c, "")
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.ExternalID] {
			t.Errorf("issue %s delivered twice", r.ExternalID)
		}
		seen[r.ExternalID] = true
		if r.ExternalID == "76" {
			t.Errorf("the pull request #76 was pulled as a risk")
		}
	}
	if len(seen) != 75 {
		t.Errorf("pulled %d issues, want 75", len(seen))
	}
	first := f.Counts()
	if pages := first.Total - before.Total; pages < 3 {
		t.Errorf("a full pull of 76 items at 30 a page took %d requests, want at least 3 (pages)", pages)
	}
	// The same pull from a fresh launch: conditional requests only.
	c2 := mustConfigure(t, cfg)
	again, _ := pullAll(t, c2, "")
	second := f.Counts()
	if len(again) != 75 {
		t.Errorf("second pull: %d records, want 75", len(again))
	}
	if n, nm := second.Total-first.Total, second.NotModified-first.NotModified; n == 0 || n != nm {
		t.Errorf("second pull: %d requests, %d answered 304; want all 304", n, nm)
	}
	// Incremental: only what changed since the cursor.
	time.Sleep(1100 * time.Millisecond)
	f.Edit(owner, repoN, 5, func(is *github.Issue) { is.Title = github.String("Edited in the web UI") })
	time.Sleep(1100 * time.Millisecond)
	changed, _ := pullAll(t, c2, cursor)
	// From the cursor less the lookback: the issues of the cursor's second
	// repeat (allowed), the edited one comes last.
	if n := len(changed); n == 0 || changed[n-1].ExternalID != "5" || changed[n-1].Fields[sdk.FieldTitle] != "Edited in the web UI" {
		t.Errorf("incremental pull = %v, want issue 5 last, with its new title", ids(changed))
	}
}

func ids(recs []sdk.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ExternalID)
	}
	return out
}

// Issues updated while a pull pages on are not skipped: the pages past the
// first are asked afresh from the newest stamp seen.
func TestPullMissesNothingWhileIssuesChange(t *testing.T) {
	f := newFake(t)
	cfg := fakeConfig(t, f)
	cfg["page_size"] = 10
	c := mustConfigure(t, cfg)
	create(t, c, 30)
	time.Sleep(1100 * time.Millisecond)
	got := map[string]bool{}
	pages := 0
	err := c.Pull(t.Context(), sdk.PullRequest{Kind: sdk.KindRisk}, func(b sdk.Batch) error {
		pages++
		for _, r := range b.Records {
			got[r.ExternalID] = true
		}
		if pages == 1 {
			// A person edits an issue of the first page: it moves to
			// the end of the listing, shifting the others.
			f.Edit(owner, repoN, 2, func(is *github.Issue) { is.Title = github.String("moved") })
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 30; i++ {
		if !got[strconv.Itoa(i)] {
			t.Errorf("issue %d was skipped", i)
		}
	}
}

// A person edits the issue in the web UI: the description, a value in the
// block, a deleted block line. The pull takes what they changed and leaves
// out what they deleted (the hub keeps it); the marker survives.
func TestBodySurvivesHandEdits(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	res := create(t, c, 1)
	n, _ := strconv.Atoi(res[0].ExternalID)
	body := f.Issue(owner, repoN, n).GetBody()
	if !strings.Contains(body, "<!-- usmhub-marker: usmhub-t-1 -->") || !strings.Contains(body, "<details><summary>USM risk R-1</summary>") {
		t.Fatalf("body holds no marker comment or block:\n%s", body)
	}
	edited := strings.Replace(body, "Created by the usmhub conformance kit.", "Rewritten by a person.", 1)
	edited = strings.Replace(edited, "- likelihood: 2", "* Likelihood = 4", 1)
	edited = strings.Replace(edited, "- effort: 2\n", "", 1)
	edited = strings.ReplaceAll(edited, "\n", "\r\n") // the web UI's line ends
	f.Edit(owner, repoN, n, func(is *github.Issue) { is.Body = &edited })
	recs, _ := pullAll(t, c, "")
	r := recs[0]
	if r.Marker != "usmhub-t-1" {
		t.Errorf("marker %q after the edit", r.Marker)
	}
	if r.Fields[sdk.FieldDescription] != "Rewritten by a person.\nRecord 1, second line." || r.Fields[sdk.FieldLikelihood] != "4" {
		t.Errorf("fields after the edit: %q", r.Fields)
	}
	if _, ok := r.Fields[sdk.FieldEffort]; ok {
		t.Errorf("a deleted block line was pulled as %q", r.Fields[sdk.FieldEffort])
	}
}

// Rate limits: the primary one spent is a transient error carrying the
// wait until reset, without a request; secondary limits wait Retry-After,
// or at least a minute, growing, without one, for 403 and 429 alike.
func TestRateLimits(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	pull := func() error {
		return c.Pull(t.Context(), sdk.PullRequest{Kind: sdk.KindRisk}, func(sdk.Batch) error { return nil })
	}
	wantWait := func(what string, err error, lo, hi time.Duration) {
		t.Helper()
		var se *sdk.Error
		if !errors.As(err, &se) || se.Class != sdk.ClassTransient || se.RetryAfter < lo || se.RetryAfter > hi {
			t.Errorf("%s: %v, want a transient error waiting %s to %s", what, err, lo, hi)
		}
	}
	f.SetRemaining(0, time.Now().Add(40*time.Second))
	err := pull()
	wantWait("primary limit spent", err, 30*time.Second, 45*time.Second)
	sent := f.Counts().Total
	err = pull()
	wantWait("primary limit, again", err, 30*time.Second, 45*time.Second)
	if f.Counts().Total != sent {
		t.Errorf("a request was sent while the primary limit is spent")
	}

	// Secondary limits, in a row on one connector: without Retry-After a
	// minute, then two (403 and 429 alike); with it, what it says (a 429
	// asking for less than 10 seconds is waited out by the SDK's client).
	f2 := newFake(t)
	c2 := mustConfigure(t, fakeConfig(t, f2))
	for _, tc := range []struct {
		status, retryAfter, times int // times: the SDK's client retries a GET meeting 429 twice
		lo, hi                    time.Duration
	}{
		{403, 0, 1, time.Minute, time.Minute},
		{429, 0, 3, 2 * time.Minute, 2 * time.Minute},
		{429, 30, 1, 30 * time.Second, 30 * time.Second},
		{403, 7, 1, 6 * time.Second, 8 * time.Second},
	} {
		f2.Inject(fakegithub.Fault{Status: tc.status, RetryAfter: tc.retryAfter, Times: tc.times})
		err := c2.Pull(t.Context(), sdk.PullRequest{Kind: sdk.KindRisk}, func(sdk.Batch) error { return nil })
		wantWait(fmt.Sprintf("secondary %d, retry-after %d", tc.status, tc.retryAfter), err, tc.lo, tc.hi)
	}
	sent = f2.Counts().Total
	err = c2.Pull(t.Context(), sdk.PullRequest{Kind: sdk.KindRisk}, func(sdk.Batch) error { return nil })
	wantWait("during a secondary limit's Retry-After", err, time.Second, 8*time.Second)
	if f2.Counts().Total != sent {
		t.Errorf("a request was sent during a secondary limit's Retry-After")
	}
}

// Writes are paced below GitHub's content-creation limit: with pacing, 25
// creates meet no secondary limit; without it, they do.
func TestWritesArePaced(t *testing.T) {
	for _, paced := range []bool{true, false} {
		f := newFake(t)
		f.WritesPerMinute, f.WriteWindow = 10, time.Second
		cfg := fakeConfig(t, f)
		if paced {
			cfg["writes_per_minute"] = 540 // 9 a second
		}
		c := mustConfigure(t, cfg)
		var changes []sdk.Change
		for i := 1; i <= 25; i++ {
			fl := connectortest.RiskFields(i)
			delete(fl, sdk.FieldOwner)
			changes = append(changes, sdk.Change{Op: sdk.OpCreate, Marker: fmt.Sprintf("usmhub-p-%d", i), Fields: fl})
		}
		res, err := c.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: changes})
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, r := range res {
			if r.Err != nil {
				failed++
			}
		}
		if paced && (failed > 0 || f.Counts().RateLimited > 0) {
			t.Errorf("paced: %d creates failed, %d requests met the secondary limit; want none", failed, f.Counts().RateLimited)
		}
		if !paced && f.Counts().RateLimited == 0 {
			t.Errorf("unpaced: no request met the secondary limit; the test proves nothing")
		}
	}
}

// A 502 after GitHub committed a create: the create is transient (not
// sent again), Find finds the issue at once by listing (search lags an
// hour here), and pushing the create again returns that issue.
func TestCreateAnsweredWith502AfterCommit(t *testing.T) {
	f := newFake(t)
	f.SearchLag = time.Hour
	c := mustConfigure(t, fakeConfig(t, f))
	f.Inject(fakegithub.Fault{Method: "POST", Path: "/issues", Status: 502, AfterCommit: true})
	fl := connectortest.RiskFields(1)
	ch := sdk.Change{Op: sdk.OpCreate, Marker: "usmhub-502", Fields: fl}
	res, err := c.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{ch}})
	if err != nil || res[0].Err == nil || res[0].Err.Class != sdk.ClassTransient {
		t.Fatalf("create answered 502 after commit: %v %v, want a transient result", res, err)
	}
	if n := len(f.Issues(owner, repoN)); n != 1 {
		t.Fatalf("%d issues after the failed create, want 1 (committed, not sent again)", n)
	}
	rec, err := c.Find(t.Context(), sdk.KindRisk, "usmhub-502")
	if err != nil || rec == nil || rec.ExternalID != "1" {
		t.Fatalf("Find after the 502 = %v, %v; want issue 1", rec, err)
	}
	res, err = c.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{ch}})
	if err != nil || res[0].Err != nil || res[0].ExternalID != "1" || len(f.Issues(owner, repoN)) != 1 {
		t.Errorf("the create pushed again: %v %v, %d issues; want issue 1 and no second", res, err, len(f.Issues(owner, repoN)))
	}
}

// Find of an issue older than find_window asks search, which finds it only
// once its index caught up.
func TestFindWaitsForSearchOnlyForOldIssues(t *testing.T) {
	f := newFake(t)
	f.SearchLag = 1500 * time.Millisecond
	cfg := fakeConfig(t, f)
	cfg["find_window"] = "0s" // every issue counts as old: search only
	c := mustConfigure(t, cfg)
	create(t, c, 1)
	if rec, err := c.Find(t.Context(), sdk.KindRisk, "usmhub-t-1"); err != nil || rec != nil {
		t.Errorf("Find through search before its index caught up = %v, %v; want nil (the fake's search lags)", rec, err)
	}
	time.Sleep(1600 * time.Millisecond)
	if rec, err := c.Find(t.Context(), sdk.KindRisk, "usmhub-t-1"); err != nil || rec == nil {
		t.Errorf("Find through search after the lag = %v, %v; want the issue", rec, err)
	}
}

// Sprints become milestones, addressed by number; the due date round-trips
// through GitHub's Pacific-time rounding; planned risks get the milestone.
func TestSprintMilestoneDueDate(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	create(t, c, 3)
	res, err := c.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindSprint, Changes: []sdk.Change{{Op: sdk.OpCreate, Marker: "usmhub-s1",
		Fields: map[string]string{sdk.FieldSprintNumber: "1", sdk.FieldSprintGoal: "Fewer repeat incidents", sdk.FieldSprintStart: "2026-12-01",
			sdk.FieldSprintEnd: "2026-12-14", sdk.FieldSprintCapacity: "12", sdk.FieldSprintStatus: "planned", sdk.FieldSprintItems: "R-1,R-3"}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("push sprint: %v %v", res, err)
	}
	ms := f.Milestones(owner, repoN)
	if len(ms) != 1 || res[0].ExternalID != strconv.Itoa(ms[0].GetNumber()) || ms[0].GetNumber() == int(ms[0].GetID()) {
		t.Fatalf("milestones %+v, result %s: want one, addressed by its number", ms, res[0].ExternalID)
	}
	if got := ms[0].GetDueOn().UTC().Format(time.RFC3339); got != "2026-12-14T08:00:00Z" {
		t.Errorf("due_on as GitHub stores it = %s, want 2026-12-14T08:00:00Z (midnight in California)", got)
	}
	rec, err := c.Find(t.Context(), sdk.KindSprint, "usmhub-s1")
	if err != nil || rec == nil || rec.Fields[sdk.FieldSprintEnd] != "2026-12-14" || rec.Fields[sdk.FieldSprintGoal] != "Fewer repeat incidents" {
		t.Errorf("Find(sprint) = %+v, %v; want end 2026-12-14", rec, err)
	}
	for _, is := range f.Issues(owner, repoN) {
		want := is.GetNumber() == 1 || is.GetNumber() == 3
		if (is.Milestone != nil) != want {
			t.Errorf("issue #%d milestone %v, want it set: %v", is.GetNumber(), is.Milestone, want)
		}
	}
	// A client sending midnight UTC loses a day: the fake rounds as GitHub.
	naive, _ := fakegithubRound("2026-12-14T00:00:00Z")
	if naive != "2026-12-13" {
		t.Errorf("the fake rounds midnight UTC to %s, want 2026-12-13", naive)
	}
	// Replanned: R-3 out, R-2 in; closed.
	res, err = c.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindSprint, Changes: []sdk.Change{{Op: sdk.OpUpdate, ExternalID: res[0].ExternalID,
		Fields: map[string]string{sdk.FieldSprintItems: "R-1,R-2", sdk.FieldSprintStatus: "closed"}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("update sprint: %v %v", res, err)
	}
	for _, is := range f.Issues(owner, repoN) {
		want := is.GetNumber() == 1 || is.GetNumber() == 2
		if (is.Milestone != nil) != want {
			t.Errorf("after the update: issue #%d milestone %v, want it set: %v", is.GetNumber(), is.Milestone, want)
		}
	}
	if ms := f.Milestones(owner, repoN); ms[0].GetState() != "closed" {
		t.Errorf("milestone state %s, want closed", ms[0].GetState())
	}
}

// fakegithubRound is what the fake makes of a due_on (through a milestone).
func fakegithubRound(due string) (string, error) {
	f := fakegithub.New("o", "r", "t", "u")
	defer f.Close()
	gh, _ := github.NewClient(nil).WithAuthToken("t").WithEnterpriseURLs(f.BaseURL(), f.BaseURL())
	ts, err := time.Parse(time.RFC3339, due)
	if err != nil {
		return "", err
	}
	m, _, err := gh.Issues.CreateMilestone(context.Background(), "o", "r", &github.Milestone{Title: github.String("x"), DueOn: &github.Timestamp{Time: ts}})
	if err != nil {
		return "", err
	}
	return dueDay(m.DueOn), nil
}

// 👍 reactions of voters are votes; other reactions and other logins are
// not; a removed reaction is no longer listed (the hub withdraws the vote).
func TestReactionsAreVotes(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	create(t, c, 2)
	f.React(owner, repoN, 1, "kmulder", "+1", true)
	f.React(owner, repoN, 1, "lotte", "heart", true)
	f.React(owner, repoN, 2, "lotte", "+1", true)
	f.React(owner, repoN, 2, "stranger", "+1", true)
	votes := func() map[string]string {
		out := map[string]string{}
		err := c.Pull(t.Context(), sdk.PullRequest{Kind: sdk.KindVote}, func(b sdk.Batch) error {
			if b.Cursor != "" {
				t.Errorf("vote cursor %q, want empty (every vote pull is complete)", b.Cursor)
			}
			for _, r := range b.Records {
				out[r.ExternalID] = r.Fields[sdk.FieldVoteRisk] + " " + r.Fields[sdk.FieldVoteVoter]
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := votes()
	want := map[string]string{"1/kmulder": "usmhub-t-1 k.mulder", "2/lotte": "usmhub-t-2 Lotte"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("votes = %v, want %v", got, want)
	}
	f.React(owner, repoN, 1, "kmulder", "+1", false)
	if got := votes(); len(got) != 1 || got["2/lotte"] == "" {
		t.Errorf("after the reaction was removed: votes = %v, want only 2/lotte", got)
	}
}

// Publishing the same report key twice updates one issue.
func TestPublishTwiceIsOneIssue(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	r := sdk.Report{Key: "sprint-1", Kind: "sprint", Title: "Sprint 1", Markdown: "# Sprint 1\nfirst"}
	p1, err := c.Publish(t.Context(), r)
	if err != nil || !p1.Created {
		t.Fatalf("first publish: %+v %v", p1, err)
	}
	r.Markdown = "# Sprint 1\nsecond"
	p2, err := c.Publish(t.Context(), r)
	if err != nil || p2.Created || p2.ExternalID != p1.ExternalID {
		t.Fatalf("second publish: %+v %v, want an update of %s", p2, err, p1.ExternalID)
	}
	is := f.Issues(owner, repoN)
	if len(is) != 1 || is[0].GetBody() != "# Sprint 1\nsecond" || is[0].GetTitle() != "Sprint 1 [sprint-1]" {
		t.Errorf("issues after two publishes: %d, %q %q", len(is), is[0].GetTitle(), is[0].GetBody())
	}
}

// A report with a dashboard URL links to it (GitHub takes no attachments,
// so its charts are there); without one the body is the Markdown alone.
func TestPublishLinksTheDashboard(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	r := sdk.Report{Key: "register-ssc", Kind: "register", Title: "Register", Markdown: "# Register\n",
		URL:         "https://usm.example.org/reports/register?initiative=ssc",
		Attachments: []sdk.Attachment{{Name: "register-threats.svg", ContentType: "image/svg+xml", Data: []byte("<svg/>")}}}
	if _, err := c.Publish(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	want := "# Register\n\n[Charts and the whole report on the usmhub dashboard](https://usm.example.org/reports/register?initiative=ssc)"
	if is := f.Issues(owner, repoN); len(is) != 1 || is[0].GetBody() != want {
		t.Fatalf("issue body %q, want %q", is[0].GetBody(), want)
	}
	// Publishing it again changes nothing.
	before := len(f.Log())
	if p, err := c.Publish(t.Context(), r); err != nil || p.Created {
		t.Fatalf("second publish: %+v %v", p, err)
	}
	for _, l := range f.Log()[before:] {
		if strings.HasPrefix(l, "PATCH ") {
			t.Errorf("an unchanged report was written again: %s", l)
		}
	}
}

// Check says exactly what is wrong: a bad token, a classic token without
// the repo scope, a fine-grained token without the Issues permission, an
// unknown repository, a renamed one. A missing label is no error (the
// first sync creates it).
func TestCheck(t *testing.T) {
	f := newFake(t)
	f.AddToken("classic-public", fakegithub.Token{Login: "usmhub-bot", Scopes: []string{"read:org"}})
	f.AddToken("classic-repo", fakegithub.Token{Login: "usmhub-bot", Scopes: []string{"repo", "read:org"}})
	f.AddToken("fine-no-issues", fakegithub.Token{Login: "usmhub-bot", Issues: "none"})
	f.AddToken("fine-read-issues", fakegithub.Token{Login: "usmhub-bot", Issues: "read"})
	check := func(set map[string]any) error {
		m := fakeConfig(t, f)
		for k, v := range set {
			m[k] = v
		}
		return mustConfigure(t, m).Check(t.Context())
	}
	if err := check(nil); err != nil {
		t.Errorf("Check of a good config with no labels yet: %v", err)
	}
	if err := check(map[string]any{"label": "usm risk/register"}); err != nil {
		t.Errorf("Check with a label holding a space and a slash: %v", err)
	}
	if log := strings.Join(f.Log(), "\n"); !strings.Contains(log, "GET /api/v3/repos/acme/service-improvement/labels/usm%20risk%2Fregister 404") {
		t.Errorf("Check did not ask for the label by its escaped name:\n%s", log)
	}
	if err := check(map[string]any{"token": "classic-repo"}); err != nil {
		t.Errorf("Check with a classic token with scope repo: %v", err)
	}
	for _, tc := range []struct {
		set        map[string]any
		attr, text string
	}{
		{map[string]any{"token": "wrong"}, "token", "401"},
		{map[string]any{"token": "classic-public"}, "token", "scope repo"},
		{map[string]any{"token": "fine-no-issues"}, "token", "issues=read"},
		{map[string]any{"token": "fine-read-issues"}, "token", "issues=write"}, // the permission a new token's user most easily gets wrong
		{map[string]any{"repo": "no-such-repo"}, "repo", "no repository"},
	} {
		err := check(tc.set)
		var ce *sdk.ConfigError
		if !errors.As(err, &ce) || ce.Problems[0].Attribute != tc.attr || !strings.Contains(ce.Problems[0].Summary+ce.Problems[0].Detail, tc.text) {
			t.Errorf("Check with %v = %v, want a problem on %s saying %q", tc.set, err, tc.attr, tc.text)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	f.AddRepo(owner, "old-name")
	f.Rename(owner, "old-name", "new-name")
	err := check(map[string]any{"repo": "old-name"})
	if err == nil || !strings.Contains(err.Error(), "renamed or transferred") {
		t.Errorf("Check of a renamed repository = %v, want it to say so", err)
	}
}

// An update to a moved repository is refused before its body is lost.
func TestMovedRepositoryIsAClearError(t *testing.T) {
	f := newFake(t)
	c := mustConfigure(t, fakeConfig(t, f))
	create(t, c, 1)
	f.Rename(owner, repoN, "renamed")
	res, err := c.Push(t.Context(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{{Op: sdk.OpUpdate, ExternalID: "1",
		Fields: map[string]string{sdk.FieldTitle: "new"}}}})
	if err != nil || res[0].Err == nil || res[0].Err.Class != sdk.ClassPermanent || !strings.Contains(res[0].Err.Message, "owner and repo") {
		t.Errorf("update in a moved repository: %v %v, want a permanent error asking for the new name", res, err)
	}
	if got := f.Issue(owner, "renamed", 1).GetTitle(); got == "new" {
		t.Errorf("the title changed although the repository moved")
	}
}

// The ETag cache stays within its bounds, keeping the answers used last.
func TestETagCacheBounds(t *testing.T) {
	c := newETagCache(filepath.Join(t.TempDir(), "etags.json"))
	h := map[string][]string{"Etag": {`W/"x"`}}
	big := make([]byte, 1<<20)
	for i := 0; i < 60; i++ {
		c.put(fmt.Sprintf("u%d", i), h, big)
		if i == 0 {
			continue
		}
		c.get("u0") // used all along
	}
	if c.bytes > maxCacheBytes || len(c.m) > maxCacheEntries {
		t.Errorf("cache holds %d bytes in %d entries, bounds %d and %d", c.bytes, len(c.m), maxCacheBytes, maxCacheEntries)
	}
	if c.get("u0") == nil || c.get("u59") == nil || c.get("u1") != nil {
		t.Errorf("eviction kept the wrong answers: u0 %v, u59 %v, u1 %v", c.get("u0") != nil, c.get("u59") != nil, c.get("u1") != nil)
	}
	c.save()
	again := newETagCache(c.path)
	if len(again.m) != len(c.m) || again.bytes != c.bytes {
		t.Errorf("reloaded cache: %d entries, %d bytes; saved %d, %d", len(again.m), again.bytes, len(c.m), c.bytes)
	}
}
