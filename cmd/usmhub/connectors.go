package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/readiness"
	"github.com/usmhub/usmhub/plugins/host"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// connectorSet launches the config's connectors on first use, decodes each
// one's block against the schema its plugin describes, and configures it.
type connectorSet struct {
	cfg  *config.Config
	host *host.Host
	log  hclog.Logger

	mu        sync.Mutex
	instances map[string]*host.Instance
	secrets   []string
	// fingerprints identify each launched connector's configuration,
	// secrets included (a sha256, never the values).
	fingerprints map[string]string
}

func newConnectorSet(cfg *config.Config, log hclog.Logger) (*connectorSet, error) {
	h, err := host.New(withPins(cfg, host.Options{Dirs: host.DefaultDirs(cfg.Hub.PluginDir), Logger: log, WorkDir: cfg.Dir,
		Env: []string{sdk.EnvStateDir + "=" + filepath.Join(cfg.Hub.DataDir, "connectors")}})) // no HOME: the connectors' caches live with the data
	if err != nil {
		return nil, fmt.Errorf("plugin host: %w", err)
	}
	return &connectorSet{cfg: cfg, host: h, log: log, instances: map[string]*host.Instance{}, fingerprints: map[string]string{}}, nil
}

// get returns the configured connector with that id ("type.name"),
// launching and configuring it on first use. Config mistakes come back as
// *config.DiagError pointing into the connector's block.
func (s *connectorSet) get(ctx context.Context, id string) (*host.Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inst, ok := s.instances[id]; ok {
		return inst, nil
	}
	c := s.cfg.Connector(id)
	if c == nil {
		return nil, fmt.Errorf("no connector %q in %s", id, s.cfg.Path)
	}
	inst, err := s.host.Launch(ctx, c.Type, c.Name, c.PluginSHA256)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Range, err)
	}
	desc, err := inst.Describe(ctx)
	if err != nil {
		_ = inst.Close()
		return nil, fmt.Errorf("connector %s: describe: %w", id, err)
	}
	evalCtx, fv := config.RecordingEvalContext(s.cfg.Dir)
	sc, diags := host.DecodeConfig(c.Body, desc.Schema, evalCtx)
	if diags.HasErrors() {
		_ = inst.Close()
		return nil, &config.DiagError{Diags: host.ScrubDiagnostics(diags, fv.Values())}
	}
	// What env() and file() gave is never shown, secret attribute or not.
	secrets := append(host.SensitiveValues(desc.Schema, sc), fv.Values()...)
	inst.Hide(fv.Values())
	if err := inst.Configure(ctx, sc); err != nil {
		_ = inst.Close()
		hide := secrets
		var ce *connector.ConfigError
		if errors.As(err, &ce) {
			return nil, &config.DiagError{Diags: host.ScrubDiagnostics(host.ConfigureDiagnostics(err, c.Body), hide)}
		}
		return nil, fmt.Errorf("connector %s: configure: %s", id, host.Scrub(err.Error(), hide))
	}
	s.secrets = append(s.secrets, secrets...)
	s.instances[id] = inst
	sum := sha256.Sum256(append([]byte(c.PluginSHA256+"\x00"), sc.JSON()...))
	s.fingerprints[id] = hex.EncodeToString(sum[:])
	return inst, nil
}

// fingerprint identifies a launched connector's configuration, secrets
// included: a binding paused by a permanent failure tries again as soon as
// it changes (the key was fixed). Empty before the connector is launched.
func (s *connectorSet) fingerprint(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fingerprints[id]
}

// configureAll launches every connector of the config, decodes its block
// against the schema its plugin describes and configures it — the path
// get takes, and what validate -offline checks — without reaching the
// tools. The daemon runs it on every load, so that a config whose
// connector blocks do not fit their plugins is refused before any of it
// runs. Every connector's problems come back in one *config.DiagError.
func (s *connectorSet) configureAll(ctx context.Context) error {
	var diags hcl.Diagnostics
	for _, c := range s.cfg.Connectors {
		_, err := s.get(ctx, c.ID())
		var de *config.DiagError
		switch {
		case err == nil:
		case errors.As(err, &de):
			diags = append(diags, de.Diags...)
		default: // the plugin did not start, describe itself or answer
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Connector %s is not usable", c.ID()),
				Detail:   strings.TrimPrefix(err.Error(), c.Range.String()+": ") + "; see usmhub plugins list.",
				Subject:  c.Range.Ptr(),
			})
		}
	}
	if len(diags) > 0 {
		return &config.DiagError{Diags: diags}
	}
	return nil
}

// scrub removes the values of sensitive attributes from s.
func (s *connectorSet) scrub(msg string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return host.Scrub(msg, s.secrets)
}

func (s *connectorSet) close() {
	_ = s.host.Close()
}

// connectors returns the command's connector set, created on first use.
func (e *env) connectors() (*connectorSet, error) {
	if e.conns != nil {
		return e.conns, nil
	}
	cfg, err := e.config()
	if err != nil {
		return nil, err
	}
	cs, err := newConnectorSet(cfg, e.logger())
	if err != nil {
		return nil, err
	}
	e.conns = cs
	return cs, nil
}

