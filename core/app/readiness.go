package app

import (
	"context"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/readiness"
	"github.com/usmhub/usmhub/core/store"
)

// Readiness evaluates the ten preconditions of an initiative on the live
// config and one consistent read of the store; health is what
// CheckConnectors found.
func Readiness(ctx context.Context, cfg *config.Config, st store.Store, in *config.Initiative, health []readiness.ConnectorHealth) ([]readiness.Check, error) {
	var checks []readiness.Check
	err := st.View(ctx, func(r store.Reader) error {
		var err error
		checks, err = readiness.Evaluate(readiness.Input{Config: cfg, Initiative: in, Reader: r, Connectors: health})
		return err
	})
	return checks, err
}
