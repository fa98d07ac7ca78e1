// Package fakegithub is a GitHub REST API server for the GitHub connector's
// tests: github.com cannot be reached from the test machines, so the tests
// run against this fake, on loopback. It behaves as GitHub's API documents
// (and as clients meet it) in what the connector relies on:
//
//   - issues of one or more repositories, served under /api/v3 (GitHub
//     Enterprise Server's layout) or at the root; pull requests share the
//     issue numbers and appear in the issue list; labels are created when
//     an issue first carries them; assignees must be assignable (422);
//   - pagination by page and per_page (at most 100) with a Link header
//     (first, prev, next, last); since filters by updated_at (whole
//     seconds);
//   - ETags on GET answers and If-None-Match: a 304 costs no rate limit;
//     an ETag is the token's (GitHub's are: another token's ETag is
//     answered 200, in full);
//   - GitHub's limits on values: a title of at most 256 characters, a body
//     of at most 65536 (422, code custom, with GitHub's message); unique
//     milestone titles (422 already_exists);
//   - issues deleted (410 Gone) or transferred to another repository (301
//     to the issue's new place), labels deleted by a person (gone from
//     every issue, whose updated_at does not move);
//   - the primary rate limit (x-ratelimit-* headers; 403, or 429 with
//     RateLimitStatus, with remaining 0),
//     the secondary limit on content creation (writes per minute; 403 with a
//     secondary-rate-limits documentation_url) and injected secondary limits
//     (403 or 429, with or without retry-after);
//   - faults: a 502 answered after a write was committed;
//   - milestones addressed by number (their ids differ), with due_on rounded
//     to a day in Pacific time, as GitHub stores it;
//   - search that lags behind creates by SearchLag, rate-limited apart;
//   - reactions on issues (a removed reaction leaves no trace);
//   - tokens: classic (X-OAuth-Scopes) or fine-grained (403 with
//     X-Accepted-GitHub-Permissions when the Issues permission is missing),
//     401 for an unknown one; a renamed repository answers 301.
package fakegithub

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // due_on rounds through America/Los_Angeles
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
)

// Token is what the fake knows of a token.
type Token struct {
	Login string
	// Scopes, when not nil, makes it a classic token: X-OAuth-Scopes.
	Scopes []string
	// Issues is a fine-grained token's Issues permission: "write" (the
	// default), "read" or "none".
	Issues string
}

// Fault is a failure the server injects into matching requests.
type Fault struct {
	Method string // "" for any
	Path   string // a substring of the path; "" for any
	// Status to answer: 502 after the write was done (AfterCommit), or 403
	// / 429 secondary limits (RetryAfter seconds, 0 for none).
	Status      int
	AfterCommit bool
	RetryAfter  int
	Times       int // how many requests it hits (1 when 0)
}

// Server is the fake. Its fields may be set before the first request.
type Server struct {
	*httptest.Server

	// SearchLag is how long after a create (or an edit) search finds the
	// issue.
	SearchLag time.Duration
	// WritesPerMinute is the secondary limit on content creation (80 when
	// zero; negative: none), over a sliding minute.
	WritesPerMinute int
	// WriteWindow is the window of WritesPerMinute (a minute when zero;
	// tests shorten it to prove pacing in seconds).
	WriteWindow time.Duration
	// RateLimit is the primary limit per hour and token (5000 when zero).
	RateLimit int
	// RateLimitStatus is the status of a spent primary limit: 403 (when
	// zero) or 429, as GitHub's documentation allows both.
	RateLimitStatus int

	mu        sync.Mutex
	tokens    map[string]Token
	repos     map[string]*repo // "owner/name" (lower case)
	moved     map[string]string
	faults    []*Fault
	writes    []time.Time
	remaining map[string]int
	reset     time.Time
	// searchReset ends the search limit's window: GitHub's search limit
	// (30 requests) is per minute, the core limit per hour.
	searchReset time.Time
	searchN     map[string]int
	counts      Counts
	log         []string
}

// Counts are the requests the server answered.
type Counts struct {
	Total, NotModified, Writes, Searches, RateLimited int
}

type repo struct {
	id          int64
	owner, name string
	private     bool
	issues      []*issue // by number - 1
	labels      map[string]*github.Label
	milestones  []*milestone
	assignable  map[string]bool
	reactionSeq int64
}