// connectorHealth launches every configured connector and runs Configure,
// then Check unless offline, reporting each one's health. Offline, the
// connectors are still launched and configured: a config mistake is found
// without reaching the tool.
func connectorHealth(ctx context.Context, e *env, cfg *config.Config, offline bool) []readiness.ConnectorHealth {
	out := make([]readiness.ConnectorHealth, 0, len(cfg.Connectors))
	if len(cfg.Connectors) == 0 {
		return out
	}
	cs, err := e.connectors()
	if err != nil {
		for _, c := range cfg.Connectors {
			out = append(out, readiness.ConnectorHealth{ID: c.ID(), Checked: true, Err: err})
		}
		return out
	}
	for _, c := range cfg.Connectors {
		out = append(out, cs.health(ctx, c.ID(), offline))
	}
	return out
}

// health launches (or reuses) connector id and runs Check unless offline.
// A connector that cannot check its remote (Check answers ErrUnsupported)
// is reported as not checked, never as healthy.
func (cs *connectorSet) health(ctx context.Context, id string, offline bool) readiness.ConnectorHealth {
	h := readiness.ConnectorHealth{ID: id, Checked: true}
	inst, err := cs.get(ctx, id)
	switch {
	case err != nil:
		h.Err = err
	case offline:
		h.Checked = false
	default:
		err := inst.Check(ctx)
		switch {
		case errors.Is(err, connector.ErrUnsupported):
			h.Checked = false
		case err != nil:
			h.Err = errors.New(cs.scrub(err.Error()))
		}
	}
	return h
}

// logger is the command's hclog logger, on stderr, at the config's level
// and format ($USMHUB_LOG_LEVEL overrides the level).
func (e *env) logger() hclog.Logger {
	if e.log != nil {
		return e.log
	}
	level, format := "warn", "text"
	if e.cfg != nil {
		level, format = e.cfg.Hub.LogLevel, e.cfg.Hub.LogFormat
		if e.serving {
			level = e.cfg.Hub.LogLevel
		} else if hclog.LevelFromString(level) < hclog.Warn {
			level = "warn" // commands print results; only the daemon chats
		}
	}
	if v := os.Getenv("USMHUB_LOG_LEVEL"); v != "" {
		level = v
	}
	e.log = hclog.New(&hclog.LoggerOptions{
		Name:       "usmhub",
		Level:      hclog.LevelFromString(level),
		Output:     e.stderr,
		JSONFormat: format == "json",
	})
	return e.log
}

// pluginsCmd lists and describes connector plugins.
func pluginsCommands() map[string]command {
	return map[string]command{"list": pluginsListCmd{}, "describe": pluginsDescribeCmd{}, "lock": pluginsLockCmd{}}
}

// withPins adds the config's plugin pins to host options: the lock file
// beside the config, verified at every launch, and
// hub.require_plugin_pins. A nil cfg (no config) adds nothing.
func withPins(cfg *config.Config, o host.Options) host.Options {
	if cfg == nil || cfg.Lock == nil {
		return o
	}
	o.Lock, o.LockFile, o.RequirePins = cfg.Lock.Digests, cfg.Lock.Path, cfg.Hub.RequirePluginPins
	return o
}

type pluginsLockCmd struct{}

func (pluginsLockCmd) Synopsis() string {
	return "Record the sha256 of each connector binary the config uses in " + config.LockFileName
}

func (pluginsLockCmd) Run(_ context.Context, e *env, args []string) int {
	fs := e.newFlags("plugins lock", "plugins lock")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	dirs := host.DefaultDirs(cfg.Hub.PluginDir)
	found, err := host.Discover(dirs...)
	if err != nil {
		return e.fail(fmt.Errorf("find plugins: %w", err))
	}
	byType := map[string]host.Binary{}
	for _, b := range found {
		byType[b.Type] = b
	}
	digests := map[string]string{}
	var problems []string
	for _, c := range cfg.Connectors {
		b, ok := byType[c.Type]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: connector %s: no plugin binary %s%s in %s: build or install it, or set hub.plugin_dir",
				c.Range, c.ID(), host.BinaryPrefix, c.Type, strings.Join(dirs, ", ")))
		case c.PluginSHA256 != "" && c.PluginSHA256 != b.SHA256:
			problems = append(problems, fmt.Sprintf("%s: connector %s: plugin_sha256 pins sha256:%s, but %s has sha256:%s: install the pinned binary, or change the pin",
				c.Range, c.ID(), c.PluginSHA256, b.Path, b.SHA256))
		default:
			digests[c.Type] = b.SHA256
		}
	}
	if len(problems) > 0 {
		return e.fail(fmt.Errorf("nothing locked:\n%s", strings.Join(problems, "\n")))
	}
	if err := config.WriteLock(cfg.Lock.Path, digests); err != nil {
		return e.fail(err)
	}
	tw := e.table()
	fmt.Fprintln(tw, "TYPE\tSHA256\tPATH\tWAS")
	types := make([]string, 0, len(digests))
	for t := range digests {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		was := cfg.Lock.Digests[t]
		switch was {
		case "":
			was = "(new)"
		case digests[t]:
			was = "(same)"
		default:
			was = "sha256:" + was
		}
		fmt.Fprintf(tw, "%s\tsha256:%s\t%s\t%s\n", t, digests[t], byType[t].Path, was)
	}
	_ = tw.Flush()
	fmt.Fprintf(e.stdout, "wrote %s\n", cfg.Lock.Path)
	return exitOK
}

