package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/usmhub/usmhub/core/app"
	"github.com/usmhub/usmhub/core/meter"
	"github.com/usmhub/usmhub/core/reconcile"
)

// runOrPlan runs (or plans) the named syncs one after the other
// (app.RunSyncs); a failing binding does not stop the others.
func runOrPlan(ctx context.Context, e *env, names []string, opts reconcile.Options) ([]*reconcile.Result, []error, int) {
	cfg, err := e.config()
	if err != nil {
		return nil, nil, e.fail(err)
	}
	syncs, err := app.SelectSyncs(cfg, names)
	if err != nil {
		return nil, nil, e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return nil, nil, e.fail(err)
	}
	cs, err := e.connectors()
	if err != nil {
		return nil, nil, e.fail(err)
	}
	results, errs := app.RunSyncs(ctx, cfg, st, cs, e.logger(), syncs, opts)
	return results, errs, exitOK
}

func runPlan(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("plan", "plan [-full] [-summary | -record KEY…] [-json] [SYNC…]")
	full := fs.Bool("full", false, "plan a full reconcile (list every remote record)")
	summary := fs.Bool("summary", false, "print only the counts per sync and direction, not the changes field by field")
	var records multiFlag
	fs.Var(&records, "record", "print the changes of this record only (a hub key such as R-12 or a remote id; repeatable, or comma-separated)")
	asJSON := fs.Bool("json", false, "print JSON")
	names, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if *summary && len(records) > 0 {
		return e.usageErr(fs, "-summary prints no changes; -record prints those of named records: give one of them")
	}
	results, errs, code := runOrPlan(ctx, e, names, reconcile.Options{Plan: true, Full: *full})
	if code != exitOK {
		return code
	}
	changes := app.Pending(results)
	app.KeepRecords(results, records)
	switch {
	case *asJSON && *summary:
		for _, r := range results {
			r.Changes = nil
		}
		e.printJSON(results)
	case *asJSON:
		e.printJSON(results)
	case *summary:
		for _, r := range results {
			printSummary(e.stdout, r)
		}
	default:
		for _, r := range results {
			printResult(e.stdout, r, true)
		}
	}
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "usmhub: %v\n", err)
	}
	switch {
	case len(errs) > 0:
		return exitError
	case changes:
		return exitUsage // 2: changes pending, like terraform plan -detailed-exitcode
	}
	return exitOK
}

func runSync(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("sync", "sync [-full] [-force] [-allow-deletes] [-json] [SYNC…]")
	full := fs.Bool("full", false, "full reconcile: list every remote record, compare every linked record field by field, settle deletions, send refused values again")
	force := fs.Bool("force", false, "run bindings that are paused after repeated failures")
	allowDeletes := fs.Bool("allow-deletes", false, "confirm a run that deletes or closes more linked records than the sync's max_delete_percent")
	asJSON := fs.Bool("json", false, "print JSON")
	names, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	opts := reconcile.Options{Full: *full, Force: *force, AllowDeletes: *allowDeletes}
	meters := map[string]*meter.Meter{}
	if !*asJSON {
		opts.Progress = func(binding, phase string, n int) {
			if meters[binding] == nil {
				meters[binding] = e.meter(binding)
			}
			meters[binding].Update(phase, n, 0)
		}
	}
	results, errs, code := runOrPlan(ctx, e, names, opts)
	for _, m := range meters {
		m.Finish()
	}
	if code != exitOK {
		return code
	}
	if *asJSON {
		e.printJSON(results)
	} else {
		for _, r := range results {
			printResult(e.stdout, r, false)
		}
	}
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "usmhub: %v\n", err)
	}
	if len(errs) > 0 {
		return exitError
	}
	return exitOK
}

// printHeld lists the fields that wait after a run, with why and how each
// clears.
func printHeld(w io.Writer, r *reconcile.Result) {
	for _, h := range r.Held {
		for _, f := range h.Fields {
			what := fmt.Sprintf("remote %q not taken (hub %q)", f.Remote, f.Hub)
			if h.Direction == "push" {
				what = fmt.Sprintf("hub %q refused by the remote (remote %q)", f.Hub, f.Base)
			}
			fmt.Fprintf(w, "  held       %s (%s) %s: %s: %s\n", h.Key, h.ExternalID, f.Field, what, h.Reason)
		}
	}
	if r.Waiting.Held > len(r.Held) {
		fmt.Fprintf(w, "  … %d more held field(s)\n", r.Waiting.Held-len(r.Held))
	}
}

