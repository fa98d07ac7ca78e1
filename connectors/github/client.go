package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// The layers under go-github, top down:
//
//  1. cachingTransport: paces writes (GitHub limits content creation to
//     about 80 requests a minute), sends GETs conditionally with the ETag
//     of the last answer (If-None-Match: a 304 costs no rate limit) and
//     gives go-github the stored answer for a 304.
//  2. sdk.HTTPClient: the SDK's rules — reads, PUTs and DELETEs retried on
//     429/5xx honouring Retry-After, a POST or PATCH sent exactly once, an
//     answer cut off a transient error, credentials never sent to another
//     host.
//  3. redirectGuard: GitHub answers 301 for a renamed or transferred
//     repository, and for an issue transferred to another repository; an
//     HTTP client following it turns a PATCH into a GET that loses its
//     body. No redirect is followed: the answer goes up as it came, its
//     Location moved aside, and classify makes it a movedError — the
//     repository's new name to configure, or, when the repository is
//     still where it was, an issue gone from the register.
//
// go-github itself keeps the primary rate limit per category and refuses
// to send while it is spent (*github.RateLimitError), as it does during a
// secondary limit's Retry-After (*github.AbuseRateLimitError); classify
// turns both into transient errors carrying the wait, which pause this
// connector's binding only.

// api is the connector's GitHub client for one repository.
type api struct {
	gh          *github.Client
	owner, repo string
	http        *sdk.HTTPClient
	cache       *etagCache
	pace        *pacer

	requests    atomic.Int64 // HTTP requests sent, retries included
	notModified atomic.Int64 // of them answered 304

	mu     sync.Mutex
	streak int // secondary limits in a row without Retry-After

	logMu   sync.Mutex
	logPath string
}

func newAPI(cfg *config) (*api, error) {
	a := &api{owner: cfg.Owner, repo: cfg.Repo, logPath: cfg.RequestLog,
		cache: newETagCache(cfg.cachePath), pace: &pacer{gap: time.Minute / time.Duration(cfg.writesPerMinute)}}
	a.http = sdk.NewHTTPClient(sdk.HTTPOptions{Service: "GitHub", Timeout: cfg.timeout, OnAttempt: a.attempted,
		Transport: redirectGuard{next: http.DefaultTransport.(*http.Transport).Clone()}})
	hc := &http.Client{Transport: &cachingTransport{api: a},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	gh := github.NewClient(hc).WithAuthToken(cfg.Token)
	if cfg.BaseURL != "" {
		var err error
		if gh, err = gh.WithEnterpriseURLs(cfg.BaseURL, cfg.BaseURL); err != nil {
			return nil, err
		}
	}
	gh.UserAgent = "usmhub-connector-github/" + version
	a.gh = gh
	return a, nil
}

// redirectGuard keeps redirects from being followed (see above): an HTTP
// client follows none without a Location, so it moves to movedToHeader.
type redirectGuard struct{ next http.RoundTripper }

// movedToHeader holds a redirect's Location, which redirectGuard takes away.
const movedToHeader = "X-Usmhub-Moved-To"

func (g redirectGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		resp.Header.Set(movedToHeader, resp.Header.Get("Location"))
		resp.Header.Del("Location")
	}
	return resp, nil
}

// movedError is a redirect GitHub answered: a repository renamed or
// transferred, or (for an issue's path) the issue transferred.
type movedError struct {
	err *sdk.Error
	to  string // where GitHub says it went
}

func (e movedError) Error() string { return e.err.Error() }
func (e movedError) Unwrap() error { return e.err }

// cachingTransport adapts sdk.HTTPClient to the http.RoundTripper go-github
// wants, adding ETags and pacing (see above).
type cachingTransport struct{ api *api }

func (t *cachingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a := t.api
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		if err := a.pace.wait(req.Context()); err != nil {
			return nil, sdk.Errorf(sdk.ClassTransient, "%s %s: %v", req.Method, req.URL.Path, err)
		}
	}
	key := req.URL.String()
	var cached *cacheEntry
	if req.Method == http.MethodGet {
		if cached = a.cache.get(key); cached != nil {
			req = req.Clone(req.Context())
			req.Header.Set("If-None-Match", cached.ETag)
		}
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, err
	}
	status, header, body := resp.StatusCode, resp.Header, resp.Body
	if (status == http.StatusForbidden || status == http.StatusTooManyRequests) && header.Get("Retry-After") == "" && header.Get("X-RateLimit-Remaining") != "0" {
		// A secondary limit without Retry-After: go-github v60 would take
		// the primary limit's x-ratelimit-reset (up to an hour away) as
		// its wait, and refuse to send anything until then. GitHub says
		// to wait at least a minute, backing off: classify does.
		header = header.Clone()
		header.Del("X-RateLimit-Reset")
	}
	switch {
	case status == http.StatusNotModified && cached != nil:
		// The stored answer, with this answer's fresh headers (rate).
		header = cached.Header.Clone()
		for k, v := range resp.Header {
			header[k] = v
		}
		status, body = http.StatusOK, cached.Body
	case status == http.StatusOK && req.Method == http.MethodGet && resp.Header.Get("ETag") != "":
		a.cache.put(key, resp.Header, body)
	}
	return &http.Response{Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: header, Request: req,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}, nil
}

