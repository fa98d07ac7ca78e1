// Package authlimit limits wrong credentials per client address, so that
// nobody can guess the hub's tokens at network speed: after Max wrong
// tokens from one address within Window, that address is refused (HTTP 429
// with Retry-After) until its window has passed, whatever it sends. The
// daemon's API and the dashboard share one Limiter.
package authlimit

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults: 10 wrong tokens a minute per client address.
const (
	DefaultMax    = 10
	DefaultWindow = time.Minute
)

// maxTracked bounds the addresses a Limiter remembers; past it, windows
// that ended are forgotten first (memory stays bounded under a flood).
const maxTracked = 10000

// Limiter counts wrong credentials per client address in fixed windows.
// The zero value is not usable; New makes one. It is safe for concurrent
// use.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time
	// OnFail, when set, is called for every wrong credential (where is
	// the endpoint's name) and OnRefuse for every request refused because
	// its address is limited; the daemon counts both in /metrics.
	OnFail   func(where string)
	OnRefuse func(where string)

	mu sync.Mutex
	by map[string]*window
}

type window struct {
	start time.Time
	fails int
}

// New returns a Limiter allowing max wrong credentials per address within
// each window (DefaultMax and DefaultWindow when zero).
func New(max int, per time.Duration) *Limiter {
	if max <= 0 {
		max = DefaultMax
	}
	if per <= 0 {
		per = DefaultWindow
	}
	return &Limiter{max: max, window: per, now: time.Now, by: map[string]*window{}}
}

// Client is the address a request's limit is kept under: the host of its
// remote address (the port changes with every connection).
func Client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Blocked reports whether the request's address is limited, and for how
// long. A limited request is refused before its credentials are looked at.
func (l *Limiter) Blocked(r *http.Request, where string) (time.Duration, bool) {
	if l == nil {
		return 0, false
	}
	l.mu.Lock()
	w, ok := l.by[Client(r)]
	var left time.Duration
	if ok && w.fails >= l.max {
		left = w.start.Add(l.window).Sub(l.now())
	}
	l.mu.Unlock()
	if left <= 0 {
		return 0, false
	}
	if l.OnRefuse != nil {
		l.OnRefuse(where)
	}
	return left, true
}

// Fail records a wrong credential from the request's address.
func (l *Limiter) Fail(r *http.Request, where string) {
	if l == nil {
		return
	}
	now := l.now()
	addr := Client(r)
	l.mu.Lock()
	w, ok := l.by[addr]
	if !ok || now.Sub(w.start) >= l.window {
		if !ok && len(l.by) >= maxTracked {
			l.forget(now)
		}
		w = &window{start: now}
		l.by[addr] = w
	}
	w.fails++
	l.mu.Unlock()
	if l.OnFail != nil {
		l.OnFail(where)
	}
}

// forget drops the windows that ended; l.mu is held.
func (l *Limiter) forget(now time.Time) {
	for a, w := range l.by {
		if now.Sub(w.start) >= l.window {
			delete(l.by, a)
		}
	}
}

// Refuse answers a limited request: 429 with Retry-After in whole seconds.
// It says nothing about the credentials.
func Refuse(w http.ResponseWriter, left time.Duration) {
	secs := int((left + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	http.Error(w, "too many wrong tokens from this address: try again later", http.StatusTooManyRequests)
}
