package fakegithub

// The fake's own behaviours, checked with plain HTTP (not go-github), as
// GitHub's documentation states them: the tests of the connector rely on
// them.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, s *Server, path, token string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", s.BaseURL()+strings.TrimPrefix(path, "/"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func send(t *testing.T, s *Server, method, path, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, s.BaseURL()+strings.TrimPrefix(path, "/"), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestConditionalRequestsCostNoRateLimit(t *testing.T) {
	s := New("o", "r", "tok", "me")
	defer s.Close()
	send(t, s, "POST", "repos/o/r/issues", `{"title":"a","labels":["x"]}`)
	first := get(t, s, "repos/o/r/issues?labels=x", "tok")
	etag, rem := first.Header.Get("ETag"), first.Header.Get("X-RateLimit-Remaining")
	if first.StatusCode != 200 || etag == "" {
		t.Fatalf("list: %d, ETag %q", first.StatusCode, etag)
	}
	again := get(t, s, "repos/o/r/issues?labels=x", "tok", "If-None-Match", etag)
	if again.StatusCode != 304 || again.Header.Get("X-RateLimit-Remaining") != rem {
		t.Errorf("conditional list: %d, remaining %s (before %s); want 304 costing nothing", again.StatusCode, again.Header.Get("X-RateLimit-Remaining"), rem)
	}
	if bad := get(t, s, "repos/o/r/issues", "nope"); bad.StatusCode != 401 {
		t.Errorf("an unknown token: %d, want 401", bad.StatusCode)
	}
}

func TestLinkHeaderPagination(t *testing.T) {
	s := New("o", "r", "tok", "me")
	defer s.Close()
	for i := 0; i < 5; i++ {
		send(t, s, "POST", "repos/o/r/issues", `{"title":"a"}`)
	}
	s.AddPullRequest("o", "r", "pr")
	resp := get(t, s, "repos/o/r/issues?per_page=2&page=2", "tok")
	link := resp.Header.Get("Link")
	for _, want := range []string{`page=3&per_page=2>; rel="next"`, `page=3&per_page=2>; rel="last"`, `page=1&per_page=2>; rel="first"`, `page=1&per_page=2>; rel="prev"`} {
		if !strings.Contains(link, want) {
			t.Errorf("Link %q lacks %s", link, want)
		}
	}
	var list []map[string]any
	json.NewDecoder(get(t, s, "repos/o/r/issues?per_page=100", "tok").Body).Decode(&list)
	if len(list) != 6 || list[0]["pull_request"] == nil {
		t.Errorf("the issue list holds %d items, the newest %v; want 6 with the pull request first", len(list), list[0])
	}
}

func TestMilestoneDueOnRoundsThroughPacificTime(t *testing.T) {
	s := New("o", "r", "tok", "me")
	defer s.Close()
	for _, tc := range []struct{ sent, stored string }{
		{"2026-12-14T00:00:00Z", "2026-12-13T08:00:00Z"}, // the 13th in California
		{"2026-12-14T12:00:00Z", "2026-12-14T08:00:00Z"},
		{"2026-07-01T12:00:00Z", "2026-07-01T07:00:00Z"}, // daylight saving time
	} {
		resp := send(t, s, "POST", "repos/o/r/milestones", `{"title":"m `+tc.sent+`","due_on":"`+tc.sent+`"}`)
		var m struct {
			Number int       `json:"number"`
			ID     int       `json:"id"`
			DueOn  time.Time `json:"due_on"`
		}
		json.NewDecoder(resp.Body).Decode(&m)
		if got := m.DueOn.UTC().Format(time.RFC3339); got != tc.stored || m.ID == m.Number {
			t.Errorf("due_on %s is stored as %s (number %d, id %d), want %s and an id other than the number", tc.sent, got, m.Number, m.ID, tc.stored)
		}
	}
}

