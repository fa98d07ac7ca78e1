package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// Set is the connectors of one loaded config, each launched on first use:
// its block decoded against the schema its plugin describes, then
// configured. It is what the hub's core (core/app.Connectors) asks for
// connectors by id, and it scrubs every secret it handed a connector from
// the messages that come back.
type Set struct {
	cfg  *config.Config
	host *Host

	mu        sync.Mutex
	instances map[string]*Instance
	secrets   []string
	// fingerprints identify each launched connector's configuration,
	// secrets included (a sha256, never the values).
	fingerprints map[string]string
}

// NewSet makes the connector set of cfg: plugins are looked for in
// hub.plugin_dir and beside the hub's binary, checked against the config's
// pins, and given the data dir's connectors folder as their state dir (no
// HOME: the connectors' caches live with the data).
func NewSet(cfg *config.Config, log hclog.Logger) (*Set, error) {
	h, err := New(WithPins(cfg, Options{Dirs: DefaultDirs(cfg.Hub.PluginDir), Logger: log, WorkDir: cfg.Dir,
		Env: []string{sdk.EnvStateDir + "=" + filepath.Join(cfg.Hub.DataDir, "connectors")}}))
	if err != nil {
		return nil, fmt.Errorf("plugin host: %w", err)
	}
	return &Set{cfg: cfg, host: h, instances: map[string]*Instance{}, fingerprints: map[string]string{}}, nil
}

// WithPins adds the config's plugin pins to host options: the lock file
// beside the config, verified at every launch, and
// hub.require_plugin_pins. A nil cfg (no config) adds nothing.
func WithPins(cfg *config.Config, o Options) Options {
	if cfg == nil || cfg.Lock == nil {
		return o
	}
	o.Lock, o.LockFile, o.RequirePins = cfg.Lock.Digests, cfg.Lock.Path, cfg.Hub.RequirePluginPins
	return o
}

// Get returns the configured connector with that id ("type.name"),
// launching and configuring it on first use. Config mistakes come back as
// *config.DiagError pointing into the connector's block, with the values
// of env(), file() and sensitive attributes scrubbed.
func (s *Set) Get(ctx context.Context, id string) (connector.Connector, error) {
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
	sc, diags := DecodeConfig(c.Body, desc.Schema, evalCtx)
	if diags.HasErrors() {
		_ = inst.Close()
		return nil, &config.DiagError{Diags: ScrubDiagnostics(diags, fv.Values())}
	}
	// What env() and file() gave is never shown, secret attribute or not.
	secrets := append(SensitiveValues(desc.Schema, sc), fv.Values()...)
	inst.Hide(fv.Values())
	if err := inst.Configure(ctx, sc); err != nil {
		_ = inst.Close()
		var ce *connector.ConfigError
		if errors.As(err, &ce) {
			return nil, &config.DiagError{Diags: ScrubDiagnostics(ConfigureDiagnostics(err, c.Body), secrets)}
		}
		return nil, fmt.Errorf("connector %s: configure: %s", id, Scrub(err.Error(), secrets))
	}
	s.secrets = append(s.secrets, secrets...)
	s.instances[id] = inst
	sum := sha256.Sum256(append([]byte(c.PluginSHA256+"\x00"), sc.JSON()...))
	s.fingerprints[id] = hex.EncodeToString(sum[:])
	return inst, nil
}

// Fingerprint identifies a launched connector's configuration, secrets
// included: a binding paused by a permanent failure tries again as soon as
// it changes (the key was fixed). Empty before the connector is launched.
func (s *Set) Fingerprint(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fingerprints[id]
}

// Scrub removes from msg the values of sensitive attributes and of env()
// and file() of every connector launched so far.
func (s *Set) Scrub(msg string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Scrub(msg, s.secrets)
}

// Problem returns an error of connector id as the hub shows it: every
// secret scrubbed, and a *connector.ConfigError (Check found a bad value,
// such as a dir that does not exist) as a *config.DiagError pointing at the
// attribute in the connector's block, as Configure's are.
func (s *Set) Problem(id string, err error) error {
	s.mu.Lock()
	secrets := s.secrets
	s.mu.Unlock()
	var ce *connector.ConfigError
	if c := s.cfg.Connector(id); c != nil && errors.As(err, &ce) {
		return &config.DiagError{Diags: ScrubDiagnostics(ConfigureDiagnostics(err, c.Body), secrets)}
	}
	return errors.New(Scrub(err.Error(), secrets))
}

// Close stops every plugin the set launched.
func (s *Set) Close() {
	_ = s.host.Close()
}
