package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	sdnotify "github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/daemon"
	"github.com/usmhub/usmhub/core/dashboard"
	"github.com/usmhub/usmhub/core/readiness"
	"github.com/usmhub/usmhub/core/reconcile"
	"github.com/usmhub/usmhub/core/report"
	"github.com/usmhub/usmhub/core/schedule"
	"github.com/usmhub/usmhub/core/store"
)

type serveCmd struct{}

func (serveCmd) Synopsis() string {
	return "Run the hub daemon: syncs and reports on their schedules, HTTP health, metrics and triggers"
}

func (serveCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("serve", "serve [-listen ADDR]")
	listen := fs.String("listen", "", "override hub.listen (host:port)")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	e.hubSecrets = true
	cfg, err := untilDone(ctx, e.config)
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(e.stderr, "usmhub: stopped while loading the configuration")
		return exitOK
	}
	if err != nil {
		return e.fail(err)
	}
	e.serving = true
	log := e.logger()
	log.Info("starting", "version", version, "config", cfg.Path, "data_dir", cfg.Hub.DataDir)
	path := e.configPath()
	var loads atomic.Int64
	// Every load, the first included, checks all that the runtime will
	// run: the config (config.Load) and every connector block against its
	// plugin (runtimeFor). The daemon does not wait for a load at a stop.
	load := func(ctx context.Context, m *daemon.Metrics) (*daemon.Runtime, error) {
		c := cfg
		if loads.Add(1) > 1 {
			var err error
			if c, err = config.Load(path); err != nil {
				return nil, err
			}
		}
		if *listen != "" {
			c.Hub.Listen = *listen
		}
		return runtimeFor(ctx, c, log, m)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := daemon.Run(ctx, log, load, daemon.Options{Signals: hup, Jitter: 2 * time.Second, RunOnStart: true,
		Notify: func(state string) { notifyServiceManager(log, state) }}); err != nil {
		return e.fail(err)
	}
	return exitOK
}

// notifyServiceManager tells systemd (Type=notify, $NOTIFY_SOCKET) the
// daemon's state; outside systemd it does nothing.
func notifyServiceManager(log hclog.Logger, state string) {
	if _, err := sdnotify.SdNotify(false, state); err != nil {
		log.Warn("could not notify the service manager", "state", state, "error", err)
	}
}

// untilDone calls f in its own goroutine and returns its result, or ctx's
// error as soon as ctx is done. config.Load cannot be interrupted (file()
// of a FIFO blocks in open), and SIGTERM must still stop serve; an
// abandoned call ends with the process.
func untilDone[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// runtimeFor builds the daemon's jobs from a config: one per sync block and
// one per report block, on their schedules (on demand when they have none).
// It first launches and configures every connector (configureAll), so that
// a connector block its plugin refuses fails the load, not a later run.
func runtimeFor(ctx context.Context, cfg *config.Config, log hclog.Logger, m *daemon.Metrics) (*daemon.Runtime, error) {
	cs, err := newConnectorSet(cfg, log)
	if err != nil {
		return nil, err
	}
	if err := cs.configureAll(ctx); err != nil {
		cs.close()
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabasePath())
	if err != nil {
		cs.close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	engine := &reconcile.Engine{Store: st, Log: log.Named("sync"), Metrics: m}
	pages, err := dashboard.New(dashboard.Options{Config: cfg, Store: st, Listen: cfg.Hub.Listen, Limiter: m.AuthLimiter(),
		ReadToken: cfg.Hub.ReadToken.Reveal(), Log: log.Named("dashboard")})
	if err != nil {
		cs.close()
		_ = st.Close()
		return nil, err
	}
	rt := &daemon.Runtime{Listen: cfg.Hub.Listen, APIToken: cfg.Hub.APIToken.Reveal(), Pages: pages,
		Close: func() { cs.close(); _ = st.Close() }}
	if cfg.Hub.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Hub.TLSCert, cfg.Hub.TLSKey)
		if err != nil {
			rt.Close()
			return nil, fmt.Errorf("hub.tls_cert, hub.tls_key: %w", err)
		}
		rt.TLS = &cert
	}
	for _, s := range cfg.Syncs {
		b := bindingOf(cfg, s)
		rt.Jobs = append(rt.Jobs, schedule.Job{Name: s.Name, Spec: s.Schedule, Run: func(ctx context.Context) error {
			conn, err := cs.get(ctx, s.Connector)
			if err != nil {
				return err
			}
			b := b
			b.Fingerprint = cs.fingerprint(s.Connector)
			res, err := engine.Run(ctx, b, conn, reconcile.Options{RunID: schedule.RunID(ctx)})
			if err != nil {
				if errors.Is(err, reconcile.ErrBusy) {
					log.Info("skipped: another run holds the binding", "sync", s.Name)
					return nil
				}
				// An incomplete run (records failed or waiting) is an error
				// of the job too: /healthz and usmhub_errors_total show it.
				return errors.New(cs.scrub(err.Error()))
			}
			c := res.Counts
			log.Info("synced", "sync", s.Name, "run", res.RunID, "pulled", c.Pulled, "hub_creates", c.HubCreates,
				"hub_updates", c.HubUpdates, "push_creates", c.PushCreates, "push_updates", c.PushUpdates,
				"conflicts", c.Conflicts, "quarantined", c.Quarantined, "duration", res.Duration)
			return nil
		}})
	}
	for _, r := range cfg.Reports {
		rt.Jobs = append(rt.Jobs, schedule.Job{Name: "report." + r.Name, Spec: r.Schedule, Run: func(ctx context.Context) error {
			var health []readiness.ConnectorHealth
			if r.Kind == report.KindReadiness {
				for _, c := range cfg.Connectors {
					health = append(health, cs.health(ctx, c.ID(), false))
				}
			}
			rep, err := makeReport(ctx, cfg, st, r.Kind, r.Initiative, report.Options{}, health)
			if err != nil {
				return fmt.Errorf("report %s: %w", r.Name, err)
			}
			var errs []error
			for _, target := range r.PublishTo {
				conn, err := cs.get(ctx, target)
				if err == nil {
					pub, perr := conn.Publish(ctx, rep.SDK())
					if perr == nil {
						log.Info("report published", "report", r.Name, "key", rep.Key, "to", target, "url", pub.URL, "created", pub.Created)
						if err := readiness.RecordPublished(ctx, st, store.Actor{Name: "report:" + r.Name}, rep.Initiative, rep.Key, target, pub.URL, pub.Created); err != nil {
							errs = append(errs, err)
						}
						continue
					}
					err = perr
				}
				errs = append(errs, fmt.Errorf("publish %s to %s: %s", rep.Key, target, cs.scrub(err.Error())))
			}
			return errors.Join(errs...)
		}})
	}
	return rt, nil
}
