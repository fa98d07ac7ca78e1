package main

import (
	"context"
	"fmt"
	"time"

	"github.com/usmhub/usmhub/core/app"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

func runLog(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("log", "log [-entity R-12] [-run ID] [-since 2026-01-02|24h] [-limit N] [-json]")
	entity := fs.String("entity", "", "only changes of this entity (a risk key or a UUID)")
	run := fs.String("run", "", "only changes of this sync run")
	since := fs.String("since", "", "only changes since a date (YYYY-MM-DD), a time (RFC 3339) or a duration ago (24h)")
	limit := fs.Int("limit", 0, "at most N entries (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	f := store.AuditFilter{EntityID: *entity, RunID: *run, Limit: *limit}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return e.usageErr(fs, "%v", err)
		}
		f.Since = t
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	entries, err := app.Audit(ctx, st, f)
	if err != nil {
		return e.fail(fmt.Errorf("read audit log: %w", err))
	}
	if *asJSON {
		return e.printJSON(entries)
	}
	printAudit(e, entries)
	return exitOK
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(model.DateLayout, s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("-since %q: give a date (2026-01-02), a time (RFC 3339) or a duration (24h)", s)
}