// pacer spaces writes at least gap apart.
type pacer struct {
	mu   sync.Mutex
	gap  time.Duration
	next time.Time
}

func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.gap)
	p.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// attempted counts each request sent and, with request_log set, appends
// "METHOD PATH?QUERY STATUS MS" to that file (status 0: no answer).
func (a *api) attempted(at sdk.HTTPAttempt) {
	a.requests.Add(1)
	if at.Status == http.StatusNotModified {
		a.notModified.Add(1)
	}
	target := at.URL.Path
	if at.URL.RawQuery != "" {
		target += "?" + at.URL.RawQuery
	}
	sdk.Logger().Debug("github request", "method", at.Method, "target", target, "status", at.Status, "ms", at.Duration.Milliseconds())
	if a.logPath == "" {
		return
	}
	a.logMu.Lock()
	defer a.logMu.Unlock()
	f, err := os.OpenFile(a.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		sdk.Logger().Warn("cannot write request_log", "error", err)
		return
	}
	fmt.Fprintf(f, "%s %s %d %d\n", at.Method, target, at.Status, at.Duration.Milliseconds())
	f.Close()
}

// errNotFound marks a 404 or 410, so callers can tell "gone" from other
// failures; errDeleted marks a 410 (deleted where the token can read).
var (
	errNotFound = errors.New("not found")
	errDeleted  = errors.New("deleted")
)

// notFoundError is a classified 404 (or 410, deleted).
type notFoundError struct {
	err     *sdk.Error
	deleted bool
}

func (e notFoundError) Error() string { return e.err.Error() }
func (e notFoundError) Unwrap() []error {
	if e.deleted {
		return []error{e.err, errNotFound, errDeleted}
	}
	return []error{e.err, errNotFound}
}

// secondaryMinWait is the least wait after a secondary rate limit that
// names none: GitHub asks for at least a minute, growing while it repeats.
const secondaryMinWait = time.Minute

// classify turns a go-github error into a classified *sdk.Error with a
// message a person can act on (nil stays nil).
func (a *api) classify(what string, err error) error {
	if err == nil {
		return nil
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return se
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return sdk.Errorf(sdk.ClassTransient, "%s: %v", what, err)
	}
	var rle *github.RateLimitError
	if errors.As(err, &rle) {
		return a.primary(what, rle.Rate.Reset.Time, strconv.Itoa(rle.Rate.Limit))
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		return a.secondary(what, abuse.RetryAfter, 403)
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return a.statusError(what, er)
	}
	var acc *github.AcceptedError
	if errors.As(err, &acc) {
		return sdk.Errorf(sdk.ClassTransient, "%s: GitHub accepted the request but has not done it yet (HTTP 202); try again later", what)
	}
	return sdk.Errorf(sdk.ClassPermanent, "%s: %v", what, err)
}

// primary is the error of the primary rate limit spent until reset.
func (a *api) primary(what string, reset time.Time, limit string) *sdk.Error {
	wait := time.Until(reset) + time.Second
	if wait < time.Second {
		wait = time.Second
	}
	e := sdk.Errorf(sdk.ClassTransient, "%s: GitHub's primary rate limit (%s requests an hour) is spent until %s; the binding waits %s",
		what, limit, reset.UTC().Format(time.RFC3339), wait.Round(time.Second))
	e.RetryAfter = wait
	sdk.Logger().Warn("GitHub primary rate limit spent: waiting", "repo", a.owner+"/"+a.repo, "wait", wait.Round(time.Second).String(), "reset", reset.UTC())
	return e
}

// parseReset reads x-ratelimit-reset (seconds since the epoch); a minute
// from now when it is missing or unreadable.
func parseReset(h http.Header) time.Time {
	if n, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0)
	}
	return time.Now().Add(time.Minute)
}