func TestSearchLagsAndLimits(t *testing.T) {
	s := New("o", "r", "tok", "me")
	s.SearchLag = time.Hour
	defer s.Close()
	send(t, s, "POST", "repos/o/r/issues", `{"title":"a","body":"has usmhub-1 in it"}`)
	var res struct {
		Total int `json:"total_count"`
	}
	resp := get(t, s, `search/issues?q="usmhub-1"+repo:o/r`, "tok")
	json.NewDecoder(resp.Body).Decode(&res)
	if res.Total != 0 || resp.Header.Get("X-RateLimit-Resource") != "search" || resp.Header.Get("X-RateLimit-Limit") != "30" {
		t.Errorf("search right after the create: %d found, resource %s, limit %s; want 0, search, 30", res.Total, resp.Header.Get("X-RateLimit-Resource"), resp.Header.Get("X-RateLimit-Limit"))
	}
}

func TestSecondaryLimitsAndCommittedFailures(t *testing.T) {
	s := New("o", "r", "tok", "me")
	defer s.Close()
	s.WritesPerMinute = 2
	for i, want := range []int{201, 201, 403} {
		if got := send(t, s, "POST", "repos/o/r/issues", `{"title":"a"}`).StatusCode; got != want {
			t.Errorf("write %d: %d, want %d (2 writes a minute)", i+1, got, want)
		}
	}
	s.WritesPerMinute = -1
	s.Inject(Fault{Method: "POST", Status: 502, AfterCommit: true})
	if got := send(t, s, "POST", "repos/o/r/issues", `{"title":"b"}`).StatusCode; got != 502 || len(s.Issues("o", "r")) != 3 {
		t.Errorf("a 502 after commit: %d and %d issues, want 502 and the issue stored (3)", got, len(s.Issues("o", "r")))
	}
	s.Inject(Fault{Status: 429})
	resp := get(t, s, "repos/o/r/issues", "tok")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "" {
		t.Errorf("an injected 429: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.SetRemaining(0, time.Now().Add(time.Minute))
	if resp := get(t, s, "repos/o/r/issues", "tok"); resp.StatusCode != 403 || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("primary limit spent: %d, remaining %q; want 403 and 0", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
	}
}

// GitHub's ETags are the token's: another token's ETag is answered in full.
func TestETagsAreTheTokens(t *testing.T) {
	s := New("o", "r", "tok", "me")
	defer s.Close()
	s.AddToken("tok2", Token{Login: "you"})
	etag := get(t, s, "repos/o/r/issues", "tok").Header.Get("ETag")
	if got := get(t, s, "repos/o/r/issues", "tok2", "If-None-Match", etag).StatusCode; got != 200 {
		t.Errorf("another token's ETag: %d, want 200", got)
	}
	if got := get(t, s, "repos/o/r/issues", "tok", "If-None-Match", etag).StatusCode; got != 304 {
		t.Errorf("the token's own ETag: %d, want 304", got)
	}
}

// decodeErrors reads GitHub's 422 body.
func decodeErrors(t *testing.T, resp *http.Response) []map[string]any {
	t.Helper()
	var body struct {
		Message string           `json:"message"`
		Errors  []map[string]any `json:"errors"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 422 || body.Message != "Validation Failed" || len(body.Errors) != 1 {
		t.Fatalf("got %d %q %v, want 422 Validation Failed with one error", resp.StatusCode, body.Message, body.Errors)
	}
	return body.Errors
}

// Titles over 256 characters and bodies over 65536 are refused as GitHub
// refuses them; characters, not bytes, count.
func TestValueLimits(t *testing.T) {
	s := New("o", "r", "tok", "me")
	defer s.Close()
	emoji := strings.Repeat("🦀", 256) // 1024 bytes, 256 characters
	if got := send(t, s, "POST", "repos/o/r/issues", `{"title":"`+emoji+`","body":"`+strings.Repeat("é", 65536)+`"}`).StatusCode; got != 201 {
		t.Fatalf("a title of 256 characters, a body of 65536: %d, want 201", got)
	}
	e := decodeErrors(t, send(t, s, "POST", "repos/o/r/issues", `{"title":"`+emoji+`x"}`))
	if e[0]["field"] != "title" || e[0]["code"] != "custom" || e[0]["message"] != "title is too long (maximum is 256 characters)" {
		t.Errorf("title of 257: %v", e)
	}
	e = decodeErrors(t, send(t, s, "PATCH", "repos/o/r/issues/1", `{"body":"`+strings.Repeat("a", 65537)+`"}`))
	if e[0]["field"] != "body" || e[0]["message"] != "body is too long (maximum is 65536 characters)" {
		t.Errorf("body of 65537: %v", e)
	}
	e = decodeErrors(t, send(t, s, "PATCH", "repos/o/r/issues/1", `{"assignees":["stranger"]}`))
	if e[0]["field"] != "assignees" || e[0]["code"] != "invalid" || !strings.Contains(e[0]["message"].(string), "stranger") {
		t.Errorf("an assignee who is no collaborator: %v", e)
	}
	send(t, s, "POST", "repos/o/r/milestones", `{"title":"Sprint 1"}`)
	e = decodeErrors(t, send(t, s, "POST", "repos/o/r/milestones", `{"title":"sprint 1"}`))
	if e[0]["resource"] != "Milestone" || e[0]["code"] != "already_exists" {
		t.Errorf("a second milestone of one title: %v", e)
	}
}

// A deleted issue answers 410, a transferred one 301 to its new place;
// neither is listed any more. A deleted label leaves every issue.
func TestDeletedAndTransferredIssues(t *testing.T) {
	s := New("o", "r", "tok", "me")
	defer s.Close()
	s.AddRepo("o", "other")
	for i := 0; i < 3; i++ {
		send(t, s, "POST", "repos/o/r/issues", `{"title":"a","labels":["usm-risk","kind: threat"]}`)
	}
	s.Delete("o", "r", 1)
	n := s.Transfer("o", "r", 2, "o", "other")
	if got := get(t, s, "repos/o/r/issues/1", "tok").StatusCode; got != 410 {
		t.Errorf("a deleted issue: %d, want 410", got)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", s.BaseURL()+"repos/o/r/issues/2", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || !strings.HasSuffix(resp.Header.Get("Location"), "/issues/"+strconv.Itoa(n)) {
		t.Errorf("a transferred issue: %d to %q, want 301 to its new number %d", resp.StatusCode, resp.Header.Get("Location"), n)
	}
	var list []map[string]any
	json.NewDecoder(get(t, s, "repos/o/r/issues?state=all", "tok").Body).Decode(&list)
	if len(list) != 1 {
		t.Errorf("the listing holds %d issues, want 1 (deleted and transferred ones leave it)", len(list))
	}
	before := s.Issue("o", "r", 3).GetUpdatedAt()
	s.DeleteLabel("o", "r", "Kind: Threat")
	if is := s.Issue("o", "r", 3); len(is.Labels) != 1 || is.GetUpdatedAt() != before {
		t.Errorf("after the label's deletion the issue has labels %v, updated %v (before %v)", is.Labels, is.GetUpdatedAt(), before)
	}
}

// A spent primary limit may come as 429 as well as 403 (remaining 0).
func TestPrimaryLimitAs429(t *testing.T) {
	s := New("o", "r", "tok", "me")
	defer s.Close()
	s.RateLimitStatus = 429
	s.SetRemaining(0, time.Now().Add(time.Minute))
	if resp := get(t, s, "repos/o/r/issues", "tok"); resp.StatusCode != 429 || resp.Header.Get("X-RateLimit-Remaining") != "0" || resp.Header.Get("X-RateLimit-Reset") == "" {
		t.Errorf("primary limit spent: %d, remaining %q, reset %q; want 429, 0 and a reset", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"), resp.Header.Get("X-RateLimit-Reset"))
	}
}

// state_reason is ignored unless the state changes, as GitHub documents.
func TestStateReasonOnlyWithAStateChange(t *testing.T) {
	s := New("o", "r", "tok", "me")
	defer s.Close()
	send(t, s, "POST", "repos/o/r/issues", `{"title":"a"}`)
	for _, tc := range []struct{ body, state, reason string }{
		{`{"state":"closed","state_reason":"completed"}`, "closed", "completed"},
		{`{"state":"closed","state_reason":"not_planned"}`, "closed", "completed"},
		{`{"state":"open"}`, "open", "reopened"},
		{`{"state":"closed","state_reason":"not_planned"}`, "closed", "not_planned"},
	} {
		send(t, s, "PATCH", "repos/o/r/issues/1", tc.body)
		if is := s.Issue("o", "r", 1); is.GetState() != tc.state || is.GetStateReason() != tc.reason {
			t.Errorf("after %s: %s (%s), want %s (%s)", tc.body, is.GetState(), is.GetStateReason(), tc.state, tc.reason)
		}
	}
}
