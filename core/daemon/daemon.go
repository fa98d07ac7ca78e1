// Package daemon is the core of `usmhub serve`: it runs a set of jobs on
// their cron schedules, serves the hub's HTTP API — GET /healthz, GET
// /metrics, POST /v1/sync/{name}, and the runtime's Pages (the dashboard)
// for every other path — reloads on SIGHUP, and stops gracefully.
//
// The daemon is generic over jobs. A Loader, written by the command, turns
// the configuration into a Runtime: the jobs, where to listen, the API token,
// and how to release what the jobs hold (store, connector plugins). The
// daemon owns the lifecycle around it and nothing else: it never reads a
// config file, never talks to a connector or the store, and does not import
// core/reconcile.
package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/schedule"
)

// DefaultListen is where the daemon listens when Runtime.Listen is empty:
// loopback only.
const DefaultListen = "127.0.0.1:8765"

// DefaultStopTimeout is how long a stop waits for running jobs before it
// cancels them, when Options.StopTimeout is zero. With cancelWait it keeps
// a SIGTERM'd daemon well within the 10 seconds service managers allow.
const DefaultStopTimeout = 8 * time.Second

// cancelWait is how long a stop waits for cancelled jobs to return before it
// closes their runtime anyway.
const cancelWait = time.Second

// Runtime is what one load of the configuration gives the daemon.
//
// Lifecycle: the daemon owns a Runtime from the moment the Loader returns
// it. It schedules Jobs, serves on Listen, and calls Close exactly once:
// after every run of the runtime's jobs has returned (or, at a stop, been
// cancelled and given a moment to return), or straight away if the runtime
// is rejected (a job the scheduler refuses, an address it cannot bind).
type Runtime struct {
	// Jobs are run on their schedules and on POST /v1/sync/{name}. Names
	// must be unique and specs valid (schedule.ValidateSpec).
	Jobs []schedule.Job
	// Listen is the TCP address of the HTTP API; empty means DefaultListen.
	// Port 0 picks a free port (see Options.OnListen).
	Listen string
	// APIToken is the bearer token POST /v1/sync/{name} requires. Empty
	// disables that endpoint: it answers 403 and says to set hub.api_token.
	// The daemon never logs it.
	APIToken string
	// TLS, when set, is the certificate the API serves HTTPS with
	// (hub.tls_cert, hub.tls_key); nil serves plain HTTP, and the daemon
	// warns at start when that is on an address beyond loopback. A reload
	// may replace the certificate; turning TLS on or off takes a listener
	// of its own, so it needs another address or a restart.
	TLS *tls.Certificate
	// Pages, when set, serves every request no other route takes: the
	// dashboard and its read-only /v1/ API (core/dashboard), which guard
	// their own access. Nil answers those with 404.
	Pages http.Handler
	// Close releases what the jobs use (connector processes, the store).
	// May be nil.
	Close func()
}

// Loader loads the configuration and builds a Runtime from it. Run calls it
// once at start and again on every SIGHUP, while the previous runtime is
// still running: it must not disturb that runtime.
//
// metrics is the daemon's Metrics, the same on every call; the loader hands
// it to the sync engine so the engine's records, errors and conflicts show
// on /metrics. (The daemon itself records every run.)
//
// On failure the error text is shown to the operator as is — for a
// configuration error, the diagnostics with their file:line,col.
//
// A stop does not wait for a load: when ctx is cancelled before the loader
// returns, Run goes on stopping (or returns) without it, and closes the
// runtime the loader may still return. A loader should still heed ctx where
// it can; what it cannot (a read that blocks) ends with the process.
type Loader func(ctx context.Context, metrics *Metrics) (*Runtime, error)

