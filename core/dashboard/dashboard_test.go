package dashboard

import (
	"encoding/json"
	"fmt"
	"github.com/usmhub/usmhub/core/authlimit"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestPagesEscapeAndShow(t *testing.T) {
	f := newFixture(t, 60)
	srv := f.server(t, "127.0.0.1:8765", "")
	pages := map[string][]string{
		"/":      {"Readiness", "Open threats (", "Sprint 1 burn-up", "Scores per dimension", "&lt;script&gt;", "incomplete"},
		"/risks": {"60 risks, by priority", "R-1", "Next page"},
		"/risks?status=open&kind=threat&owner=sara": {"risks, by priority", `<option value="threat" selected>`},
		"/risks/R-1":         {"&lt;script&gt;alert", "javascript:alert(1)", "History", "status"},
		"/risks/R-2":         {`<a href="https://example.org/portal"`, "Lotte", "Daan", `<a href="https://tracker.example.org/issues/7"`},
		"/sprints":           {"Sprint 1 burn-up", "Fewer escalations", `<a href="/risks/R-1">R-1</a>`},
		"/sprints/1":         {"Effort realised"},
		"/scans":             {"recover &lt;i&gt;x&lt;/i&gt;", "latest 2026-11-10"},
		"/syncs":             {"likelihood: must be 1 to 5, not 9", "illegal status transition &lt;from&gt; in_progress", "failing", "sheet: risks.csv:4: bad row"},
		"/reports/register":  {"Risks per ISO week", "Open opportunities"},
		"/reports/readiness": {"checklist"},
	}
	for path, wants := range pages {
		code, hdr, body := get(t, http.DefaultClient, srv.URL+path)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d\n%.500s", path, code, body)
			continue
		}
		if ct := hdr.Get("Content-Type"); ct != "text/html; charset=utf-8" || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: content type %q, CSP %q", path, ct, hdr.Get("Content-Security-Policy"))
		}
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", path, w)
			}
		}
		for _, bad := range []string{"<script", "<img src=x", `href="javascript`, "<b>service</b>", "<i>x</i>", "ZgotmplZ"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s holds %q: input reached the page as markup", path, bad)
			}
		}
	}
	for path, want := range map[string]int{"/risks/R-404": 404, "/sprints/9": 404, "/reports/x": 404, "/risks?status=lost": 400, "/nope": 404} {
		if code, _, _ := get(t, http.DefaultClient, srv.URL+path); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
}

func TestAPI(t *testing.T) {
	f := newFixture(t, 120)
	srv := f.server(t, "[::1]:8765", "")
	var page1, page2 []APIRisk
	code, hdr, body := get(t, http.DefaultClient, srv.URL+"/v1/risks?limit=40")
	if code != 200 || json.Unmarshal([]byte(body), &page1) != nil || hdr.Get("X-Total-Count") != "120" || len(page1) != 40 {
		t.Fatalf("GET /v1/risks: %d total %s, %d risks\n%.300s", code, hdr.Get("X-Total-Count"), len(page1), body)
	}
	_, _, body = get(t, http.DefaultClient, srv.URL+"/v1/risks?limit=40&page=2")
	if err := json.Unmarshal([]byte(body), &page2); err != nil || len(page2) != 40 {
		t.Fatalf("page 2: %v, %d", err, len(page2))
	}
	all := append(page1, page2...)
	seen := map[string]bool{}
	for i, r := range all {
		if seen[r.Key] {
			t.Errorf("%s on two pages", r.Key)
		}
		seen[r.Key] = true
		if r.Score == nil {
			t.Fatalf("%s unscored", r.Key)
		}
		if i > 0 && *all[i-1].Score < *r.Score {
			t.Errorf("not by priority: %s %v before %s %v", all[i-1].Key, *all[i-1].Score, r.Key, *r.Score)
		}
	}
	var detail APIRiskDetail
	_, _, body = get(t, http.DefaultClient, srv.URL+"/v1/risks/R-2")
	if err := json.Unmarshal([]byte(body), &detail); err != nil || len(detail.Votes) != 2 || len(detail.Links) != 1 || len(detail.Sprints) != 1 || len(detail.History) == 0 {
		t.Errorf("GET /v1/risks/R-2: %v %+v", err, detail)
	}
	var votes []APIVote
	_, _, body = get(t, http.DefaultClient, srv.URL+"/v1/votes")
	if err := json.Unmarshal([]byte(body), &votes); err != nil || len(votes) != 2 || votes[0].RiskKey != "R-2" {
		t.Errorf("GET /v1/votes: %v %s", err, body)
	}
	var runs APIRuns
	_, _, body = get(t, http.DefaultClient, srv.URL+"/v1/runs")
	if err := json.Unmarshal([]byte(body), &runs); err != nil || len(runs.Syncs) != 1 || runs.Syncs[0].QuarantinedTotal != 1 || runs.Syncs[0].HeldTotal != 1 || runs.Syncs[0].Health != "failing" {
		t.Errorf("GET /v1/runs: %v %s", err, body)
	}
	for path, want := range map[string]int{"/v1/sprints": 200, "/v1/scans": 200, "/v1/openapi.yaml": 200, "/v1/risks/R-999": 404,
		"/v1/risks?kind=dragon": 400, "/v1/votes?risk=R-999": 404, "/v1/risks?initiative=nope": 404} {
		if code, _, body := get(t, http.DefaultClient, srv.URL+path); code != want {
			t.Errorf("GET %s: %d, want %d: %s", path, code, want, body)
		}
	}
}