type pluginsListCmd struct{}

func (pluginsListCmd) Synopsis() string { return "List the connector plugins found" }

// pluginInfo is one connector binary in `plugins list`: what discovery
// found on disk, never what the binary says of itself (listing runs
// nothing; `plugins describe TYPE` launches one).
type pluginInfo struct {
	Type   string `json:"type"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

func (pluginsListCmd) Run(_ context.Context, e *env, args []string) int {
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
	infos := []pluginInfo{}
	for _, b := range found {
		infos = append(infos, pluginInfo{Type: b.Type, Path: b.Path, SHA256: b.SHA256})
	}
	if *asJSON {
		return e.printJSON(infos)
	}
	tw := e.table()
	fmt.Fprintln(tw, "TYPE\tSHA256\tPATH")
	for _, p := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Type, p.SHA256, p.Path)
	}
	_ = tw.Flush()
	if len(infos) == 0 {
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

type pluginsDescribeCmd struct{}

func (pluginsDescribeCmd) Synopsis() string { return "Show a connector plugin's config schema" }

func (pluginsDescribeCmd) Run(ctx context.Context, e *env, args []string) int {
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
	h, err := host.New(withPins(cfg, host.Options{Dirs: pluginDirs(e), Logger: e.logger()}))
	if err != nil {
		return e.fail(err)
	}
	defer h.Close()
	inst, err := h.Launch(ctx, pos[0], "describe", "")
	if err != nil {
		return e.fail(err)
	}
	d, err := inst.Describe(ctx)
	if err != nil {
		return e.fail(fmt.Errorf("describe %s: %w", pos[0], err))
	}
	if *asJSON {
		return e.printJSON(describeJSON(d))
	}
	printDescription(e, d)
	return exitOK
}

// describedPlugin is plugins describe -json's shape.
type describedPlugin struct {
	Name             string                `json:"name"`
	Version          string                `json:"version"`
	ProtocolVersion  int                   `json:"protocol_version"`
	Capabilities     []describedCapability `json:"capabilities"`
	PublishesReports bool                  `json:"publishes_reports"`
	ReadsVotes       bool                  `json:"reads_votes"`
	SearchLagSeconds float64               `json:"search_lag_seconds"`
	Attributes       []describedAttribute  `json:"attributes"`
}

type describedCapability struct {
	Kind   string `json:"kind"`
	Pull   bool   `json:"pull"`
	Push   bool   `json:"push"`
	Delete bool   `json:"delete"`
}

type describedAttribute struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required"`
	Sensitive   bool   `json:"sensitive"`
	Description string `json:"description"`
}

func describeJSON(d connector.Description) describedPlugin {
	out := describedPlugin{Name: d.Name, Version: d.Version, ProtocolVersion: d.ProtocolVersion,
		PublishesReports: d.PublishesReports, ReadsVotes: d.ReadsVotes, SearchLagSeconds: d.SearchLag.Seconds(),
		Capabilities: []describedCapability{}, Attributes: []describedAttribute{}}
	for _, c := range d.Capabilities {
		out.Capabilities = append(out.Capabilities, describedCapability{Kind: string(c.Kind), Pull: c.Pull, Push: c.Push, Delete: c.Delete})
	}
	for _, a := range d.Schema.Attributes {
		out.Attributes = append(out.Attributes, describedAttribute{Name: a.Name, Type: string(a.Type), Required: a.Required,
			Sensitive: a.Sensitive, Description: a.Description})
	}
	return out
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
	tw := e.table()
	fmt.Fprintln(tw, "  KIND\tPULL\tPUSH\tDELETE")
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
	tw = e.table()
	fmt.Fprintln(tw, "  NAME\tTYPE\tREQUIRED\tSENSITIVE\tDESCRIPTION")
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
	fmt.Fprintf(e.stdout, "\nTo start from:\n  connector %q \"NAME\" {\n", d.Name)
	for _, a := range d.Schema.Attributes {
		if !a.Required {
			continue
		}
		val := `"…"`
		switch {
		case a.Sensitive:
			val = `env("…")`
		case a.Type == connector.TypeNumber:
			val = "0"
		case a.Type == connector.TypeBool:
			val = "false"
		case a.Type == connector.TypeListString:
			val = `["…"]`
		case a.Type == connector.TypeMapString:
			val = "{}"
		}
		fmt.Fprintf(e.stdout, "    %s = %s\n", a.Name, val)
	}
	fmt.Fprintln(e.stdout, "  }")
}
