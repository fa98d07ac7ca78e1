package daemon

import (
	"github.com/usmhub/usmhub/core/authlimit"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Directions of records, the values of the direction label of
// usmhub_records_total.
const (
	// DirectionPull: records read from a tool into the hub.
	DirectionPull = "pull"
	// DirectionPush: records written from the hub to a tool.
	DirectionPush = "push"
)

// Values of the result label of usmhub_runs_total.
const (
	resultSuccess = "success"
	resultError   = "error"
)

// Metrics is the daemon's Prometheus instrumentation, served on GET
// /metrics from a registry of its own (not the global one), so that two
// daemons in one process, or a daemon and tests, never share counters.
//
// The daemon records every job run (RecordRun); the sync engine records
// what a run did with AddRecords, AddErrors and AddConflicts. The label
// "task" is the job's name: the sync binding or report it runs (not
// "job", which Prometheus sets on every scrape target itself).
//
// The families:
//
//	usmhub_runs_total{task,result}                 counter: finished runs; result is success or error
//	usmhub_run_duration_seconds{task}              histogram: how long runs took
//	usmhub_records_total{task,direction}           counter: records synced; direction is pull or push
//	usmhub_errors_total{task}                      counter: record-level errors reported by the engine
//	usmhub_conflicts_total{task}                   counter: field conflicts resolved by authority
//	usmhub_last_success_timestamp_seconds{task}    gauge: Unix time the last successful run ended
//	usmhub_reloads_total{result}                  counter: configuration reloads; result is success or error
//
// plus the Go runtime and process collectors. A failed run counts in
// usmhub_runs_total{result="error"}, not in usmhub_errors_total.
//
// All methods are safe for concurrent use, and are no-ops on a nil
// *Metrics, so code shared with the CLI (which has no daemon) can call them
// unconditionally.
type Metrics struct {
	registry    *prometheus.Registry
	runs        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	records     *prometheus.CounterVec
	errors      *prometheus.CounterVec
	conflicts   *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	reloads     *prometheus.CounterVec
	authFails   *prometheus.CounterVec
	authRefused *prometheus.CounterVec
	limiter     *authlimit.Limiter
}

// NewMetrics returns Metrics on a new registry. Run creates one per daemon;
// call it yourself only to record outside a daemon (e.g. in tests).
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	f := promauto.With(reg)
	m := &Metrics{
		registry: reg,
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "usmhub_runs_total",
			Help: "Job runs that finished, by result (success or error).",
		}, []string{"task", "result"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "usmhub_run_duration_seconds",
			Help:    "How long job runs took.",
			Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"task"}),
		records: f.NewCounterVec(prometheus.CounterOpts{
			Name: "usmhub_records_total",
			Help: "Records synced, by direction (pull: tool to hub, push: hub to tool).",
		}, []string{"task", "direction"}),
		errors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "usmhub_errors_total",
			Help: "Record-level errors reported by sync runs (failed runs count in usmhub_runs_total{result=\"error\"}).",
		}, []string{"task"}),
		conflicts: f.NewCounterVec(prometheus.CounterOpts{
			Name: "usmhub_conflicts_total",
			Help: "Field conflicts (both sides changed a field) resolved by authority.",
		}, []string{"task"}),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "usmhub_last_success_timestamp_seconds",
			Help: "Unix time at which the last successful run of the job ended.",
		}, []string{"task"}),
		reloads: f.NewCounterVec(prometheus.CounterOpts{
			Name: "usmhub_reloads_total",
			Help: "Configuration reloads (SIGHUP), by result (success or error).",
		}, []string{"result"}),
		authFails: f.NewCounterVec(prometheus.CounterOpts{
			Name: "usmhub_http_auth_failures_total",
			Help: "Requests with a wrong token (or a wrong password at the login form), by endpoint.",
		}, []string{"endpoint"}),
		authRefused: f.NewCounterVec(prometheus.CounterOpts{
			Name: "usmhub_http_auth_limited_total",
			Help: "Requests refused (429) because their address sent too many wrong tokens, by endpoint.",
		}, []string{"endpoint"}),
	}
	m.limiter = authlimit.New(authlimit.DefaultMax, authlimit.DefaultWindow)
	m.limiter.OnFail = func(where string) { m.authFails.WithLabelValues(where).Inc() }
	m.limiter.OnRefuse = func(where string) { m.authRefused.WithLabelValues(where).Inc() }
	return m
}

// AuthLimiter is the daemon's limiter of wrong tokens per client address
// (10 a minute), whose counts these metrics show. It lives as long as the
// daemon, across reloads; the API and the dashboard share it. Nil on a nil
// *Metrics (no limit).
func (m *Metrics) AuthLimiter() *authlimit.Limiter {
	if m == nil {
		return nil
	}
	return m.limiter
}

// Registry returns the registry the metrics live on, to register more
// collectors or to gather them in tests.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.registry
}

// Handler returns the HTTP handler that serves the registry in the
// Prometheus exposition format; errors go to logger.
func (m *Metrics) Handler(logger hclog.Logger) http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog: logger.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}),
		Registry: m.registry,
	})
}

// RecordRun records one finished run of job that took d and returned err.
func (m *Metrics) RecordRun(job string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := resultSuccess
	if err != nil {
		result = resultError
	}
	m.runs.WithLabelValues(job, result).Inc()
	m.duration.WithLabelValues(job).Observe(d.Seconds())
	if err == nil {
		m.lastSuccess.WithLabelValues(job).SetToCurrentTime()
	}
}

// AddRecords counts n records of job synced in direction (DirectionPull or
// DirectionPush). n <= 0 records nothing.
func (m *Metrics) AddRecords(job, direction string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.records.WithLabelValues(job, direction).Add(float64(n))
}

// AddErrors counts n record-level errors of job (quarantined or failed
// records). n <= 0 records nothing.
func (m *Metrics) AddErrors(job string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.errors.WithLabelValues(job).Add(float64(n))
}

// AddConflicts counts n field conflicts of job. n <= 0 records nothing.
func (m *Metrics) AddConflicts(job string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.conflicts.WithLabelValues(job).Add(float64(n))
}

// recordReload counts one configuration reload.
func (m *Metrics) recordReload(err error) {
	result := resultSuccess
	if err != nil {
		result = resultError
	}
	m.reloads.WithLabelValues(result).Inc()
}

// track creates job's series at zero, so every family shows on /metrics
// (and rate() works) before the first run. The last-success gauge is left
// out: a zero timestamp would claim a success in 1970.
func (m *Metrics) track(job string) {
	m.runs.WithLabelValues(job, resultSuccess)
	m.runs.WithLabelValues(job, resultError)
	m.duration.WithLabelValues(job)
	m.records.WithLabelValues(job, DirectionPull)
	m.records.WithLabelValues(job, DirectionPush)
	m.errors.WithLabelValues(job)
	m.conflicts.WithLabelValues(job)
}

// forget deletes every series of a job that is no longer configured.
func (m *Metrics) forget(job string) {
	l := prometheus.Labels{"task": job}
	m.runs.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.records.DeletePartialMatch(l)
	m.errors.DeletePartialMatch(l)
	m.conflicts.DeletePartialMatch(l)
	m.lastSuccess.DeletePartialMatch(l)
}
