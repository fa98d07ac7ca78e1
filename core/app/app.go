// Package app composes the hub's work that spans the store, the
// reconciler, reports and the tools: running or planning the syncs of a
// config (RunSyncs, with what a plan leaves pending and a run's errors),
// checking the config and its connectors (Validate, CheckConnectors,
// ConfigureAll), readiness, sprints and scans (PlanSprint, ReadScan,
// ImportScan, CompareScans …), building and publishing reports
// (MakeReport, Publish), the daemon's runtime — its scheduled jobs, pages
// and listener, loaded again on SIGHUP — for `usmhub serve` (Runtime,
// Loads), and who and how the hub logs and audits (Logger, UserActor).
//
// It is the application layer under cmd/usmhub: the command parses flags,
// calls one of these, and prints. It reaches tools only through
// Connectors, which the plugin host implements (plugins/host.Set); it
// never launches a process, and imports nothing under plugins/.
package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/readiness"
)

// Connectors are the configured connectors of one config, launched on
// first use.
type Connectors interface {
	// Get returns the connector with that id ("type.name"), launched and
	// configured. Config mistakes come back as *config.DiagError pointing
	// into the connector's block.
	Get(ctx context.Context, id string) (connector.Connector, error)
	// Fingerprint identifies a launched connector's configuration,
	// secrets included; empty before it is launched.
	Fingerprint(id string) string
	// Scrub removes every secret handed to a connector from msg.
	Scrub(msg string) string
	// Problem returns an error of connector id as the hub shows it: every
	// secret scrubbed, and a *connector.ConfigError (its Check found a bad
	// value) as a *config.DiagError pointing at the attribute in the
	// connector's block.
	Problem(id string, err error) error
	// Close stops every connector launched.
	Close()
}

// Health launches (or reuses) connector id and runs Check unless offline.
// A connector that cannot check its remote (Check answers ErrUnsupported)
// is reported as not checked, never as healthy.
func Health(ctx context.Context, cs Connectors, id string, offline bool) readiness.ConnectorHealth {
	h := readiness.ConnectorHealth{ID: id, Checked: true}
	conn, err := cs.Get(ctx, id)
	switch {
	case err != nil:
		h.Err = err
	case offline:
		h.Checked = false
	default:
		err := conn.Check(ctx)
		switch {
		case errors.Is(err, connector.ErrUnsupported):
			h.Checked = false
		case err != nil:
			h.Err = cs.Problem(id, err)
		}
	}
	return h
}

// CheckConnectors launches every connector of cfg and runs Configure, then
// Check unless offline, reporting each one's health. Offline, the
// connectors are still launched and configured: a config mistake is found
// without reaching the tool. open makes the connector set; it is called
// only when the config has connectors, and its error is every connector's.
func CheckConnectors(ctx context.Context, cfg *config.Config, open func() (Connectors, error), offline bool) []readiness.ConnectorHealth {
	out := make([]readiness.ConnectorHealth, 0, len(cfg.Connectors))
	if len(cfg.Connectors) == 0 {
		return out
	}
	cs, err := open()
	if err != nil {
		for _, c := range cfg.Connectors {
			out = append(out, readiness.ConnectorHealth{ID: c.ID(), Checked: true, Err: err})
		}
		return out
	}
	for _, c := range cfg.Connectors {
		out = append(out, Health(ctx, cs, c.ID(), offline))
	}
	return out
}

// ConfigureAll launches every connector of cfg, decodes its block against
// the schema its plugin describes and configures it — the path Get takes,
// and what validate -offline checks — without reaching the tools. The
// daemon runs it on every load, so that a config whose connector blocks do
// not fit their plugins is refused before any of it runs. Every
// connector's problems come back in one *config.DiagError.
func ConfigureAll(ctx context.Context, cfg *config.Config, cs Connectors) error {
	var diags hcl.Diagnostics
	for _, c := range cfg.Connectors {
		_, err := cs.Get(ctx, c.ID())
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