type issue struct {
	github.Issue
	pr        bool
	indexedAt time.Time
	reactions []*github.Reaction
	deleted   bool   // 410 Gone
	movedTo   string // transferred: the API path of its new place (301)
}

type milestone struct {
	github.Milestone
}

var pacific, _ = time.LoadLocation("America/Los_Angeles")

// New starts a fake holding the repository owner/name, with token (a
// fine-grained token with Issues: write for login) and assignable users.
func New(owner, name, token, login string, assignable ...string) *Server {
	s := &Server{tokens: map[string]Token{}, repos: map[string]*repo{}, moved: map[string]string{},
		remaining: map[string]int{}, searchN: map[string]int{}}
	s.AddToken(token, Token{Login: login})
	s.AddRepo(owner, name, append(assignable, login)...)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// BaseURL is the API's URL as GitHub Enterprise Server spells it.
func (s *Server) BaseURL() string { return s.URL + "/api/v3/" }

// AddToken makes a token known.
func (s *Server) AddToken(token string, t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Issues == "" {
		t.Issues = "write"
	}
	s.tokens[token] = t
}

// AddRepo adds a repository.
func (s *Server) AddRepo(owner, name string, assignable ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &repo{id: int64(1000 + len(s.repos)), owner: owner, name: name, labels: map[string]*github.Label{}, assignable: map[string]bool{}}
	for _, a := range assignable {
		r.assignable[strings.ToLower(a)] = true
	}
	s.repos[strings.ToLower(owner+"/"+name)] = r
}

// Rename renames a repository: the old name answers 301.
func (s *Server) Rename(owner, from, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(owner+"/"+from)]
	delete(s.repos, strings.ToLower(owner+"/"+from))
	r.name = to
	s.repos[strings.ToLower(owner+"/"+to)] = r
	s.moved[strings.ToLower(owner+"/"+from)] = owner + "/" + to
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// Counts returns the requests answered so far.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// Log returns "METHOD PATH?QUERY STATUS" of every request so far.
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// SetRemaining sets the primary rate limit left for every token, and when
// it resets.
func (s *Server) SetRemaining(n int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		s.remaining[t] = n
	}
	s.reset = reset
}

func (s *Server) repo(owner, name string) *repo {
	return s.repos[strings.ToLower(owner+"/"+name)]
}

// Issue is an issue (or pull request) as the server holds it now.
func (s *Server) Issue(owner, name string, number int) *github.Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(owner, name)
	if number < 1 || number > len(r.issues) {
		return nil
	}
	is := r.issues[number-1].Issue
	return &is
}

// Issues returns every issue (not pull requests) of a repository.
func (s *Server) Issues(owner, name string) []github.Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []github.Issue
	for _, is := range s.repo(owner, name).issues {
		if !is.pr {
			out = append(out, is.Issue)
		}
	}
	return out
}

// Milestones returns the repository's milestones.
func (s *Server) Milestones(owner, name string) []github.Milestone {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []github.Milestone
	for _, m := range s.repo(owner, name).milestones {
		out = append(out, m.Milestone)
	}
	return out
}

// Edit changes an issue as a person in the web UI would (updated_at moves).
func (s *Server) Edit(owner, name string, number int, edit func(*github.Issue)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.repo(owner, name).issues[number-1]
	edit(&is.Issue)
	s.touch(is)
}

// Delete deletes an issue, as a repository admin can in the web UI: it
// leaves the listings and its number answers 410 Gone.
func (s *Server) Delete(owner, name string, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(owner, name).issues[number-1].deleted = true
}

// Transfer moves an issue to another repository of the server, where it
// gets the next number (returned) and keeps title and body; the old number
// answers 301 to the new place, as GitHub's API documents.
func (s *Server) Transfer(owner, name string, number int, toOwner, toName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.repo(owner, name).issues[number-1]
	to := s.repo(toOwner, toName)
	is := s.newIssue(to, old.GetTitle(), old.GetBody(), old.GetUser().GetLogin())
	old.movedTo = fmt.Sprintf("/repositories/%d/issues/%d", to.id, is.GetNumber())
	return is.GetNumber()
}

