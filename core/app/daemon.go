package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"

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

// Loads is the daemon's load (daemon.Loader) of the config at path: the
// first load runs on cfg, loaded at start; each later one (a SIGHUP)
// loads path again. listen, when set, overrides hub.listen. Every load,
// the first included, checks all the runtime will run (Runtime): a config
// whose connector blocks do not fit their plugins is refused.
func Loads(cfg *config.Config, path, listen string, log hclog.Logger, open func(*config.Config) (Connectors, error)) daemon.Loader {
	var loads atomic.Int64
	return func(ctx context.Context, m *daemon.Metrics) (*daemon.Runtime, error) {
		c := cfg
		if loads.Add(1) > 1 {
			var err error
			if c, err = config.Load(path); err != nil {
				return nil, err
			}
		}
		if listen != "" {
			c.Hub.Listen = listen
		}
		return Runtime(ctx, c, log, m, open)
	}
}

// Runtime builds the daemon's runtime from a config: one job per sync
// block and one per report block, on their schedules (on demand when they
// have none), the dashboard's pages, the listener and its TLS key pair. It
// first launches and configures every connector of the set open makes
// (ConfigureAll), so that a connector block its plugin refuses fails the
// load, not a later run. The runtime's Close stops the connectors and
// closes the store it opened.
func Runtime(ctx context.Context, cfg *config.Config, log hclog.Logger, m *daemon.Metrics, open func(*config.Config) (Connectors, error)) (*daemon.Runtime, error) {
	cs, err := open(cfg)
	if err != nil {
		return nil, err
	}
	if err := ConfigureAll(ctx, cfg, cs); err != nil {
		cs.Close()
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabasePath())
	if err != nil {
		cs.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	pages, err := dashboard.New(dashboard.Options{Config: cfg, Store: st, Listen: cfg.Hub.Listen, Limiter: m.AuthLimiter(),
		ReadToken: cfg.Hub.ReadToken.Reveal(), Log: log.Named("dashboard")})
	if err != nil {
		cs.Close()
		_ = st.Close()
		return nil, err
	}
	rt := &daemon.Runtime{Listen: cfg.Hub.Listen, APIToken: cfg.Hub.APIToken.Reveal(), Pages: pages,
		Close: func() { cs.Close(); _ = st.Close() }}
	if cfg.Hub.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Hub.TLSCert, cfg.Hub.TLSKey)
		if err != nil {
			rt.Close()
			return nil, fmt.Errorf("hub.tls_cert, hub.tls_key: %w", err)
		}
		rt.TLS = &cert
	}
	engine := &reconcile.Engine{Store: st, Log: log.Named("sync"), Metrics: m}
	for _, s := range cfg.Syncs {
		rt.Jobs = append(rt.Jobs, syncJob(cfg, s, cs, engine, log))
	}
	for _, r := range cfg.Reports {
		rt.Jobs = append(rt.Jobs, reportJob(cfg, r, cs, st, log))
	}
	return rt, nil
}

// syncJob runs one sync block on its schedule.
func syncJob(cfg *config.Config, s *config.Sync, cs Connectors, engine *reconcile.Engine, log hclog.Logger) schedule.Job {
	b := BindingOf(cfg, s)
	return schedule.Job{Name: s.Name, Spec: s.Schedule, Run: func(ctx context.Context) error {
		conn, err := cs.Get(ctx, s.Connector)
		if err != nil {
			return err
		}
		b := b
		b.Fingerprint = cs.Fingerprint(s.Connector)
		res, err := engine.Run(ctx, b, conn, reconcile.Options{RunID: schedule.RunID(ctx)})
		if err != nil {
			if errors.Is(err, reconcile.ErrBusy) {
				log.Info("skipped: another run holds the binding", "sync", s.Name)
				return nil
			}
			// An incomplete run (records failed or waiting) is an error of
			// the job too: /healthz and usmhub_errors_total show it.
			return errors.New(cs.Scrub(err.Error()))
		}
		c := res.Counts
		log.Info("synced", "sync", s.Name, "run", res.RunID, "pulled", c.Pulled, "hub_creates", c.HubCreates,
			"hub_updates", c.HubUpdates, "push_creates", c.PushCreates, "push_updates", c.PushUpdates,
			"conflicts", c.Conflicts, "quarantined", c.Quarantined, "duration", res.Duration)
		return nil
	}}
}

// reportJob builds one report block's report on its schedule and
// publishes it to each of its targets.
func reportJob(cfg *config.Config, r *config.Report, cs Connectors, st store.Store, log hclog.Logger) schedule.Job {
	return schedule.Job{Name: "report." + r.Name, Spec: r.Schedule, Run: func(ctx context.Context) error {
		health := func() []readiness.ConnectorHealth {
			var out []readiness.ConnectorHealth
			for _, c := range cfg.Connectors {
				out = append(out, Health(ctx, cs, c.ID(), false))
			}
			return out
		}
		rep, err := MakeReport(ctx, cfg, st, r.Kind, r.Initiative, report.Options{}, health)
		if err != nil {
			return fmt.Errorf("report %s: %w", r.Name, err)
		}
		var errs []error
		for _, target := range r.PublishTo {
			res := Publish(ctx, st, cs, store.Actor{Name: "report:" + r.Name}, rep, target)
			if res.sent {
				log.Info("report published", "report", r.Name, "key", rep.Key, "to", target, "url", res.URL, "created", res.Created)
			}
			if res.failure != nil {
				errs = append(errs, res.failure)
			}
		}
		return errors.Join(errs...)
	}}
}