// secondary is the error of a secondary rate limit (403 or 429): transient,
// waiting Retry-After when GitHub names it, else at least a minute,
// doubling while the limits come without one (at most 15 minutes).
func (a *api) secondary(what string, retryAfter *time.Duration, status int) *sdk.Error {
	a.mu.Lock()
	var wait time.Duration
	if retryAfter != nil && *retryAfter > 0 {
		wait, a.streak = *retryAfter, 0
	} else {
		wait = min(secondaryMinWait<<min(a.streak, 4), 15*time.Minute)
		a.streak++
	}
	a.mu.Unlock()
	e := sdk.Errorf(sdk.ClassTransient, "%s: GitHub's secondary rate limit (HTTP %d): the binding waits %s before it sends again", what, status, wait.Round(time.Second))
	e.RetryAfter = wait
	sdk.Logger().Warn("GitHub secondary rate limit: waiting", "repo", a.owner+"/"+a.repo, "status", status, "wait", wait.Round(time.Second).String())
	return e
}

// statusError classifies an error answer.
func (a *api) statusError(what string, er *github.ErrorResponse) error {
	status := er.Response.StatusCode
	msg := strings.TrimSpace(er.Message)
	switch {
	case status >= 300 && status < 400:
		to := er.Response.Header.Get(movedToHeader)
		return movedError{to: to, err: sdk.Errorf(sdk.ClassPermanent, "%s: GitHub answers HTTP %d, moved to %s: the repository was renamed or transferred; set owner and repo to its new name (the connector does not follow, since a redirected update loses its body)",
			what, status, to)}
	case status == http.StatusUnauthorized:
		return sdk.Errorf(sdk.ClassPermanent, "%s: GitHub refused the token (HTTP 401: %s): check token (a fine-grained token needs Issues read/write and Metadata read on %s/%s; is it expired or revoked?)", what, msg, a.owner, a.repo)
	case status == http.StatusForbidden && er.Response.Header.Get("X-RateLimit-Remaining") != "0" && strings.Contains(strings.ToLower(msg), "secondary rate limit"):
		// A secondary limit whose documentation_url go-github v60 does not
		// recognise (it matches that URL's ending only).
		var ra *time.Duration
		if d := retryAfterOf(er.Response.Header); d > 0 {
			ra = &d
		}
		return a.secondary(what, ra, status)
	case status == http.StatusForbidden:
		if p := er.Response.Header.Get("X-Accepted-GitHub-Permissions"); p != "" {
			return sdk.Errorf(sdk.ClassPermanent, "%s: the token lacks a permission (HTTP 403: %s): GitHub wants %s; give the fine-grained token Issues: Read and write and Metadata: Read on %s/%s (a classic token: scope repo, or public_repo for a public repository)", what, msg, p, a.owner, a.repo)
		}
		return sdk.Errorf(sdk.ClassPermanent, "%s: GitHub forbids this to the token's user (HTTP 403: %s): the user needs write (triage at least) access to %s/%s", what, msg, a.owner, a.repo)
	case status == http.StatusNotFound:
		return notFoundError{err: sdk.Errorf(sdk.ClassPermanent, "%s: not found (HTTP 404)", what)}
	case status == http.StatusGone:
		return notFoundError{err: sdk.Errorf(sdk.ClassPermanent, "%s: gone (HTTP 410: %s)", what, msg), deleted: true}
	case status == http.StatusConflict:
		return sdk.Errorf(sdk.ClassConflict, "%s: GitHub reports a conflict (HTTP 409: %s)", what, msg)
	case status == http.StatusUnprocessableEntity || status == http.StatusBadRequest:
		var parts []string
		for _, e := range er.Errors {
			if e.Message != "" { // GitHub's own sentence ("title is too long (maximum is 256 characters)")
				parts = append(parts, e.Message)
				continue
			}
			parts = append(parts, strings.TrimSpace(fmt.Sprintf("%s %s: %s", e.Resource, e.Field, strings.ReplaceAll(e.Code, "_", " "))))
		}
		if len(parts) > 0 {
			msg += ": " + strings.Join(parts, "; ")
		}
		return sdk.Errorf(sdk.ClassInvalid, "%s: GitHub refused the values (HTTP %d): %s", what, status, msg)
	case status == http.StatusTooManyRequests && er.Response.Header.Get("X-RateLimit-Remaining") == "0":
		// The primary limit spent, answered 429 rather than 403 (GitHub's
		// documentation allows both): wait for its reset.
		return a.primary(what, parseReset(er.Response.Header), er.Response.Header.Get("X-RateLimit-Limit"))
	case status == http.StatusTooManyRequests:
		// go-github v60 does not make a 429 a rate limit error.
		var ra *time.Duration
		if d := retryAfterOf(er.Response.Header); d > 0 {
			ra = &d
		}
		return a.secondary(what, ra, status)
	case status >= 500:
		return sdk.Errorf(sdk.ClassTransient, "%s: GitHub is failing (HTTP %d); try again later", what, status)
	}
	return sdk.Errorf(sdk.ClassPermanent, "%s: unexpected HTTP %d from GitHub: %.200s", what, status, msg)
}