// DeleteLabel deletes a label, as a person can in the web UI: every issue
// loses it, and no issue's updated_at moves.
func (s *Server) DeleteLabel(owner, name, label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(owner, name)
	delete(r.labels, strings.ToLower(label))
	for _, is := range r.issues {
		var keep []*github.Label
		for _, l := range is.Labels {
			if !strings.EqualFold(l.GetName(), label) {
				keep = append(keep, l)
			}
		}
		if keep == nil {
			keep = []*github.Label{}
		}
		is.Labels = keep
	}
}

// AddPullRequest opens a pull request carrying labels.
func (s *Server) AddPullRequest(owner, name, title string, labels ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(owner, name)
	is := s.newIssue(r, title, "", "octocat")
	is.pr = true
	is.PullRequestLinks = &github.PullRequestLinks{URL: github.String(fmt.Sprintf("%s/api/v3/repos/%s/%s/pulls/%d", s.URL, r.owner, r.name, is.GetNumber()))}
	s.setLabels(r, is, labels)
	return is.GetNumber()
}

// React adds a reaction by login to an issue, or removes it (GitHub keeps
// no trace of a removed reaction; the issue's updated_at does not move).
func (s *Server) React(owner, name string, number int, login, content string, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(owner, name)
	is := r.issues[number-1]
	var keep []*github.Reaction
	for _, x := range is.reactions {
		if !(x.GetUser().GetLogin() == login && x.GetContent() == content) {
			keep = append(keep, x)
		}
	}
	if add {
		r.reactionSeq++
		keep = append(keep, &github.Reaction{ID: github.Int64(r.reactionSeq), User: &github.User{Login: github.String(login)}, Content: github.String(content)})
	}
	is.reactions = keep
	plus := 0
	for _, x := range keep {
		if x.GetContent() == "+1" {
			plus++
		}
	}
	is.Reactions = &github.Reactions{TotalCount: github.Int(len(keep)), PlusOne: github.Int(plus)}
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

func (s *Server) touch(is *issue) {
	is.UpdatedAt = &github.Timestamp{Time: now()}
}

func (s *Server) newIssue(r *repo, title, body, login string) *issue {
	n := len(r.issues) + 1
	t := now()
	is := &issue{}
	is.ID = github.Int64(int64(n) + 7000000)
	is.Number = github.Int(n)
	is.Title = github.String(title)
	is.Body = github.String(body)
	is.State = github.String("open")
	is.User = &github.User{Login: github.String(login)}
	is.CreatedAt = &github.Timestamp{Time: t}
	is.HTMLURL = github.String(fmt.Sprintf("%s/%s/%s/issues/%d", s.URL, r.owner, r.name, n))
	is.Labels = []*github.Label{}
	is.Assignees = []*github.User{}
	is.Reactions = &github.Reactions{TotalCount: github.Int(0), PlusOne: github.Int(0)}
	s.touch(is)
	is.indexedAt = time.Now().Add(s.SearchLag)
	r.issues = append(r.issues, is)
	return is
}

func (s *Server) setLabels(r *repo, is *issue, names []string) {
	is.Labels = []*github.Label{}
	seen := map[string]bool{}
	for _, n := range names {
		k := strings.ToLower(n)
		if seen[k] || n == "" {
			continue
		}
		seen[k] = true
		l := r.labels[k]
		if l == nil {
			l = &github.Label{ID: github.Int64(int64(len(r.labels) + 1)), Name: github.String(n), Color: github.String("ededed")}
			r.labels[k] = l
		}
		is.Labels = append(is.Labels, l)
	}
}

// apiError writes GitHub's error body.
func apiError(w http.ResponseWriter, status int, msg, doc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"message": msg, "documentation_url": doc})
}

const secondaryDoc = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"

var repoPath = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)(/.*)?$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: 200}
	s.mu.Lock()
	defer func() {
		s.counts.Total++
		if rec.status == http.StatusNotModified {
			s.counts.NotModified++
		}
		target := r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		s.log = append(s.log, fmt.Sprintf("%s %s %d", r.Method, target, rec.status))
		s.mu.Unlock()
	}()
	s.handle(rec, r)
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