// printResult prints a run's summary and, for a plan, its changes.
func printResult(w io.Writer, r *reconcile.Result, plan bool) {
	c := r.Counts
	head := "synced"
	if plan {
		head = "plan for"
	}
	fmt.Fprintf(w, "%s %s (run %s, %s): pulled %d; hub: %d created, %d updated, %d deleted; remote: %d created, %d updated; %d conflict(s), %d quarantined, %d error(s)\n",
		head, r.Binding, r.RunID[:8], r.Duration.Round(time.Millisecond), c.Pulled, c.HubCreates, c.HubUpdates, c.HubDeletes,
		c.PushCreates, c.PushUpdates, c.Conflicts, c.Quarantined, app.Errors(r))
	if r.Err != "" {
		fmt.Fprintf(w, "  FAILED: %s\n", r.Err)
	}
	if wt := r.Waiting; wt.Any() {
		fmt.Fprintf(w, "  waiting: %d held field(s), %d quarantined record(s), %d pending create(s) (usmhub status %s says what clears each)\n",
			wt.Held, wt.Quarantined, wt.Pending, r.Binding)
	}
	defer printHeld(w, r)
	if !plan && len(r.Changes) > 20 {
		fmt.Fprintf(w, "  (%d changes; usmhub log -run %s shows them)\n", len(r.Changes), r.RunID[:8])
		return
	}
	for _, ch := range r.Changes {
		who := ch.Key
		if who == "" {
			who = ch.ExternalID
		}
		arrow := "hub ← remote"
		if ch.Direction == "push" {
			arrow = "hub → remote"
		}
		line := fmt.Sprintf("  %s  %-10s %s", arrow, ch.Op, who)
		if ch.ExternalID != "" && ch.Key != "" {
			line += " (" + ch.ExternalID + ")"
		}
		if ch.Reason != "" {
			line += ": " + ch.Reason
		}
		fmt.Fprintln(w, line)
		fields := append([]reconcile.FieldChange(nil), ch.Fields...)
		sort.Slice(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
		for _, f := range fields {
			switch {
			case f.Conflict:
				fmt.Fprintf(w, "      %s: CONFLICT base %q, hub %q, remote %q → %s wins\n", f.Field, f.Base, f.Hub, f.Remote, f.Winner)
			case ch.Op == "hold":
				fmt.Fprintf(w, "      %s: hub keeps %q, remote %q waits\n", f.Field, f.Hub, f.Remote)
			case ch.Op == "create" && ch.Direction == "push":
				fmt.Fprintf(w, "      %s = %q\n", f.Field, f.Hub)
			case ch.Op == "create":
				fmt.Fprintf(w, "      %s = %q\n", f.Field, f.Remote)
			case f.Apply == reconcile.Hub:
				fmt.Fprintf(w, "      %s: %q → %q\n", f.Field, f.Hub, f.Remote)
			default:
				fmt.Fprintf(w, "      %s: %q → %q\n", f.Field, f.Base, f.Hub)
			}
		}
	}
	if r.Truncated {
		fmt.Fprintf(w, "  … more changes not listed (the counts above are complete)\n")
	}
}

// printSummary prints a plan's counts per direction on a few lines.
func printSummary(w io.Writer, r *reconcile.Result) {
	c := r.Counts
	fmt.Fprintf(w, "plan for %s: hub ← remote: %d create(s), %d update(s), %d delete(s); hub → remote: %d create(s), %d update(s), %d delete(s); %d conflict(s)\n",
		r.Binding, c.HubCreates, c.HubUpdates, c.HubDeletes, c.PushCreates, c.PushUpdates, c.PushDeletes, c.Conflicts)
	if r.Err != "" {
		fmt.Fprintf(w, "  FAILED: %s\n", r.Err)
	}
	if wt := r.Waiting; wt.Any() {
		fmt.Fprintf(w, "  waiting: %d held field(s), %d quarantined record(s), %d pending create(s) (usmhub status %s says what clears each)\n",
			wt.Held, wt.Quarantined, wt.Pending, r.Binding)
	}
	if r.DeleteLimitExceeded {
		fmt.Fprintf(w, "  over the deletion limit: a sync stops before deleting (usmhub sync -allow-deletes %s confirms)\n", r.Binding)
	}
}
