package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/usmhub/usmhub/core/authlimit"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/schedule"
)

// Health is the body of GET /healthz.
type Health struct {
	// Status is "ok" when every job's last run succeeded (or none ran
	// yet), else "degraded": a job failed, or its sync left records failed
	// or waiting. The answer is 200 either way: the daemon itself is up.
	Status string `json:"status"`
	// Jobs are the configured jobs, sorted by name.
	Jobs []JobHealth `json:"jobs"`
}

// JobHealth is one job in GET /healthz. Times are RFC 3339; a field of a
// run that has not happened yet is null.
type JobHealth struct {
	// Name and Spec are the job's name and cron schedule.
	Name string `json:"name"`
	Spec string `json:"spec"`
	// OK is false when the last finished run failed.
	OK bool `json:"ok"`
	// Running is true while a run is under way.
	Running bool `json:"running"`
	// LastRun is when the last finished run started.
	LastRun *time.Time `json:"last_run"`
	// LastDurationSeconds is how long the last finished run took.
	LastDurationSeconds *float64 `json:"last_duration_seconds"`
	// LastError is the error of the last finished run; null if it
	// succeeded, and left out unless the request carries the API token
	// (hub.api_token as a bearer token): error texts name paths and hosts,
	// so unauthenticated callers see states only.
	LastError *string `json:"last_error,omitempty"`
	// LastSuccess is when the last successful run ended.
	LastSuccess *time.Time `json:"last_success"`
	// NextRun is when the schedule fires next (before jitter).
	NextRun *time.Time `json:"next_run"`
}

// syncResponse is the body of POST /v1/sync/{name}.
type syncResponse struct {
	Started bool `json:"started"`
	// RunID is the started run's id: a sync's run takes it as its own, so
	// `usmhub log -run RUN_ID` and the logs' run=… follow it.
	RunID string `json:"run_id,omitempty"`
	Error string `json:"error,omitempty"`
}

// unknownJobResponse is the body of a 404 for a job name that is not there.
type unknownJobResponse struct {
	Error string   `json:"error"`
	Known []string `json:"known"`
}

// errorResponse is the body of an error answer.
type errorResponse struct {
	Error string `json:"error"`
}

// server is one HTTP listener serving the daemon's routes.
type server struct {
	addr string // the address as configured, to tell whether a reload moved it
	tls  bool   // serving HTTPS
	ln   net.Listener
	http *http.Server
	errc chan error // receives Serve's error if it fails
}

// listen binds addr and starts serving the daemon's routes on it, with
// HTTPS when useTLS (the certificate is the current generation's, so a
// reload can renew it); the handlers need a generation installed.
func (d *daemon) listen(addr string, useTLS bool) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s (hub.listen): %w", addr, err)
	}
	if useTLS {
		ln = tls.NewListener(ln, &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				if gen := d.current(); gen != nil && gen.rt.TLS != nil {
					return gen.rt.TLS, nil
				}
				return nil, errors.New("no TLS certificate configured (hub.tls_cert, hub.tls_key)")
			},
		})
	}
	s := &server{
		addr: addr,
		tls:  useTLS,
		ln:   ln,
		errc: make(chan error, 1),
		http: &http.Server{
			Handler:           d.handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          d.logger.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
		},
	}
	go func() {
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()
	return s, nil
}

// announce logs that s is in service and tells Options.OnListen. Plain
// HTTP beyond loopback gets a warning: tokens would cross the network in
// clear.
func (d *daemon) announce(s *server) {
	d.logger.Info("listening", "addr", s.ln.Addr().String(), "tls", s.tls)
	if !s.tls && !isLoopback(s.addr) {
		d.logger.Warn("listening beyond loopback without TLS: tokens and data cross the network in clear; set hub.tls_cert and hub.tls_key, or listen on 127.0.0.1 behind a TLS proxy", "addr", s.addr)
	}
	if d.opts.OnListen != nil {
		d.opts.OnListen(s.ln.Addr())
	}
}

// shutdown stops s gracefully until ctx is done, then closes it.
func (s *server) shutdown(ctx context.Context, logger hclog.Logger) {
	if err := s.http.Shutdown(ctx); err != nil {
		logger.Warn("HTTP requests did not finish in time; closing their connections", "addr", s.ln.Addr().String(), "error", err)
		_ = s.http.Close()
	}
}

// routes returns the daemon's HTTP API. The handlers read the generation
// being served on every request, so they follow reloads.
func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", d.handleHealthz)
	mux.Handle("GET /metrics", d.metrics.Handler(d.logger.Named("metrics")))
	mux.HandleFunc("POST /v1/sync/{name}", d.handleSync)
	// Other methods on the daemon's own paths stay 405, not the pages' 404.
	for _, p := range []struct{ path, allow string }{{"/v1/sync/{name}", "POST"}, {"/healthz", "GET, HEAD"}, {"/metrics", "GET, HEAD"}} {
		mux.HandleFunc(p.path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", p.allow)
			writeJSON(w, http.StatusMethodNotAllowed, errorResponse{Error: "method not allowed; use " + p.allow})
		})
	}
	mux.HandleFunc("/", d.handlePages)
	return mux
}