// handle answers one request (s.mu held).
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v3") // as GitHub routes: an escaped / stays in its segment
	tokenName := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok, ok := s.tokens[tokenName]
	if !ok {
		apiError(w, 401, "Bad credentials", "https://docs.github.com/rest")
		return
	}
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	search := strings.HasPrefix(path, "/search/")

	// The primary rate limit: answered before anything, counted below
	// unless the answer is a 304.
	limit := s.RateLimit
	if limit == 0 {
		limit = 5000
	}
	bucket := tokenName
	if search {
		bucket, limit = "search:"+tokenName, 30
	}
	if s.reset.Before(time.Now()) {
		s.reset = time.Now().Add(time.Hour)
		for b := range s.remaining {
			if !strings.HasPrefix(b, "search:") {
				delete(s.remaining, b)
			}
		}
	}
	if s.searchReset.Before(time.Now()) {
		s.searchReset = time.Now().Add(time.Minute)
		for b := range s.remaining {
			if strings.HasPrefix(b, "search:") {
				delete(s.remaining, b)
			}
		}
		s.searchN = map[string]int{}
	}
	reset := s.reset
	if search {
		reset = s.searchReset
	}
	rem, seen := s.remaining[bucket]
	if !seen {
		rem = limit
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", map[bool]string{true: "search", false: "core"}[search])
	if rem <= 0 {
		h.Set("X-RateLimit-Remaining", "0")
		s.counts.RateLimited++
		status := s.RateLimitStatus
		if status == 0 {
			status = 403
		}
		apiError(w, status, "API rate limit exceeded for user ID 1.", "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting")
		return
	}
	spend := func() { s.remaining[bucket] = rem - 1; h.Set("X-RateLimit-Remaining", strconv.Itoa(rem-1)) }
	h.Set("X-RateLimit-Remaining", strconv.Itoa(rem))

	var fault *Fault
	for _, f := range s.faults {
		if f.Times > 0 && (f.Method == "" || f.Method == r.Method) && strings.Contains(path, f.Path) {
			fault = f
			f.Times--
			break
		}
	}
	if fault != nil && !fault.AfterCommit {
		spend()
		s.counts.RateLimited++
		if fault.RetryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(fault.RetryAfter))
		}
		apiError(w, fault.Status, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", secondaryDoc)
		return
	}
	if write {
		// Content creation: at most WritesPerMinute over a sliding minute.
		wpm := s.WritesPerMinute
		if wpm == 0 {
			wpm = 80
		}
		window := s.WriteWindow
		if window == 0 {
			window = time.Minute
		}
		cut := time.Now().Add(-window)
		for len(s.writes) > 0 && s.writes[0].Before(cut) {
			s.writes = s.writes[1:]
		}
		if wpm > 0 && len(s.writes) >= wpm {
			spend()
			s.counts.RateLimited++
			apiError(w, 403, "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.", secondaryDoc)
			return
		}
		s.writes = append(s.writes, time.Now())
		s.counts.Writes++
	}
	if search {
		s.counts.Searches++
	}
	if tok.Scopes != nil {
		h.Set("X-OAuth-Scopes", strings.Join(tok.Scopes, ", "))
	}

	// Route, into a buffer: ETags are computed over the answer.
	bw := &buffered{header: http.Header{}, status: 200}
	s.route(bw, r, path, tok)
	for k, v := range bw.header {
		h[k] = v
	}
	if fault != nil && fault.AfterCommit {
		spend()
		apiError(w, fault.Status, "Server Error", "")
		return
	}
	if r.Method == http.MethodGet && bw.status == 200 {
		// GitHub's ETags are the token's: another token's is no match.
		sum := sha256.Sum256(append([]byte(tokenName+"\x00"), bw.body...))
		etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
		h.Set("ETag", etag)
		if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag {
			w.WriteHeader(http.StatusNotModified) // free of rate limit
			return
		}
	}
	spend()
	w.WriteHeader(bw.status)
	w.Write(bw.body)
}

type buffered struct {
	header http.Header
	status int
	body   []byte
}

func (b *buffered) json(status int, v any) {
	b.header.Set("Content-Type", "application/json; charset=utf-8")
	b.status = status
	b.body, _ = json.Marshal(v)
}

