package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/usmhub/usmhub/core/app"
	"github.com/usmhub/usmhub/core/readiness"
)

func runReadiness(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("readiness", "readiness [-initiative K] [-offline] [-json]")
	initiative := fs.String("initiative", "", "the initiative (default: the only one)")
	offline := fs.Bool("offline", false, "do not launch connectors to check the tools")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	checks, code := evaluateReadiness(ctx, e, *initiative, *offline)
	if code != exitOK {
		return code
	}
	if *asJSON {
		return e.printJSON(checks)
	}
	for _, c := range checks {
		fmt.Fprintf(e.stdout, "%2d. [%s] %s: %s\n", c.Precondition, strings.ToUpper(string(c.Status)), c.Name, c.Reason)
		if c.Next != "" {
			fmt.Fprintf(e.stdout, "    next: %s\n", c.Next)
		}
	}
	fmt.Fprintf(e.stdout, "\n%d of %d preconditions pass\n", readiness.Passed(checks), len(checks))
	return exitOK
}

// evaluateReadiness runs the checks on the live config and store.
func evaluateReadiness(ctx context.Context, e *env, initiative string, offline bool) ([]readiness.Check, int) {
	in, err := e.initiative(initiative)
	if err != nil {
		return nil, e.fail(err)
	}
	cfg, st, err := e.open(ctx)
	if err != nil {
		return nil, e.fail(err)
	}
	checks, err := app.Readiness(ctx, cfg, st, in, connectorHealth(ctx, e, cfg, offline))
	if err != nil {
		return nil, e.fail(err)
	}
	return checks, exitOK
}
