package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/app"
	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/readiness"
	"github.com/usmhub/usmhub/plugins/host"
)

// connectors returns the command's connector set, created on first use.
func (e *env) connectors() (*host.Set, error) {
	if e.conns != nil {
		return e.conns, nil
	}
	cfg, err := e.config()
	if err != nil {
		return nil, err
	}
	cs, err := host.NewSet(cfg, e.logger())
	if err != nil {
		return nil, err
	}
	e.conns = cs
	return cs, nil
}

// connectorHealth checks every configured connector (app.CheckConnectors):
// Configure, then Check unless offline.
func connectorHealth(ctx context.Context, e *env, cfg *config.Config, offline bool) []readiness.ConnectorHealth {
	return app.CheckConnectors(ctx, cfg, func() (app.Connectors, error) { return e.connectors() }, offline)
}

// logger is the command's hclog logger on stderr (app.Logger), made once:
// before the config is loaded it has the defaults.
func (e *env) logger() hclog.Logger {
	if e.log == nil {
		e.log = app.Logger(e.stderr, e.cfg, e.serving, os.Getenv("USMHUB_LOG_LEVEL"))
	}
	return e.log
}

// pluginsCmd lists and describes connector plugins.
func pluginsCommands() map[string]command {
	return map[string]command{"list": leaf{"List the connector plugins found", runPluginsList}, "describe": leaf{"Show a connector plugin's config schema", runPluginsDescribe}, "lock": leaf{"Record the sha256 of each connector binary the config uses in " + config.LockFileName, runPluginsLock}}
}

func runPluginsLock(_ context.Context, e *env, args []string) int {
	fs := e.newFlags("plugins lock", "plugins lock")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	locked, err := host.LockConfig(cfg)
	if err != nil {
		return e.fail(err)
	}
	tw := e.table("TYPE\tSHA256\tPATH\tWAS")
	for _, l := range locked {
		was := l.Was
		switch was {
		case "":
			was = "(new)"
		case l.SHA256:
			was = "(same)"
		default:
			was = "sha256:" + was
		}
		fmt.Fprintf(tw, "%s\tsha256:%s\t%s\t%s\n", l.Type, l.SHA256, l.Path, was)
	}
	_ = tw.Flush()
	fmt.Fprintf(e.stdout, "wrote %s\n", cfg.Lock.Path)
	return exitOK
}

func runPluginsList(_ context.Context, e *env, args []string) int {
	fs := e.newFlags("plugins list", "plugins list [-json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	dirs := pluginDirs(e)
	found, err := host.Discover(dirs...)
	if err != nil {
		return e.fail(fmt.Errorf("find plugins: %w", err))
	}
	if *asJSON {
		return e.printJSON(found)
	}
	tw := e.table("TYPE\tSHA256\tPATH")
	for _, p := range found {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Type, p.SHA256, p.Path)
	}
	_ = tw.Flush()
	if len(found) == 0 {
		fmt.Fprintf(e.stderr, "no connector plugins found in %s: build them with 'make build' (into bin/, next to usmhub) or set hub.plugin_dir\n", strings.Join(dirs, ", "))
	}
	return exitOK
}

// pluginDirs is where plugins are looked for, in this order: the config's
// hub.plugin_dir when a config exists and sets it, then the usmhub
// binary's own folder.
func pluginDirs(e *env) []string {
	dir := ""
	if cfg, err := e.config(); err == nil {
		dir = cfg.Hub.PluginDir
	}
	return host.DefaultDirs(dir)
}

func runPluginsDescribe(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("plugins describe", "plugins describe TYPE [-json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one connector type, e.g. usmhub plugins describe file")
	}
	// Describing needs no config, but one there brings its pins.
	cfg, err := e.config()
	if _, serr := os.Stat(e.configPath()); err != nil && serr == nil {
		return e.fail(err)
	}
	d, err := host.DescribeType(ctx, host.WithPins(cfg, host.Options{Dirs: pluginDirs(e), Logger: e.logger()}), pos[0])
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(host.DescribedOf(d))
	}
	printDescription(e, d)
	return exitOK
}

// printDescription prints a connector's description as tables: what it
// can do per kind, then its config attributes, then a config block to
// start from.
func printDescription(e *env, d connector.Description) {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "-"
	}
	fmt.Fprintf(e.stdout, "%s %s (protocol %d)\n\nCapabilities:\n", d.Name, d.Version, d.ProtocolVersion)
	tw := e.table("  KIND\tPULL\tPUSH\tDELETE")
	for _, c := range d.Capabilities {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Kind, yes(c.Pull), yes(c.Push), yes(c.Delete))
	}
	_ = tw.Flush()
	var also []string
	if d.PublishesReports {
		also = append(also, "publishes reports")
	}
	if d.ReadsVotes {
		also = append(also, "reads votes")
	}
	if d.SearchLag > 0 {
		also = append(also, fmt.Sprintf("its search lags up to %s behind a create", d.SearchLag))
	}
	if len(also) > 0 {
		fmt.Fprintf(e.stdout, "  also: %s\n", strings.Join(also, "; "))
	}
	fmt.Fprintf(e.stdout, "\nAttributes:\n")
	tw = e.table("  NAME\tTYPE\tREQUIRED\tSENSITIVE\tDESCRIPTION")
	sensitive := false
	for _, a := range d.Schema.Attributes {
		sensitive = sensitive || a.Sensitive
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", a.Name, a.Type, yes(a.Required), yes(a.Sensitive), a.Description)
	}
	fmt.Fprintf(tw, "  plugin_sha256\tstring\t-\t-\tpins the plugin binary's SHA-256 digest (plugins list shows it)\n")
	_ = tw.Flush()
	if sensitive {
		fmt.Fprintln(e.stdout, "  a sensitive attribute takes its value from env(\"VAR\") or file(\"PATH\"), never written in the config")
	}
	fmt.Fprintf(e.stdout, "\nTo start from:\n")
	for _, l := range strings.SplitAfter(strings.TrimSuffix(host.StarterBlock(d), "\n"), "\n") {
		fmt.Fprint(e.stdout, "  "+l)
	}
	fmt.Fprintln(e.stdout)
}