func (b *buffered) err(status int, msg string) {
	b.json(status, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

func (s *Server) route(b *buffered, r *http.Request, path string, tok Token) {
	if path == "/search/issues" && r.Method == http.MethodGet {
		s.search(b, r)
		return
	}
	m := repoPath.FindStringSubmatch(path)
	if m == nil {
		b.err(404, "Not Found")
		return
	}
	if to, ok := s.moved[strings.ToLower(m[1]+"/"+m[2])]; ok {
		b.header.Set("Location", s.URL+"/api/v3/repos/"+to+m[3])
		b.json(301, map[string]any{"message": "Moved Permanently", "url": s.URL + "/api/v3/repos/" + to + m[3]})
		return
	}
	rp := s.repo(m[1], m[2])
	if rp == nil {
		b.err(404, "Not Found")
		return
	}
	sub := m[3]
	if sub != "" && tok.Scopes == nil { // milestones too: they take the Issues permission
		need := "read"
		if r.Method != http.MethodGet {
			need = "write"
		}
		if tok.Issues == "none" || (need == "write" && tok.Issues == "read") {
			b.header.Set("X-Accepted-GitHub-Permissions", "issues="+need)
			b.err(403, "Resource not accessible by personal access token")
			return
		}
	}
	var body map[string]json.RawMessage
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPatch) {
		data, _ := io.ReadAll(r.Body)
		if len(data) > 0 && json.Unmarshal(data, &body) != nil {
			b.err(400, "Problems parsing JSON")
			return
		}
	}
	switch {
	case sub == "" && r.Method == http.MethodGet:
		perms := map[string]bool{"admin": false, "maintain": false, "push": true, "triage": true, "pull": true}
		b.json(200, map[string]any{"id": rp.id, "name": rp.name, "full_name": rp.owner + "/" + rp.name, "private": rp.private,
			"has_issues": true, "permissions": perms, "owner": map[string]any{"login": rp.owner}})
	case sub == "/issues" && r.Method == http.MethodGet:
		s.listIssues(b, r, rp)
	case sub == "/issues" && r.Method == http.MethodPost:
		s.createIssue(b, rp, body, tok)
	case strings.HasPrefix(sub, "/issues/"):
		s.issueRoutes(b, r, rp, strings.TrimPrefix(sub, "/issues/"), body)
	case strings.HasPrefix(sub, "/labels/") && r.Method == http.MethodGet:
		name, err := url.PathUnescape(strings.TrimPrefix(sub, "/labels/"))
		if l := rp.labels[strings.ToLower(name)]; l != nil && err == nil && !strings.Contains(strings.TrimPrefix(sub, "/labels/"), "/") {
			b.json(200, l)
		} else {
			b.err(404, "Not Found")
		}
	case sub == "/labels" && r.Method == http.MethodPost:
		// Permission first (above), then the values, as GitHub checks.
		name, _ := decodeString(body["name"])
		switch {
		case strings.TrimSpace(name) == "":
			b.json(422, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Label", "code": "missing_field", "field": "name"}},
				"documentation_url": "https://docs.github.com/rest/issues/labels#create-a-label", "status": "422"})
		case rp.labels[strings.ToLower(name)] != nil:
			b.json(422, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Label", "code": "already_exists", "field": "name"}},
				"documentation_url": "https://docs.github.com/rest/issues/labels#create-a-label", "status": "422"})
		default:
			l := &github.Label{ID: github.Int64(int64(len(rp.labels) + 1)), Name: github.String(name), Color: github.String("ededed")}
			rp.labels[strings.ToLower(name)] = l
			b.json(201, l)
		}
	case strings.HasPrefix(sub, "/assignees/") && r.Method == http.MethodGet:
		if rp.assignable[strings.ToLower(strings.TrimPrefix(sub, "/assignees/"))] {
			b.status = 204
		} else {
			b.err(404, "Not Found")
		}
	case strings.HasPrefix(sub, "/milestones"):
		s.milestoneRoutes(b, r, rp, strings.TrimPrefix(strings.TrimPrefix(sub, "/milestones"), "/"), body)
	default:
		b.err(404, "Not Found")
	}
}

