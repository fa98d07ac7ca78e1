package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/usmhub/usmhub/core/config"
)

type validateCmd struct{}

func (validateCmd) Synopsis() string { return "Load and check the config without doing anything else" }

func (validateCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("validate", "validate [-offline]")
	offline := fs.Bool("offline", false, "do not launch connectors to check the tools")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	failed := 0
	for _, h := range connectorHealth(ctx, e, cfg, *offline) {
		switch {
		case !h.Checked:
			fmt.Fprintf(e.stdout, "connector %s: not checked (offline)\n", h.ID)
		case h.Err != nil:
			failed++
			var de *config.DiagError
			if errors.As(h.Err, &de) {
				fmt.Fprintln(e.stderr, strings.TrimRight(de.Error(), "\n"))
			} else {
				fmt.Fprintf(e.stderr, "connector %s: %v\n", h.ID, h.Err)
			}
		default:
			fmt.Fprintf(e.stdout, "connector %s: ok\n", h.ID)
		}
	}
	if failed > 0 {
		fmt.Fprintf(e.stderr, "usmhub: %s: %d connector(s) failed their check\n", cfg.Path, failed)
		return exitError
	}
	fmt.Fprintf(e.stdout, "%s: ok (%d initiative(s), %d priority polic(ies), %d connector(s))\n", cfg.Path, len(cfg.Initiatives), len(cfg.Priorities), len(cfg.Connectors))
	return exitOK
}
