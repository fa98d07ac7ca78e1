package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/usmhub/usmhub/core/store"
)

type statusCmd struct{}

func (statusCmd) Synopsis() string {
	return "Show each sync's health: last success, failures, pause, links and quarantined records"
}

// bindingStatus is what status shows of one sync block.
type bindingStatus struct {
	Sync        string              `json:"sync"`
	Kind        string              `json:"kind"`
	Connector   string              `json:"connector"`
	LastSuccess *time.Time          `json:"last_success"`
	Failures    int                 `json:"failures"`
	PausedUntil *time.Time          `json:"paused_until"`
	LastError   string              `json:"last_error,omitempty"`
	FullAt      *time.Time          `json:"last_full_reconcile"`
	LastRun     *store.Run          `json:"last_run"`
	Links       map[string]int      `json:"links"`
	Quarantined []store.Quarantined `json:"quarantined"`
}

func (statusCmd) Run(ctx context.Context, e *env, args []string) int {
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
	syncs, err := selectSyncs(cfg, names)
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	var out []bindingStatus
	err = st.View(ctx, func(r store.Reader) error {
		for _, s := range syncs {
			bs, err := r.BindingState(s.Name)
			if err != nil {
				return err
			}
			b := bindingStatus{Sync: s.Name, Kind: s.Kind, Connector: s.Connector, Failures: bs.Failures,
				LastError: bs.LastError, Links: map[string]int{}, Quarantined: []store.Quarantined{},
				LastSuccess: timePtr(bs.LastSuccess), PausedUntil: timePtr(bs.PausedUntil), FullAt: timePtr(bs.FullAt)}
			if run, err := r.LastRun(s.Name); err == nil {
				b.LastRun = &run
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := r.Links(s.Name, "", func(l store.Link) error { b.Links[string(l.State)]++; return nil }); err != nil {
				return err
			}
			if err := r.Quarantine(s.Name, func(q store.Quarantined) error { b.Quarantined = append(b.Quarantined, q); return nil }); err != nil {
				return err
			}
			out = append(out, b)
		}
		return nil
	})
	if err != nil {
		return e.fail(fmt.Errorf("read sync state: %w", err))
	}
	if *asJSON {
		return e.printJSON(out)
	}
	for _, b := range out {
		health := "ok"
		switch {
		case b.PausedUntil != nil && b.PausedUntil.After(time.Now()):
			health = "PAUSED until " + b.PausedUntil.Local().Format(time.DateTime) + " (usmhub sync -force " + b.Sync + " tries now)"
		case b.Failures > 0:
			health = fmt.Sprintf("failing (%d run(s) in a row)", b.Failures)
		case b.LastSuccess == nil:
			health = "never synced"
		}
		fmt.Fprintf(e.stdout, "%s (%s ↔ %s): %s\n", b.Sync, b.Kind, b.Connector, health)
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
		for _, q := range b.Quarantined {
			fmt.Fprintf(e.stdout, "  quarantined %s: %s\n", q.ExternalID, q.Reason)
		}
	}
	return exitOK
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