// page cuts list to the request's page and sets the Link header.
func page[T any](b *buffered, r *http.Request, list []T) []T {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	p, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if p <= 0 {
		p = 1
	}
	last := max((len(list)+per-1)/per, 1)
	link := func(n int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		u := *r.URL
		u.Scheme, u.Host, u.RawQuery = "http", r.Host, q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if p < last {
		links = append(links, link(p+1, "next"), link(last, "last"))
	}
	if p > 1 {
		links = append(links, link(1, "first"), link(p-1, "prev"))
	}
	if len(links) > 0 {
		b.header.Set("Link", strings.Join(links, ", "))
	}
	from := min((p-1)*per, len(list))
	return list[from:min(from+per, len(list))]
}

func (s *Server) listIssues(b *buffered, r *http.Request, rp *repo) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var labels []string
	if l := q.Get("labels"); l != "" {
		labels = strings.Split(l, ",")
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			b.json(422, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Issue", "field": "since", "code": "invalid"}}})
			return
		}
		since = t
	}
	var out []*issue
	for _, is := range rp.issues {
		if is.deleted || is.movedTo != "" {
			continue
		}
		if state != "all" && is.GetState() != state {
			continue
		}
		if !since.IsZero() && is.GetUpdatedAt().Time.Before(since) {
			continue
		}
		if ms := q.Get("milestone"); ms != "" {
			has := is.Milestone != nil
			switch {
			case ms == "none" && has, ms == "*" && !has:
				continue
			case ms != "none" && ms != "*" && (!has || strconv.Itoa(is.Milestone.GetNumber()) != ms):
				continue
			}
		}
		all := true
		for _, want := range labels {
			found := false
			for _, l := range is.Labels {
				found = found || strings.EqualFold(l.GetName(), strings.TrimSpace(want))
			}
			all = all && found
		}
		if all {
			out = append(out, is)
		}
	}
	key := func(is *issue) time.Time { return is.GetCreatedAt().Time }
	if q.Get("sort") == "updated" {
		key = func(is *issue) time.Time { return is.GetUpdatedAt().Time }
	}
	asc := q.Get("direction") == "asc"
	sort.SliceStable(out, func(i, j int) bool {
		a, c := key(out[i]), key(out[j])
		if !a.Equal(c) {
			return a.Before(c) == asc
		}
		return (out[i].GetNumber() < out[j].GetNumber()) == asc
	})
	list := page(b, r, out)
	res := make([]github.Issue, len(list))
	for i, is := range list {
		res[i] = is.Issue
	}
	b.json(200, res)
}

type createBody struct {
	Title       *string   `json:"title"`
	Body        *string   `json:"body"`
	Labels      *[]string `json:"labels"`
	Assignees   *[]string `json:"assignees"`
	State       *string   `json:"state"`
	StateReason *string   `json:"state_reason"`
}

func decodeString(raw json.RawMessage) (string, bool) {
	var v string
	return v, json.Unmarshal(raw, &v) == nil
}

func decode(raw map[string]json.RawMessage) createBody {
	data, _ := json.Marshal(raw)
	var c createBody
	json.Unmarshal(data, &c)
	return c
}

// validAssignees answers GitHub's 422 for logins that cannot be assigned
// (not collaborators, or no such user), naming them.
func (s *Server) validAssignees(b *buffered, rp *repo, as *[]string) bool {
	if as == nil {
		return true
	}
	var bad []string
	for _, a := range *as {
		if !rp.assignable[strings.ToLower(a)] {
			bad = append(bad, a)
		}
	}
	if len(bad) == 0 {
		return true
	}
	b.json(422, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Issue", "field": "assignees", "code": "invalid",
		"value": bad, "message": "assignees " + strings.Join(bad, ", ") + " cannot be assigned to this issue"}},
		"documentation_url": "https://docs.github.com/rest/issues/issues", "status": "422"})
	return false
}

func invalid(b *buffered, field string) {
	b.json(422, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Issue", "field": field, "code": "invalid"}},
		"documentation_url": "https://docs.github.com/rest/issues/issues", "status": "422"})
}

// GitHub's limits on an issue's title and body, in characters.
const (
	maxTitle = 256
	maxBody  = 65536
)

// tooLong answers GitHub's 422 for a title or body over its limit.
func tooLong(b *buffered, title, body *string) bool {
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"title", title, maxTitle}, {"body", body, maxBody}} {
		if f.v != nil && utf8.RuneCountInString(*f.v) > f.max {
			b.json(422, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Issue", "field": f.name, "code": "custom",
				"message": fmt.Sprintf("%s is too long (maximum is %d characters)", f.name, f.max)}},
				"documentation_url": "https://docs.github.com/rest/issues/issues", "status": "422"})
			return true
		}
	}
	return false
}

