package redmine_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultProxy is an HTTP proxy on 127.0.0.1 between usmhub's Redmine
// connector and Redmine (point the connector block's url at proxy.URL) that
// injects the failures of real networks and servers, chosen per request by
// rules. It only ever talks to a loopback upstream, bounds every stall and
// body, and stops by itself at the end of the test (or after maxLife).
type faultProxy struct {
	URL      string
	upstream *url.URL
	srv      *http.Server
	ln       net.Listener
	client   *http.Client
	done     chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex
	rules    []*faultRule
	rnd      *rand.Rand
	events   []faultEvent
	requests int
	// limited holds the end of each 429's Retry-After window by
	// "METHOD path": a request arriving inside it is early.
	limited map[string]time.Time
	early   []faultEvent
}

// fault is what the proxy does to a request.
type fault string

const (
	// fault5xxBefore answers 503 (or Status) without forwarding.
	fault5xxBefore fault = "5xx-before"
	// fault5xxAfter forwards the request — Redmine does it — and answers
	// 503 (or Status) instead of Redmine's answer.
	fault5xxAfter fault = "5xx-after"
	// fault429 answers 429 with Retry-After: RetryAfter seconds without
	// forwarding; the same method and path are refused (and counted as
	// early) until the window has passed.
	fault429 fault = "429"
	// faultTruncate forwards and answers 200 with a Content-Length larger
	// than the body it sends (half of Redmine's), then closes.
	faultTruncate fault = "truncate"
	// faultStall holds the request for Stall (forwarding it first when
	// Forward), then closes the connection without an answer.
	faultStall fault = "stall"
	// faultReset resets the connection (RST) without an answer,
	// forwarding the request first when Forward.
	faultReset fault = "reset"
	// faultPass forwards as if no rule fired (and records nothing): a
	// marker for OnlyAfter ("after the first PUT").
	faultPass fault = "pass"
)

const (
	maxStall     = 5 * time.Second
	maxProxyLife = 15 * time.Minute
	maxBody      = 64 << 20
)

// faultRule picks requests and the fault they get. A rule matches a request
// by Method ("" any) and Path (a regexp on the path, nil any) and Query (a
// regexp on the raw query, nil any); among matching requests it lets Skip
// pass, then faults the next Count (Count > 0) or each with probability
// Prob (Count 0). The first rule that fires wins; a rule that matches but
// does not fire passes the request on to the next.
type faultRule struct {
	Method     string
	Path       *regexp.Regexp
	Query      *regexp.Regexp
	Fault      fault
	Count      int
	Prob       float64
	Skip       int
	Status     int           // 5xx faults: the status (503)
	RetryAfter int           // 429: seconds (1)
	Stall      time.Duration // stall: how long (2s, at most maxStall)
	Forward    bool          // stall, reset: forward to Redmine first
	// OnlyAfter makes the rule match only once that rule has fired.
	OnlyAfter *faultRule
	Name      string // for the event log (default: the fault)

	seen, fired int
}

// faultEvent is one fault the proxy injected.
type faultEvent struct {
	At       time.Time
	Method   string
	Target   string // path?query
	Fault    fault
	Rule     string
	Upstream int // Redmine's status when the request was forwarded, else 0
}

func (e faultEvent) String() string {
	s := fmt.Sprintf("%s %s %s", e.Fault, e.Method, e.Target)
	if e.Upstream != 0 {
		s += fmt.Sprintf(" (Redmine answered %d)", e.Upstream)
	}
	return s
}