func retryAfterOf(h http.Header) time.Duration {
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(h.Get("Retry-After")), "%d", &n); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// etagCache keeps the last answer with an ETag of each GET URL, on disk
// between launches (the hub launches the connector for every usmhub sync),
// so that a quiet sync costs conditional requests answered 304 only. The
// file (mode 0600) holds issue contents, never the token.
type etagCache struct {
	mu    sync.Mutex
	path  string
	m     map[string]*cacheEntry
	dirty bool
	tick  int64
	bytes int // the bodies' total size
}

// cacheEntry is one stored answer.
type cacheEntry struct {
	ETag   string      `json:"etag"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
	Used   int64       `json:"used"`
}

// The cache's bounds: when either is passed, the least recently used
// answers go until a quarter of the room is free. A listing from an old
// cursor is never asked again, so old entries are no loss.
const (
	maxCacheEntries = 4000
	maxCacheBytes   = 32 << 20
)

func newETagCache(path string) *etagCache {
	c := &etagCache{path: path, m: map[string]*cacheEntry{}}
	if path == "" {
		return c
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	var file struct {
		Entries map[string]*cacheEntry `json:"entries"`
	}
	if json.Unmarshal(b, &file) == nil && file.Entries != nil {
		c.m = file.Entries
		for _, e := range c.m {
			c.tick = max(c.tick, e.Used)
			c.bytes += len(e.Body)
		}
	}
	return c
}

func (c *etagCache) get(key string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	if e != nil {
		c.tick++
		e.Used = c.tick
		c.dirty = true
	}
	return e
}

func (c *etagCache) put(key string, h http.Header, body []byte) {
	keep := http.Header{}
	for _, k := range []string{"ETag", "Link", "Content-Type", "Last-Modified"} {
		if v := h.Values(k); len(v) > 0 {
			keep[k] = v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick++
	if old := c.m[key]; old != nil {
		c.bytes -= len(old.Body)
	}
	c.m[key] = &cacheEntry{ETag: h.Get("ETag"), Header: keep, Body: append([]byte(nil), body...), Used: c.tick}
	c.bytes += len(body)
	c.dirty = true
	if len(c.m) > maxCacheEntries || c.bytes > maxCacheBytes {
		keys := make([]string, 0, len(c.m))
		for k := range c.m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return c.m[keys[i]].Used > c.m[keys[j]].Used }) // newest first
		n, size := 0, 0
		for _, k := range keys {
			if n >= maxCacheEntries*3/4 || size+len(c.m[k].Body) > maxCacheBytes*3/4 {
				c.bytes -= len(c.m[k].Body)
				delete(c.m, k)
				continue
			}
			n++
			size += len(c.m[k].Body)
		}
	}
}

// save writes the cache to its file (atomically) when it changed.
func (c *etagCache) save() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == "" || !c.dirty {
		return
	}
	b, err := json.Marshal(struct {
		Entries map[string]*cacheEntry `json:"entries"`
	}{c.m})
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		sdk.Logger().Warn("cannot keep the ETag cache", "error", err)
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".etags-*")
	if err != nil {
		sdk.Logger().Warn("cannot keep the ETag cache", "error", err)
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), c.path) != nil {
		os.Remove(tmp.Name())
		sdk.Logger().Warn("cannot keep the ETag cache", "path", c.path)
		return
	}
	c.dirty = false
}

// defaultCachePath is where the ETag cache lives when cache_file is not
// set, one file per API, repository and token (GitHub's ETags are the
// token's): the folder the hub gives its connectors for state
// (sdk.EnvStateDir, <data_dir>/connectors), else the user's cache folder
// (a run outside the hub); "" (no cache kept) without either. The hub
// launches connectors without HOME, so the state folder is what a sync
// has.
func defaultCachePath(base, owner, repo, token string) string {
	tok := sha256.Sum256([]byte(token))
	id := sha256.Sum256([]byte(base + "\x00" + owner + "\x00" + repo + "\x00" + hex.EncodeToString(tok[:])))
	name := "github-" + hex.EncodeToString(id[:8]) + ".json"
	if dir := os.Getenv(sdk.EnvStateDir); dir != "" {
		return filepath.Join(dir, name)
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "usmhub", name)
}