func (s *Server) createIssue(b *buffered, rp *repo, raw map[string]json.RawMessage, tok Token) {
	c := decode(raw)
	if c.Title == nil || strings.TrimSpace(*c.Title) == "" {
		invalid(b, "title")
		return
	}
	if tooLong(b, c.Title, c.Body) || !s.validAssignees(b, rp, c.Assignees) {
		return
	}
	is := s.newIssue(rp, *c.Title, "", tok.Login)
	if c.Body != nil {
		is.Body = c.Body
	}
	if c.Labels != nil {
		s.setLabels(rp, is, *c.Labels)
	}
	s.setAssignees(is, c.Assignees)
	b.json(201, is.Issue)
}

func (s *Server) setAssignees(is *issue, as *[]string) {
	if as == nil {
		return
	}
	is.Assignees = []*github.User{}
	is.Assignee = nil
	for _, a := range *as {
		is.Assignees = append(is.Assignees, &github.User{Login: github.String(a)})
	}
	if len(is.Assignees) > 0 {
		is.Assignee = is.Assignees[0]
	}
}

func (s *Server) issueRoutes(b *buffered, r *http.Request, rp *repo, rest string, raw map[string]json.RawMessage) {
	num, tail, _ := strings.Cut(rest, "/")
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > len(rp.issues) {
		b.err(404, "Not Found")
		return
	}
	is := rp.issues[n-1]
	switch {
	case is.movedTo != "":
		loc := s.URL + "/api/v3" + is.movedTo
		if tail != "" {
			loc += "/" + tail
		}
		b.header.Set("Location", loc)
		b.json(301, map[string]any{"message": "Moved Permanently", "url": loc, "documentation_url": "https://docs.github.com/v3/#http-redirects"})
		return
	case is.deleted:
		b.err(410, "This issue was deleted")
		return
	}
	switch {
	case tail == "" && r.Method == http.MethodGet:
		b.json(200, is.Issue)
	case tail == "" && r.Method == http.MethodPatch:
		c := decode(raw)
		if c.Title != nil && strings.TrimSpace(*c.Title) == "" {
			invalid(b, "title")
			return
		}
		if tooLong(b, c.Title, c.Body) || !s.validAssignees(b, rp, c.Assignees) {
			return
		}
		if c.Title != nil {
			is.Title = c.Title
		}
		if c.Body != nil {
			is.Body = c.Body
		}
		if c.Labels != nil {
			s.setLabels(rp, is, *c.Labels)
		}
		s.setAssignees(is, c.Assignees)
		if c.State != nil {
			switch *c.State {
			case "closed":
				// state_reason is "ignored unless state is changed"
				// (GitHub's documentation): closing a closed issue keeps
				// its reason.
				if is.GetState() != "closed" {
					reason := "completed"
					if c.StateReason != nil && *c.StateReason != "" {
						reason = *c.StateReason
					}
					is.ClosedAt = &github.Timestamp{Time: now()}
					is.State, is.StateReason = github.String("closed"), github.String(reason)
				}
			case "open":
				if is.GetState() == "closed" {
					is.StateReason = github.String("reopened")
				}
				is.State, is.ClosedAt = github.String("open"), nil
			default:
				invalid(b, "state")
				return
			}
		}
		if ms, ok := raw["milestone"]; ok {
			if string(ms) == "null" {
				is.Milestone = nil
			} else {
				var num int
				json.Unmarshal(ms, &num)
				if num < 1 || num > len(rp.milestones) {
					invalid(b, "milestone")
					return
				}
				m := rp.milestones[num-1].Milestone
				is.Milestone = &m
			}
		}
		s.touch(is)
		b.json(200, is.Issue)
	case tail == "reactions" && r.Method == http.MethodGet:
		list := page(b, r, is.reactions)
		if list == nil {
			list = []*github.Reaction{}
		}
		b.json(200, list)
	default:
		b.err(404, "Not Found")
	}
}

type milestoneBody struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	State       *string `json:"state"`
	DueOn       *string `json:"due_on"`
}