// Options tune Run. The zero value is valid.
type Options struct {
	// Signals delivers reload requests: each syscall.SIGHUP reloads the
	// runtime; other signals are ignored. main passes a channel registered
	// with signal.Notify(ch, syscall.SIGHUP); tests send on their own. Nil
	// means no reloads. (Stopping is ctx's job, not this channel's.)
	Signals <-chan os.Signal
	// StopTimeout is how long a stop — at shutdown or when a reload retires
	// the old runtime — waits for running jobs before cancelling their
	// context; it then waits one more second for them to return. Zero means
	// DefaultStopTimeout.
	StopTimeout time.Duration
	// Jitter is the largest random delay before each scheduled run
	// (schedule.Options.Jitter). Zero means none.
	Jitter time.Duration
	// Location is the time zone of the cron specs; nil means time.Local.
	Location *time.Location
	// OnListen, if set, is called with the bound address each time the
	// daemon starts listening: at start, and after a reload that changed
	// Listen. Tests listen on 127.0.0.1:0 and learn the port here.
	OnListen func(addr net.Addr)
	// RunOnStart runs every job once when the daemon starts, one after
	// the other in the runtime's order (so risks are in before the votes
	// on them), instead of waiting for each job's first tick.
	RunOnStart bool
	// Notify, if set, is told the daemon's state in sd_notify(3)'s words,
	// so a service manager knows when the daemon is ready: "READY=1" once
	// the first runtime's jobs are scheduled and the API listens (and again
	// when a reload has ended, whether it worked or not), "RELOADING=1"
	// when a SIGHUP starts a reload, "STOPPING=1" when a stop begins. main
	// passes go-systemd's SdNotify; it does nothing outside systemd.
	Notify func(state string)
}

// notify tells opts.Notify the daemon's state, if it listens.
func (d *daemon) notify(state string) {
	if d.opts.Notify != nil {
		d.opts.Notify(state)
	}
}

