// Package dashboard is the hub's web face, served by `usmhub serve` on
// hub.listen: server-rendered pages (html/template, no script) for the
// overview, the risk database, one risk, sprints, scans, sync health and
// the reports, and a read-only JSON API under /v1/ described by
// openapi.yaml.
//
// Access: on a loopback address (127.0.0.0/8, ::1, localhost) everything is
// open, as the rest of the daemon's API. On any other address every page
// and /v1/ read needs hub.read_token, as a bearer token or as the session
// cookie a small login form sets; both are compared in constant time and a
// refusal never says what was wrong. Writes (POST /v1/sync/{name}) are the
// daemon's and keep hub.api_token.
//
// Every request reads the store in one read transaction and streams the
// risks: a page holds the rows it shows (and a bounded top-N for rankings),
// never the register.
package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/usmhub/usmhub/core/authlimit"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/store"
)

//go:embed templates/*.tmpl openapi.yaml
var files embed.FS

// Options configure the dashboard.
type Options struct {
	// Config is the loaded configuration: initiatives, policies, syncs.
	Config *config.Config
	// Store is read, never written.
	Store store.Store
	// Listen is the address the hub listens on; anything but loopback
	// requires ReadToken.
	Listen string
	// ReadToken is hub.read_token; empty on a non-loopback address means
	// every page is refused, saying to set it.
	ReadToken string
	// Log receives refusals and errors; nil discards them.
	Log hclog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Limiter limits wrong tokens per client address (shared with the
	// daemon's API); nil means no limit.
	Limiter *authlimit.Limiter
}

// Dashboard is the http.Handler of the pages and the /v1/ read API.
type Dashboard struct {
	opts      Options
	mux       *http.ServeMux
	open      bool                // listening on loopback: no token needed
	tokenHash [sha256.Size]byte   // of ReadToken
	cookieKey []byte              // HMAC key of session cookies, derived from ReadToken
	initKeys  map[string]struct{} // the initiatives' keys
}

// sessionCookie names the cookie the login form sets.
const sessionCookie = "usmhub_session"

// sessionLife is how long a login lasts.
const sessionLife = 12 * time.Hour

// New returns the dashboard for a configuration and store.
func New(opts Options) (*Dashboard, error) {
	if opts.Config == nil || opts.Store == nil {
		return nil, errors.New("dashboard: no config or store given")
	}
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	d := &Dashboard{opts: opts, open: Loopback(opts.Listen), initKeys: map[string]struct{}{}}
	for _, in := range opts.Config.Initiatives {
		d.initKeys[in.Key] = struct{}{}
	}
	if opts.ReadToken != "" {
		d.tokenHash = sha256.Sum256([]byte(opts.ReadToken))
		k := sha256.Sum256([]byte("usmhub session key\x00" + opts.ReadToken))
		d.cookieKey = k[:]
	}
	if !d.open && opts.ReadToken == "" {
		opts.Log.Warn("the dashboard listens beyond loopback without hub.read_token: every page is refused until it is set", "listen", opts.Listen)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.page(d.overview))
	mux.HandleFunc("GET /risks", d.page(d.risks))
	mux.HandleFunc("GET /risks/{key}", d.page(d.risk))
	mux.HandleFunc("GET /sprints", d.page(d.sprints))
	mux.HandleFunc("GET /sprints/{number}", d.page(d.sprint))
	mux.HandleFunc("GET /scans", d.page(d.scans))
	mux.HandleFunc("GET /syncs", d.page(d.syncs))
	mux.HandleFunc("GET /reports/{kind}", d.page(d.report))
	mux.HandleFunc("GET /login", d.loginForm)
	mux.HandleFunc("POST /login", d.login)
	mux.HandleFunc("POST /logout", d.logout)
	mux.HandleFunc("GET /v1/risks", d.api(d.apiRisks))
	mux.HandleFunc("GET /v1/risks/{key}", d.api(d.apiRisk))
	mux.HandleFunc("GET /v1/sprints", d.api(d.apiSprints))
	mux.HandleFunc("GET /v1/scans", d.api(d.apiScans))
	mux.HandleFunc("GET /v1/votes", d.api(d.apiVotes))
	mux.HandleFunc("GET /v1/runs", d.api(d.apiRuns))
	mux.HandleFunc("GET /v1/openapi.yaml", d.api(d.apiSpec))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	d.mux = mux
	return d, nil
}

// Loopback reports whether a listen address (host:port) is on loopback
// only: 127.0.0.0/8, ::1 or localhost. An empty host (every interface) is
// not.
func Loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP serves the pages and the API with the security headers every
// answer carries: no script, no framing, nothing loaded from elsewhere.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	d.mux.ServeHTTP(w, r)
}

// allowed reports whether a request may read: on loopback always; else
// with the read token as a bearer token or a valid session cookie.
func (d *Dashboard) allowed(r *http.Request) bool {
	if d.open {
		return true
	}
	if d.cookieKey == nil {
		return false
	}
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return d.tokenOK(strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return d.sessionOK(c.Value)
	}
	return false
}