// roundDue is what GitHub makes of a due_on: the day it falls on in
// Pacific time, at midnight there, in UTC.
func roundDue(v string) (*github.Timestamp, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, err
	}
	p := t.In(pacific)
	day := time.Date(p.Year(), p.Month(), p.Day(), 0, 0, 0, 0, pacific)
	return &github.Timestamp{Time: day.UTC()}, nil
}

func (s *Server) milestoneRoutes(b *buffered, r *http.Request, rp *repo, rest string, raw map[string]json.RawMessage) {
	apply := func(m *milestone) bool {
		data, _ := json.Marshal(raw)
		var c milestoneBody
		json.Unmarshal(data, &c)
		if c.Title != nil {
			for _, o := range rp.milestones {
				if o != m && strings.EqualFold(o.GetTitle(), *c.Title) {
					b.json(422, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Milestone", "code": "already_exists", "field": "title"}},
						"documentation_url": "https://docs.github.com/rest/issues/milestones", "status": "422"})
					return false
				}
			}
			m.Title = c.Title
		}
		if c.Description != nil {
			m.Description = c.Description
		}
		if c.State != nil {
			m.State = c.State
		}
		if c.DueOn != nil {
			due, err := roundDue(*c.DueOn)
			if err != nil {
				b.json(422, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "Milestone", "field": "due_on", "code": "invalid"}}})
				return false
			}
			m.DueOn = due
		}
		m.UpdatedAt = &github.Timestamp{Time: now()}
		return true
	}
	if rest == "" {
		switch r.Method {
		case http.MethodGet:
			state := r.URL.Query().Get("state")
			if state == "" {
				state = "open"
			}
			var out []github.Milestone
			for _, m := range rp.milestones {
				if state == "all" || m.GetState() == state {
					out = append(out, m.Milestone)
				}
			}
			list := page(b, r, out)
			if list == nil {
				list = []github.Milestone{}
			}
			b.json(200, list)
		case http.MethodPost:
			n := len(rp.milestones) + 1
			m := &milestone{}
			m.ID = github.Int64(int64(n) + 990000) // ids differ from numbers
			m.Number = github.Int(n)
			m.State = github.String("open")
			m.CreatedAt = &github.Timestamp{Time: now()}
			if !apply(m) {
				return
			}
			rp.milestones = append(rp.milestones, m)
			b.json(201, m.Milestone)
		default:
			b.err(404, "Not Found")
		}
		return
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > len(rp.milestones) {
		b.err(404, "Not Found")
		return
	}
	m := rp.milestones[n-1]
	switch r.Method {
	case http.MethodGet:
		b.json(200, m.Milestone)
	case http.MethodPatch:
		if apply(m) {
			b.json(200, m.Milestone)
		}
	default:
		b.err(404, "Not Found")
	}
}

var (
	phraseRE = regexp.MustCompile(`"([^"]*)"`)
	qualRE   = regexp.MustCompile(`(repo|label):("[^"]*"|\S+)`)
)

// search answers /search/issues: a quoted phrase in the body, repo: and
// label: qualifiers; only issues indexed (SearchLag after their last
// write) are found.
func (s *Server) search(b *buffered, r *http.Request) {
	q := r.URL.Query().Get("q")
	var repoName, label string
	for _, m := range qualRE.FindAllStringSubmatch(q, -1) {
		v := strings.Trim(m[2], `"`)
		if m[1] == "repo" {
			repoName = v
		} else {
			label = v
		}
	}
	stripped := qualRE.ReplaceAllString(q, "")
	var phrase string
	if m := phraseRE.FindStringSubmatch(stripped); m != nil {
		phrase = m[1]
	}
	rp := s.repos[strings.ToLower(repoName)]
	items := []github.Issue{}
	if rp != nil {
		t := time.Now()
		for _, is := range rp.issues {
			if is.deleted || is.movedTo != "" || t.Before(is.indexedAt) || (phrase != "" && !strings.Contains(is.GetBody(), phrase)) {
				continue
			}
			if label != "" {
				found := false
				for _, l := range is.Labels {
					found = found || strings.EqualFold(l.GetName(), label)
				}
				if !found {
					continue
				}
			}
			items = append(items, is.Issue)
		}
	}
	b.json(200, map[string]any{"total_count": len(items), "incomplete_results": false, "items": page(b, r, items)})
}