// runInOrder triggers each job and waits for it to finish before the next.
func runInOrder(ctx context.Context, logger hclog.Logger, sched *schedule.Scheduler, jobs []schedule.Job) {
	for _, job := range jobs {
		if ctx.Err() != nil {
			return
		}
		if _, err := sched.Trigger(job.Name); err != nil {
			logger.Debug("start-up run not started", "job", job.Name, "error", err)
			return // stopped or reloaded
		}
		for sched.Running(job.Name) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// Run runs the daemon until ctx is cancelled.
//
// It loads the runtime, starts its jobs and the HTTP API, and waits. On
// SIGHUP (from opts.Signals) it loads again: if that fails, it logs the
// error under the key "diagnostics" and keeps the running runtime; if it
// succeeds, it stops the old jobs gracefully (as at shutdown), closes the
// old runtime and starts the new one, keeping the listener when Listen is
// unchanged and moving to the new address when it changed. On ctx
// cancellation (main cancels on SIGTERM and SIGINT) it stops scheduling,
// shuts the HTTP API down, lets running jobs finish for up to
// opts.StopTimeout, then cancels them, closes the runtime and returns nil.
// A load under way (at start or on SIGHUP) does not hold up a stop: see
// Loader.
//
// Run returns an error if the first load fails, if the runtime is rejected
// (a bad job, an address it cannot bind), or if the HTTP server fails.
func Run(ctx context.Context, logger hclog.Logger, load Loader, opts Options) error {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	d := &daemon{
		logger:  logger,
		load:    load,
		opts:    opts,
		metrics: NewMetrics(),
		status:  make(map[string]*jobStatus),
	}
	d.handler = d.routes()

	rt, err := d.loadOrStop(ctx)
	if errors.Is(err, errStopped) {
		logger.Info("stopped while loading the configuration")
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading the configuration: %w", err)
	}
	if rt == nil {
		return errors.New("loading the configuration: the loader returned no runtime")
	}
	gen, err := d.prepare(rt)
	if err != nil {
		closeRuntime(rt)
		return err
	}
	d.install(gen)
	d.srv, err = d.listen(listenAddr(rt), rt.TLS != nil)
	if err != nil {
		_ = gen.sched.Stop(context.Background()) // never started: returns at once
		closeRuntime(rt)
		return err
	}
	gen.sched.Start()
	d.announce(d.srv)
	logger.Info("daemon started", "jobs", len(rt.Jobs), "listen", d.srv.ln.Addr().String())
	d.notify("READY=1")
	if opts.RunOnStart {
		go runInOrder(ctx, logger, gen.sched, rt.Jobs)
	}

	for {
		select {
		case <-ctx.Done():
			d.notify("STOPPING=1")
			d.shutdown()
			return nil
		case sig := <-opts.Signals:
			if sig != syscall.SIGHUP {
				logger.Debug("ignoring signal", "signal", sig)
				continue
			}
			d.notify("RELOADING=1")
			d.reload(ctx)
			if ctx.Err() == nil {
				d.notify("READY=1")
			}
		case err := <-d.srv.errc:
			logger.Error("HTTP server failed; stopping", "error", err)
			d.notify("STOPPING=1")
			d.shutdown()
			return fmt.Errorf("serving HTTP on %s: %w", d.srv.ln.Addr(), err)
		}
	}
}

// daemon is the state of one Run.
type daemon struct {
	logger  hclog.Logger
	load    Loader
	opts    Options
	metrics *Metrics
	handler http.Handler

	mu  sync.RWMutex
	gen *generation // the runtime being served; read by HTTP handlers

	statusMu sync.Mutex
	status   map[string]*jobStatus // by job name; survives reloads

	srv *server // only Run's goroutine touches it
}

// generation is one loaded runtime and the scheduler running its jobs.
type generation struct {
	rt        *Runtime
	sched     *schedule.Scheduler
	hasToken  bool
	tokenHash [sha256.Size]byte // of Runtime.APIToken; compared in constant time
}

// jobStatus is what /healthz reports about a job's past runs.
type jobStatus struct {
	lastRun      time.Time // when the last finished run started
	lastDuration time.Duration
	lastError    string    // of the last finished run; "" if it succeeded
	lastSuccess  time.Time // when the last successful run ended
}

// current returns the generation being served.
func (d *daemon) current() *generation {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.gen
}

// prepare builds a (not yet started) scheduler for rt's jobs.
func (d *daemon) prepare(rt *Runtime) (*generation, error) {
	sched := schedule.New(d.logger.Named("scheduler"), schedule.Options{
		Jitter:   d.opts.Jitter,
		Location: d.opts.Location,
		OnFinish: d.finished,
	})
	for _, job := range rt.Jobs {
		if err := sched.Add(job); err != nil {
			_ = sched.Stop(context.Background()) // nothing runs yet: returns at once
			return nil, fmt.Errorf("scheduling the jobs: %w", err)
		}
	}
	gen := &generation{rt: rt, sched: sched, hasToken: rt.APIToken != ""}
	if gen.hasToken {
		gen.tokenHash = sha256.Sum256([]byte(rt.APIToken))
	}
	return gen, nil
}

// install makes gen the generation being served, and drops the status and
// metrics of jobs it no longer has.
func (d *daemon) install(gen *generation) {
	names := make(map[string]bool, len(gen.rt.Jobs))
	for _, job := range gen.rt.Jobs {
		names[job.Name] = true
		d.metrics.track(job.Name)
	}
	d.statusMu.Lock()
	for name := range names {
		if d.status[name] == nil {
			d.status[name] = &jobStatus{}
		}
	}
	for name := range d.status {
		if !names[name] {
			delete(d.status, name)
			d.metrics.forget(name)
		}
	}
	d.statusMu.Unlock()

	d.mu.Lock()
	d.gen = gen
	d.mu.Unlock()
}

// finished records a finished run: metrics and /healthz status. The
// scheduler calls it before the job counts as no longer running.
func (d *daemon) finished(r schedule.Result) {
	d.metrics.RecordRun(r.Job, r.Duration, r.Err)
	d.statusMu.Lock()
	defer d.statusMu.Unlock()
	st := d.status[r.Job]
	if st == nil { // a job dropped by a reload, finishing late
		return
	}
	st.lastRun = r.Started
	st.lastDuration = r.Duration
	if r.Err != nil {
		st.lastError = r.Err.Error()
	} else {
		st.lastError = ""
		st.lastSuccess = r.Started.Add(r.Duration)
	}
}

// errStopped is loadOrStop's error when ctx ended before the load.
var errStopped = errors.New("stopped before the configuration was loaded")

// loadOrStop calls the loader in its own goroutine and returns its result,
// or errStopped as soon as ctx is done. Why a goroutine: a load can block
// where no context reaches — config.Load reading file() of a FIFO or of a
// hung network mount, a plugin that never answers — and SIGTERM must still
// stop the daemon. An abandoned load's runtime is closed when it comes.
func (d *daemon) loadOrStop(ctx context.Context) (*Runtime, error) {
	type result struct {
		rt  *Runtime
		err error
	}
	done := make(chan result, 1)
	go func() {
		rt, err := d.load(ctx, d.metrics)
		done <- result{rt, err}
	}()
	select {
	case r := <-done:
		return r.rt, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.rt != nil {
				d.logger.Debug("closing the runtime of a load abandoned at stop")
				closeRuntime(r.rt)
			}
		}()
		return nil, errStopped
	}
}

// reload loads the configuration again and, if that works, replaces the
// running generation with the new one. Any failure keeps the old one; a
// stop during the load abandons it.
func (d *daemon) reload(ctx context.Context) {
	d.logger.Info("SIGHUP: reloading the configuration")
	rt, err := d.loadOrStop(ctx)
	if errors.Is(err, errStopped) {
		d.logger.Info("stopping: the reload under way is abandoned")
		return
	}
	if err == nil && rt == nil {
		err = errors.New("the loader returned no runtime")
	}
	if err != nil {
		d.metrics.recordReload(err)
		d.logger.Error("reloading the configuration failed; the running configuration stays in force",
			"diagnostics", err.Error())
		return
	}
	gen, err := d.prepare(rt)
	if err != nil {
		d.metrics.recordReload(err)
		d.logger.Error("reloading the configuration failed; the running configuration stays in force", "error", err)
		closeRuntime(rt)
		return
	}
	var moved *server
	if addr, useTLS := listenAddr(rt), rt.TLS != nil; addr != d.srv.addr || useTLS != d.srv.tls {
		if moved, err = d.listen(addr, useTLS); err != nil {
			d.metrics.recordReload(err)
			d.logger.Error("reloading the configuration failed; the running configuration stays in force", "error", err)
			_ = gen.sched.Stop(context.Background()) // never started: returns at once
			closeRuntime(rt)
			return
		}
	}

	// Commit: retire the old generation, then start the new one.
	old := d.current()
	stopCtx, cancel := context.WithTimeout(context.Background(), d.opts.StopTimeout)
	d.retire(stopCtx, old)
	cancel()
	d.install(gen)
	if moved != nil {
		prev := d.srv
		d.srv = moved
		httpCtx, cancel := context.WithTimeout(context.Background(), d.opts.StopTimeout)
		prev.shutdown(httpCtx, d.logger)
		cancel()
	}
	d.metrics.recordReload(nil)
	if ctx.Err() != nil {
		// Stopping: leave the new jobs unstarted; shutdown closes them.
		return
	}
	gen.sched.Start()
	if moved != nil {
		d.announce(moved)
	}
	d.logger.Info("configuration reloaded", "jobs", len(rt.Jobs), "listen", d.srv.ln.Addr().String())
}

// retire stops gen's scheduler — waiting for running jobs until ctx is done,
// then cancelling them and waiting cancelWait more — and closes its runtime.
func (d *daemon) retire(ctx context.Context, gen *generation) {
	if err := gen.sched.Stop(ctx); err != nil {
		d.logger.Warn("running jobs did not finish in time; cancelled them", "timeout", d.opts.StopTimeout, "error", err)
		t := time.NewTimer(cancelWait)
		select {
		case <-gen.sched.Done():
			t.Stop()
		case <-t.C:
			var running []string
			for _, j := range gen.sched.Jobs() {
				if j.Running {
					running = append(running, j.Name)
				}
			}
			d.logger.Warn("cancelled jobs are still running; closing their runtime anyway", "jobs", running)
		}
	}
	closeRuntime(gen.rt)
}

// shutdown stops the HTTP API and the jobs, and closes the runtime.
func (d *daemon) shutdown() {
	d.logger.Info("stopping: no new runs; waiting for running jobs", "timeout", d.opts.StopTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.StopTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.srv.shutdown(ctx, d.logger)
	}()
	d.retire(ctx, d.current())
	wg.Wait()
	d.logger.Info("stopped")
}

// closeRuntime calls rt.Close if there is one.
func closeRuntime(rt *Runtime) {
	if rt.Close != nil {
		rt.Close()
	}
}

// listenAddr is the address rt asks for, defaulted.
func listenAddr(rt *Runtime) string {
	if rt.Listen == "" {
		return DefaultListen
	}
	return rt.Listen
}