// newFaultProxy starts a proxy to upstream (which must be on loopback),
// closed when the test ends; seed makes its random choices repeatable.
func newFaultProxy(t *testing.T, upstream string, seed uint64) *faultProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Fatalf("the fault proxy only forwards to loopback, not %s", u.Host)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{
		URL: "http://" + ln.Addr().String(), upstream: u, ln: ln, done: make(chan struct{}),
		rnd: rand.New(rand.NewPCG(seed, 0x9e3779b9)), limited: map[string]time.Time{},
		client: &http.Client{
			Timeout: 2 * time.Minute,
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4,
				DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	life := time.AfterFunc(maxProxyLife, p.stop) // stops by itself, whatever happens
	t.Cleanup(func() { life.Stop(); p.stop() })
	return p
}

func (p *faultProxy) stop() {
	p.stopOnce.Do(func() {
		close(p.done)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.srv.Shutdown(ctx)
		_ = p.srv.Close()
		p.client.CloseIdleConnections()
	})
}

// set replaces the rules (none: pass everything through).
func (p *faultProxy) set(rules ...*faultRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = rules
	p.limited = map[string]time.Time{}
}

// passThrough removes every rule.
func (p *faultProxy) passThrough() { p.set() }

// injected returns the faults injected so far.
func (p *faultProxy) injected() []faultEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]faultEvent(nil), p.events...)
}

// earlyRequests returns the requests that came back inside a 429's
// Retry-After window.
func (p *faultProxy) earlyRequests() []faultEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]faultEvent(nil), p.early...)
}

// firedOf says how many times a rule fired.
func (p *faultProxy) firedOf(r *faultRule) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return r.fired
}

// eventsSince returns the faults injected from index i on.
func (p *faultProxy) eventsSince(i int) []faultEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i > len(p.events) {
		return nil
	}
	return append([]faultEvent(nil), p.events[i:]...)
}

// choose picks the rule that fires for a request (nil: pass through), and
// for a request inside a 429 window returns a 429 rule.
func (p *faultProxy) choose(r *http.Request) (*faultRule, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	now := time.Now()
	win := r.Method + " " + r.URL.Path
	if until, ok := p.limited[win]; ok {
		if now.Before(until) {
			ev := faultEvent{At: now, Method: r.Method, Target: target(r), Fault: fault429, Rule: "early"}
			p.early = append(p.early, ev)
			p.events = append(p.events, ev)
			secs := int((until.Sub(now) + time.Second - 1) / time.Second)
			return &faultRule{Fault: fault429, RetryAfter: secs}, true
		}
		delete(p.limited, win)
	}
	for _, rule := range p.rules {
		if rule.Method != "" && rule.Method != r.Method ||
			rule.Path != nil && !rule.Path.MatchString(r.URL.Path) ||
			rule.Query != nil && !rule.Query.MatchString(r.URL.RawQuery) ||
			rule.OnlyAfter != nil && rule.OnlyAfter.fired == 0 {
			continue
		}
		rule.seen++
		if rule.seen <= rule.Skip {
			continue
		}
		fire := false
		if rule.Count > 0 {
			fire = rule.fired < rule.Count
		} else {
			fire = p.rnd.Float64() < rule.Prob
		}
		if !fire {
			continue
		}
		rule.fired++
		if rule.Fault == fault429 {
			p.limited[win] = now.Add(time.Duration(max(rule.RetryAfter, 1)) * time.Second)
		}
		return rule, false
	}
	return nil, false
}

func (p *faultProxy) record(r *http.Request, rule *faultRule, upstream int) {
	name := rule.Name
	if name == "" {
		name = string(rule.Fault)
	}
	p.mu.Lock()
	p.events = append(p.events, faultEvent{At: time.Now(), Method: r.Method, Target: target(r), Fault: rule.Fault, Rule: name, Upstream: upstream})
	p.mu.Unlock()
}

