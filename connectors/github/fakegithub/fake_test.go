package fakegithub

// The fake's own behaviours, checked with plain HTTP (not go-github), as
// GitHub's documentation states them: the tests of the connector rely on
// them.

import (
	"encoding/json"
	"net/http"
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
		resp := send(t, s, "POST", "repos/o/r/milestones", `{"title":"m","due_on":"`+tc.sent+`"}`)
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
