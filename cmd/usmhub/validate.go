package main

import (
	"context"
	"fmt"

	"github.com/usmhub/usmhub/core/app"
)

func runValidate(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("validate", "validate [-offline] [-json]")
	offline := fs.Bool("offline", false, "do not launch connectors to check the tools")
	asJSON := fs.Bool("json", false, "print the outcome as JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	e.hubSecrets = true
	cfg, err := e.config()
	if err != nil && *asJSON {
		e.printJSON(app.InvalidConfig(e.configPath(), err))
		return exitError
	}
	if err != nil {
		return e.fail(err)
	}
	v := app.Validate(e.configPath(), cfg, connectorHealth(ctx, e, cfg, *offline))
	if *asJSON {
		e.printJSON(v)
		if !v.OK {
			return exitError
		}
		return exitOK
	}
	for _, c := range v.Connectors {
		switch {
		case !c.Checked:
			fmt.Fprintf(e.stdout, "connector %s: not checked (offline)\n", c.ID)
		case c.Error != "":
			fmt.Fprintln(e.stderr, c.Error)
		default:
			fmt.Fprintf(e.stdout, "connector %s: ok\n", c.ID)
		}
	}
	if !v.OK {
		fmt.Fprintf(e.stderr, "usmhub: %s: %d connector(s) failed their check\n", cfg.Path, v.Failed())
		return exitError
	}
	fmt.Fprintf(e.stdout, "%s: ok (%d initiative(s), %d priority polic(ies), %d connector(s))\n", cfg.Path, len(cfg.Initiatives), len(cfg.Priorities), len(cfg.Connectors))
	return exitOK
}