func target(r *http.Request) string {
	if r.URL.RawQuery != "" {
		return r.URL.Path + "?" + r.URL.RawQuery
	}
	return r.URL.Path
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if host, _, _ := net.SplitHostPort(r.RemoteAddr); !net.ParseIP(host).IsLoopback() {
		http.Error(w, "loopback only", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	rule, early := p.choose(r)
	if rule == nil || rule.Fault == faultPass {
		resp, data, err := p.forward(r, body)
		if err != nil {
			http.Error(w, "fault proxy: upstream: "+err.Error(), http.StatusBadGateway)
			return
		}
		writeResponse(w, resp, data)
		return
	}
	status := rule.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	switch rule.Fault {
	case fault5xxBefore:
		p.record(r, rule, 0)
		writeError(w, status, nil)
	case fault5xxAfter:
		resp, _, err := p.forward(r, body)
		up := 0
		if err == nil {
			up = resp.StatusCode
		}
		p.record(r, rule, up)
		writeError(w, status, nil)
	case fault429:
		if !early {
			p.record(r, rule, 0)
		}
		h := http.Header{"Retry-After": {strconv.Itoa(max(rule.RetryAfter, 1))}}
		writeError(w, http.StatusTooManyRequests, h)
	case faultTruncate:
		resp, data, err := p.forward(r, body)
		if err != nil || resp.StatusCode/100 != 2 {
			// Only a success is truncated; anything else goes through.
			if err != nil {
				http.Error(w, "fault proxy: upstream: "+err.Error(), http.StatusBadGateway)
			} else {
				writeResponse(w, resp, data)
			}
			return
		}
		p.record(r, rule, resp.StatusCode)
		if len(data) == 0 { // a 204: promise a body anyway
			data = []byte(`{"issue":{"id":0,"subject":"the rest of this answer never arrives"}}`)
		}
		sent := data[:len(data)/2]
		conn, buf, ok := hijack(w)
		if !ok {
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n", len(data)+16)
		_, _ = buf.Write(sent)
		_ = buf.Flush()
		_ = conn.Close()
	case faultStall:
		up := 0
		if rule.Forward {
			if resp, _, err := p.forward(r, body); err == nil {
				up = resp.StatusCode
			}
		}
		p.record(r, rule, up)
		d := rule.Stall
		if d <= 0 {
			d = 2 * time.Second
		}
		select {
		case <-time.After(min(d, maxStall)):
		case <-p.done:
		case <-r.Context().Done():
		}
		if conn, _, ok := hijack(w); ok {
			_ = conn.Close()
		}
	case faultReset:
		up := 0
		if rule.Forward {
			if resp, _, err := p.forward(r, body); err == nil {
				up = resp.StatusCode
			}
		}
		p.record(r, rule, up)
		if conn, _, ok := hijack(w); ok {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close with RST
			}
			_ = conn.Close()
		}
	default:
		http.Error(w, "fault proxy: unknown fault "+string(rule.Fault), http.StatusInternalServerError)
	}
}

func hijack(w http.ResponseWriter) (net.Conn, *bufio.Writer, bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, false
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, false
	}
	return conn, rw.Writer, true
}

// forward sends the request to Redmine and reads its whole answer.
func (p *faultProxy) forward(r *http.Request, body []byte) (*http.Response, []byte, error) {
	u := *p.upstream
	u.Path = strings.TrimRight(p.upstream.Path, "/") + r.URL.Path
	u.RawQuery = r.URL.RawQuery
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range r.Header {
		if hopByHop(k) {
			continue
		}
		req.Header[k] = vs
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, err
	}
	return resp, data, nil
}

func hopByHop(h string) bool {
	switch http.CanonicalHeaderKey(h) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		return true
	}
	return false
}