func TestAccessBeyondLoopback(t *testing.T) {
	const token = "read-t0ken-for-tests"
	f := newFixture(t, 8)
	srv := f.server(t, "0.0.0.0:8765", token)

	// Pages send people to the login form; the API answers 401 — the same
	// answer for no token, a wrong one and a wrong scheme.
	code, hdr, _ := get(t, noRedirect, srv.URL+"/risks?kind=threat")
	if code != http.StatusSeeOther || hdr.Get("Location") != "/login?next="+url.QueryEscape("/risks?kind=threat") {
		t.Errorf("page without a session: %d %s", code, hdr.Get("Location"))
	}
	var bodies []string
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + token + "x", "Basic " + token, "Bearer "} {
		code, _, body := get(t, noRedirect, srv.URL+"/v1/risks", "Authorization", auth)
		if code != http.StatusUnauthorized {
			t.Errorf("API with %q: %d", auth, code)
		}
		bodies = append(bodies, body)
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("refusals differ: %q and %q", bodies[0], b)
		}
	}
	if code, _, _ := get(t, noRedirect, srv.URL+"/v1/risks", "Authorization", "Bearer "+token); code != 200 {
		t.Errorf("API with the token: %d", code)
	}
	if code, _, _ := get(t, noRedirect, srv.URL+"/", "Authorization", "bearer "+token); code != 200 {
		t.Errorf("page with the token as bearer: %d", code)
	}

	// The login form: a wrong token is refused, the right one sets a
	// session cookie that opens the pages and redirects only on this site.
	post := func(tok, next string) *http.Response {
		resp, err := noRedirect.PostForm(srv.URL+"/login", url.Values{"token": {tok}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("nope", "/"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp := post(token, "//evil.example.org/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d to %q, cookies %v", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, token) {
		t.Errorf("session cookie %+v", c)
	}
	if code, _, _ := get(t, noRedirect, srv.URL+"/risks", "Cookie", c.Name+"="+c.Value); code != 200 {
		t.Errorf("page with the session: %d", code)
	}
	tampered := c.Value[:len(c.Value)-1] + "0"
	if tampered == c.Value {
		tampered = c.Value[:len(c.Value)-1] + "1"
	}
	if code, _, _ := get(t, noRedirect, srv.URL+"/risks", "Cookie", c.Name+"="+tampered); code != http.StatusSeeOther {
		t.Errorf("page with a tampered session: %d", code)
	}
	if code, _, _ := get(t, noRedirect, srv.URL+"/risks", "Cookie", c.Name+"=4102444800."+strings.Repeat("0", 64)); code != http.StatusSeeOther {
		t.Errorf("page with a forged session: %d", code)
	}

	// Beyond loopback without a read token, everything is closed and says why.
	closed := f.server(t, ":8765", "")
	code, _, body := get(t, noRedirect, closed.URL+"/")
	if code != http.StatusForbidden || !strings.Contains(body, "read_token") {
		t.Errorf("no read token: %d %s", code, body)
	}
	if code, _, _ := get(t, noRedirect, closed.URL+"/v1/risks", "Authorization", "Bearer "); code != http.StatusForbidden {
		t.Errorf("API without a read token: %d", code)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8765": true, "[::1]:1": true, "localhost:80": true, "127.8.0.1:1": true,
		"0.0.0.0:8765": false, ":8765": false, "192.168.1.2:80": false, "[::]:80": false, "example.org:80": false} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v", addr, got)
		}
	}
	for in, want := range map[string]string{"/risks?x=1": "/risks?x=1", "//evil": "/", "https://evil": "/", "/\\evil": "/", "": "/", "risks": "/"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConnectorHealthFromSyncs(t *testing.T) {
	now := time.Now()
	got := connectorHealth([]SyncHealth{
		{Sync: "risks", Connector: "redmine.main", Health: "ok", LastSuccess: &now},
		{Sync: "sprints", Connector: "redmine.main", Health: "failing", LastError: "401 from Redmine"},
		{Sync: "scans", Connector: "file.sheet", Health: "ok", LastSuccess: &now},
		{Sync: "votes", Connector: "file.votes", Health: "never synced"},
		{Sync: "more", Connector: "file.sheet", Health: "incomplete", LastSuccess: &now},
	})
	want := map[string]string{"redmine.main": "checked: 401 from Redmine", "file.sheet": "checked: <nil>", "file.votes": "unchecked: <nil>"}
	if len(got) != len(want) {
		t.Fatalf("got %d connectors: %+v", len(got), got)
	}
	for _, h := range got {
		s := "unchecked"
		if h.Checked {
			s = "checked"
		}
		if s += fmt.Sprintf(": %v", h.Err); s != want[h.ID] {
			t.Errorf("%s: %s, want %s", h.ID, s, want[h.ID])
		}
	}
}

// TestOpenAPICoversTheAPI: every /v1/ route the dashboard serves is a path
// of openapi.yaml, and every path there is served.
func TestOpenAPICoversTheAPI(t *testing.T) {
	spec, err := files.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("dashboard.go")
	if err != nil {
		t.Fatal(err)
	}
	served := regexp.MustCompile(`"GET (/v1/[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	documented := regexp.MustCompile(`(?m)^  (/v1/\S*):$`).FindAllStringSubmatch(string(spec), -1)
	if len(served) < 6 {
		t.Fatalf("found %d /v1/ routes in dashboard.go", len(served))
	}
	inSpec := map[string]bool{}
	for _, m := range documented {
		inSpec[m[1]] = true
	}
	for _, m := range served {
		if !inSpec[m[1]] {
			t.Errorf("GET %s is served but not in openapi.yaml", m[1])
		}
		delete(inSpec, m[1])
	}
	for p := range inSpec {
		t.Errorf("openapi.yaml documents %s, which is not served", p)
	}
}

// TestSignInIsLimited: ten wrong tokens at the login form (or as bearer
// tokens) from one address, and that address is answered 429 even with the
// right token until its minute has passed.
func TestSignInIsLimited(t *testing.T) {
	const token = "read-s3cret"
	f := newFixture(t, 4)
	d, err := New(Options{Config: f.cfg, Store: f.st, Listen: "0.0.0.0:8765", ReadToken: token,
		Limiter: authlimit.New(authlimit.DefaultMax, authlimit.DefaultWindow)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range 10 {
		resp, err := noRedirect.PostForm(srv.URL+"/login", url.Values{"token": {fmt.Sprint("guess-", i)}, "next": {"/"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, resp.StatusCode)
		}
	}
	code, hdr, _ := get(t, noRedirect, srv.URL+"/v1/risks", "Authorization", "Bearer "+token)
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("the right token after ten wrong ones: %d (Retry-After %q), want 429", code, hdr.Get("Retry-After"))
	}
}