// tokenOK compares a presented token with the read token in constant time
// (of their hashes, so the length leaks nothing either).
func (d *Dashboard) tokenOK(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return d.cookieKey != nil && subtle.ConstantTimeCompare(sum[:], d.tokenHash[:]) == 1
}

// session returns a session cookie value: its expiry and the HMAC of it.
func (d *Dashboard) session(until time.Time) string {
	exp := strconv.FormatInt(until.Unix(), 10)
	m := hmac.New(sha256.New, d.cookieKey)
	m.Write([]byte(exp))
	return exp + "." + hex.EncodeToString(m.Sum(nil))
}

func (d *Dashboard) sessionOK(v string) bool {
	exp, mac, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	m := hmac.New(sha256.New, d.cookieKey)
	m.Write([]byte(exp))
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(mac), []byte(want)) {
		return false
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && d.opts.Now().Before(time.Unix(n, 0))
}

// page wraps a page handler: access, then the handler's answer.
func (d *Dashboard) page(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.admit(w, r, false) {
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if err := fn(w, r); err != nil {
			d.fail(w, r, err)
		}
	}
}

// api wraps a /v1/ handler: access, then the handler's answer.
func (d *Dashboard) api(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.admit(w, r, true) {
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if err := fn(w, r); err != nil {
			var ne *notFound
			if errors.As(err, &ne) {
				writeJSON(w, http.StatusNotFound, errorBody{Error: ne.Error()})
				return
			}
			d.opts.Log.Error("API request failed", "path", r.URL.Path, "error", err)
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "the hub could not answer: see its log"})
		}
	}
}

// admit lets a request read, or answers it: 429 while its address is
// limited for sending wrong tokens, else the refusal. A request that
// presented a token or a session cookie that was wrong counts towards the
// limit.
func (d *Dashboard) admit(w http.ResponseWriter, r *http.Request, api bool) bool {
	if left, limited := d.opts.Limiter.Blocked(r, "dashboard"); limited {
		authlimit.Refuse(w, left)
		return false
	}
	if d.allowed(r) {
		return true
	}
	if _, err := r.Cookie(sessionCookie); err == nil || r.Header.Get("Authorization") != "" {
		d.opts.Limiter.Fail(r, "dashboard")
	}
	d.refuse(w, r, api)
	return false
}

// refuse answers a request without access. Pages send people to the login
// form; the API answers 401. Neither says what was wrong.
func (d *Dashboard) refuse(w http.ResponseWriter, r *http.Request, api bool) {
	if d.cookieKey == nil {
		msg := "the dashboard is closed: this hub listens beyond loopback and hub.read_token is not set"
		if api {
			writeJSON(w, http.StatusForbidden, errorBody{Error: msg})
		} else {
			http.Error(w, msg+"; set it in the hub block (read_token = env(\"USMHUB_READ_TOKEN\")) and reload.", http.StatusForbidden)
		}
		return
	}
	if api {
		w.Header().Set("WWW-Authenticate", `Bearer realm="usmhub"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "authorization required: send Authorization: Bearer <hub.read_token>"})
		return
	}
	next := r.URL.RequestURI()
	http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
}

// fail answers a page whose handler failed.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ne *notFound
	if errors.As(err, &ne) {
		d.render(w, http.StatusNotFound, "message", &view{Title: "Not found", Message: ne.Error()})
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	d.opts.Log.Error("page failed", "path", r.URL.Path, "error", err)
	d.render(w, http.StatusInternalServerError, "message", &view{Title: "Error", Message: "The hub could not show this page; its log says why."})
}

// notFound is a page or record that does not exist.
type notFound struct{ what string }

func (e *notFound) Error() string { return e.what + " not found" }

// safeNext keeps a post-login redirect on this site: a path, never a
// scheme, host or "//".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	d.render(w, http.StatusOK, "login", &view{Title: "Sign in", Next: safeNext(r.URL.Query().Get("next")), Open: d.open})
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	if left, limited := d.opts.Limiter.Blocked(r, "login"); limited {
		authlimit.Refuse(w, left)
		return
	}
	if !d.tokenOK(r.PostForm.Get("token")) {
		d.opts.Limiter.Fail(r, "login")
		d.opts.Log.Warn("dashboard sign-in refused", "remote", r.RemoteAddr)
		d.render(w, http.StatusUnauthorized, "login", &view{Title: "Sign in", Next: next, Failed: true})
		return
	}
	until := d.opts.Now().Add(sessionLife)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: d.session(until), Path: "/", Expires: until,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// initiative returns the initiative a request names (?initiative=), else
// the first configured.
func (d *Dashboard) initiative(r *http.Request) (*config.Initiative, error) {
	key := r.URL.Query().Get("initiative")
	if key == "" {
		if len(d.opts.Config.Initiatives) == 0 {
			return nil, &notFound{"initiative (the configuration has none)"}
		}
		return d.opts.Config.Initiatives[0], nil
	}
	in, err := d.opts.Config.Initiative(key)
	if err != nil {
		return nil, &notFound{fmt.Sprintf("initiative %q", key)}
	}
	return in, nil
}