func writeResponse(w http.ResponseWriter, resp *http.Response, data []byte) {
	for k, vs := range resp.Header {
		if hopByHop(k) {
			continue
		}
		w.Header()[k] = vs
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(data)
}

func writeError(w http.ResponseWriter, status int, h http.Header) {
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":["injected by the e2e fault proxy: HTTP %d"]}`, status)
}

// TestFaultProxy proves each mode of the proxy against a local server (no
// Redmine needed): what the client sees, and whether the upstream saw the
// request.
func TestFaultProxy(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"issues":[{"id":1,"subject":"one"},{"id":2,"subject":"two"}],"total_count":2}`)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = up.Serve(ln) }()
	t.Cleanup(func() { _ = up.Close() })
	p := newFaultProxy(t, "http://"+ln.Addr().String(), 1)
	seen := func(k string) int { mu.Lock(); defer mu.Unlock(); return got[k] }

	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	do := func(method, path string) (int, string, error) {
		req, _ := http.NewRequest(method, p.URL+path, strings.NewReader(`{}`))
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), err
	}
	re := regexp.MustCompile

	p.set(&faultRule{Method: "POST", Path: re(`^/issues\.json$`), Fault: fault5xxBefore, Count: 1})
	if code, _, err := do("POST", "/issues.json"); code != 503 || err != nil || seen("POST /issues.json") != 0 {
		t.Errorf("5xx before: %d %v, upstream saw %d", code, err, seen("POST /issues.json"))
	}
	if code, _, err := do("POST", "/issues.json"); code != 200 || err != nil || seen("POST /issues.json") != 1 {
		t.Errorf("after the countdown: %d %v, upstream saw %d", code, err, seen("POST /issues.json"))
	}

	p.set(&faultRule{Method: "POST", Fault: fault5xxAfter, Count: 1})
	if code, _, err := do("POST", "/issues.json"); code != 503 || err != nil || seen("POST /issues.json") != 2 {
		t.Errorf("5xx after: %d %v, upstream saw %d", code, err, seen("POST /issues.json"))
	}

	p.set(&faultRule{Method: "GET", Fault: fault429, Count: 1, RetryAfter: 1})
	if code, ra, _ := do("GET", "/issues.json"); code != 429 || ra != "1" {
		t.Errorf("429: %d Retry-After %q", code, ra)
	}
	if code, _, _ := do("GET", "/issues.json"); code != 429 || len(p.earlyRequests()) != 1 {
		t.Errorf("a request inside the Retry-After window: %d, %d early", code, len(p.earlyRequests()))
	}
	time.Sleep(1100 * time.Millisecond)
	if code, _, err := do("GET", "/issues.json"); code != 200 || err != nil {
		t.Errorf("after the window: %d %v", code, err)
	}

	p.set(&faultRule{Method: "PUT", Fault: faultTruncate, Count: 1})
	if _, _, err := do("PUT", "/issues/1.json"); !errors.Is(err, io.ErrUnexpectedEOF) || seen("PUT /issues/1.json") != 1 {
		t.Errorf("truncated PUT: %v (want unexpected EOF), upstream saw %d", err, seen("PUT /issues/1.json"))
	}
	p.set(&faultRule{Method: "GET", Fault: faultTruncate, Count: 1})
	if _, _, err := do("GET", "/issues.json"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated GET: %v, want unexpected EOF", err)
	}

	p.set(&faultRule{Method: "PUT", Fault: faultStall, Stall: 300 * time.Millisecond, Forward: true, Count: 1})
	if _, _, err := do("PUT", "/issues/2.json"); err == nil || seen("PUT /issues/2.json") != 1 {
		t.Errorf("stall after forwarding: %v (want an error), upstream saw %d", err, seen("PUT /issues/2.json"))
	}
	p.set(&faultRule{Method: "PUT", Fault: faultReset, Count: 1})
	if _, _, err := do("PUT", "/issues/3.json"); err == nil || seen("PUT /issues/3.json") != 0 {
		t.Errorf("reset: %v (want an error), upstream saw %d", err, seen("PUT /issues/3.json"))
	}

	first := &faultRule{Method: "POST", Fault: fault5xxAfter, Count: 1}
	p.set(first, &faultRule{Fault: fault5xxBefore, Count: 100, OnlyAfter: first})
	if code, _, _ := do("GET", "/issues.json"); code != 200 {
		t.Errorf("OnlyAfter fired before its rule: %d", code)
	}
	do("POST", "/issues.json")
	if code, _, _ := do("GET", "/issues.json"); code != 503 {
		t.Errorf("OnlyAfter did not fire after its rule: %d", code)
	}

	p.set(&faultRule{Fault: fault5xxBefore, Prob: 0.5})
	fails := 0
	for i := 0; i < 200; i++ {
		if code, _, _ := do("GET", "/x"); code == 503 {
			fails++
		}
	}
	if fails < 50 || fails > 150 {
		t.Errorf("probability 0.5 faulted %d of 200 requests", fails)
	}
	p.passThrough()
	if code, _, err := do("GET", "/issues.json"); code != 200 || err != nil {
		t.Errorf("pass-through: %d %v", code, err)
	}
}