// handlePages hands a request to the runtime's Pages, or answers 404.
func (d *daemon) handlePages(w http.ResponseWriter, r *http.Request) {
	if p := d.current().rt.Pages; p != nil {
		p.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// handleHealthz answers GET /healthz with a Health: states only, and the
// last errors too when the request carries the API token.
func (d *daemon) handleHealthz(w http.ResponseWriter, r *http.Request) {
	gen := d.current()
	details := false
	if token, presented := bearerToken(r); presented && gen.hasToken {
		if left, limited := d.metrics.AuthLimiter().Blocked(r, "healthz"); limited {
			authlimit.Refuse(w, left)
			return
		}
		if details = d.tokenValid(gen, token); !details {
			d.metrics.AuthLimiter().Fail(r, "healthz")
		}
	}
	jobs := gen.sched.Jobs()
	h := Health{Status: "ok", Jobs: make([]JobHealth, 0, len(jobs))}
	d.statusMu.Lock()
	for _, j := range jobs {
		jh := JobHealth{Name: j.Name, Spec: j.Spec, Running: j.Running, OK: true}
		if !j.Next.IsZero() {
			jh.NextRun = ptr(j.Next)
		}
		if st := d.status[j.Name]; st != nil && !st.lastRun.IsZero() {
			jh.LastRun = ptr(st.lastRun)
			jh.LastDurationSeconds = ptr(st.lastDuration.Seconds())
			if st.lastError != "" {
				if details {
					jh.LastError = ptr(st.lastError)
				}
				jh.OK, h.Status = false, "degraded"
			}
			if !st.lastSuccess.IsZero() {
				jh.LastSuccess = ptr(st.lastSuccess)
			}
		}
		h.Jobs = append(h.Jobs, jh)
	}
	d.statusMu.Unlock()
	writeJSON(w, http.StatusOK, h)
}

// handleSync answers POST /v1/sync/{name}: it starts a run of the job now.
//
//	403 the API token is not configured
//	401 the bearer token is missing or wrong
//	404 no job of that name
//	409 the job is running already
//	503 the daemon is stopping or reloading
//	202 the run started
func (d *daemon) handleSync(w http.ResponseWriter, r *http.Request) {
	gen := d.current()
	if !gen.hasToken {
		writeJSON(w, http.StatusForbidden, errorResponse{
			Error: "the sync API is disabled: set hub.api_token in the configuration to enable POST /v1/sync/{name}",
		})
		return
	}
	if left, limited := d.metrics.AuthLimiter().Blocked(r, "sync"); limited {
		authlimit.Refuse(w, left)
		return
	}
	token, presented := bearerToken(r)
	if !presented {
		w.Header().Set("WWW-Authenticate", `Bearer realm="usmhub"`)
		writeJSON(w, http.StatusUnauthorized, errorResponse{Error: "authorization required: send Authorization: Bearer <hub.api_token>"})
		return
	}
	if !d.tokenValid(gen, token) {
		d.metrics.AuthLimiter().Fail(r, "sync")
		d.logger.Warn("sync request with a wrong API token", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="usmhub", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, errorResponse{Error: "invalid API token"})
		return
	}

	name := r.PathValue("name")
	runID := uuid.NewString()
	started, err := gen.sched.TriggerRun(name, runID)
	switch {
	case errors.Is(err, schedule.ErrUnknownJob):
		known := []string{}
		for _, j := range gen.sched.Jobs() {
			known = append(known, j.Name)
		}
		writeJSON(w, http.StatusNotFound, unknownJobResponse{
			Error: fmt.Sprintf("no job named %q; the jobs are %s", name, strings.Join(known, ", ")), Known: known})
	case errors.Is(err, schedule.ErrStopped):
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, errorResponse{Error: "the daemon is stopping or reloading; try again shortly"})
	case err != nil:
		d.logger.Error("triggering a run failed", "job", name, "error", err)
		writeJSON(w, http.StatusInternalServerError, errorResponse{Error: err.Error()})
	case !started:
		writeJSON(w, http.StatusConflict, syncResponse{Started: false, Error: fmt.Sprintf("job %q is already running", name)})
	default:
		d.logger.Info("run requested over HTTP", "job", name, "run", runID, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusAccepted, syncResponse{Started: true, RunID: runID})
	}
}

// isLoopback reports whether the listen address addr takes only local
// connections (a loopback IP or localhost; an empty host is every
// interface).
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tokenValid says whether token is the generation's API token, comparing
// in constant time.
func (d *daemon) tokenValid(gen *generation, token string) bool {
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], gen.tokenHash[:]) == 1
}

// bearerToken returns the credentials of an "Authorization: Bearer …"
// header, and whether there was one.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// writeJSON writes v as the JSON body of a response with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }
