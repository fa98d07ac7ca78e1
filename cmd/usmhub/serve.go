package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	sdnotify "github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/app"
	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/daemon"
	"github.com/usmhub/usmhub/plugins/host"
)

func runServe(ctx context.Context, e *env, args []string) int {
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
	load := app.Loads(cfg, e.configPath(), *listen, log, func(c *config.Config) (app.Connectors, error) { return host.NewSet(c, log) })
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
