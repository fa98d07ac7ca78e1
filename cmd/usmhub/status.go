package main

import (
	"context"
	"fmt"
	"time"

	"github.com/usmhub/usmhub/core/app"
)

func runStatus(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("status", "status [-json] [SYNC…]")
	asJSON := fs.Bool("json", false, "print JSON")
	names, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	syncs, err := app.SelectSyncs(cfg, names)
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	out, err := app.Status(ctx, st, syncs)
	if err != nil {
		return e.fail(fmt.Errorf("read sync state: %w", err))
	}
	if *asJSON {
		return e.printJSON(out)
	}
	for _, b := range out {
		fmt.Fprintf(e.stdout, "%s (%s ↔ %s): %s\n", b.Sync, b.Kind, b.Connector, b.Headline())
		if b.PauseClear != "" {
			fmt.Fprintf(e.stdout, "  to resume:    %s\n", b.PauseClear)
		}
		if b.LastSuccess != nil {
			fmt.Fprintf(e.stdout, "  last success: %s\n", b.LastSuccess.Local().Format(time.DateTime))
		}
		if run := b.LastRun; run != nil {
			fmt.Fprintf(e.stdout, "  last run:     %s %s (%s)\n", run.StartedAt.Local().Format(time.DateTime), run.Status, run.ID)
		}
		if b.LastError != "" {
			fmt.Fprintf(e.stdout, "  last error:   %s\n", b.LastError)
		}
		fmt.Fprintf(e.stdout, "  links:        %d linked, %d pending, %d quarantined, %d orphaned, %d deleted\n",
			b.Links["linked"], b.Links["pending_create"], b.Links["quarantined"], b.Links["orphaned"], b.Links["deleted"])
		if n := b.Links["pending_create"]; n > 0 {
			fmt.Fprintf(e.stdout, "  pending:      %d create(s) whose outcome is not known yet\n    to settle: %s\n", n, b.PendingClear)
		}
		for _, q := range b.Quarantined {
			fmt.Fprintf(e.stdout, "  quarantined %s: %s\n    to clear: %s\n", q.ExternalID, q.Reason, q.Clear)
		}
		for _, h := range b.Held {
			fmt.Fprintf(e.stdout, "  held %s (%s) %s = %q, %s since %s: %s\n    to clear: %s\n",
				h.Key, h.ExternalID, h.Field, h.Value, h.What(), h.Since.Local().Format(time.DateTime), h.Reason, h.Clear)
		}
	}
	return exitOK
}
