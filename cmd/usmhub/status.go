package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
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
	Held        []heldField         `json:"held"`
	// Health is ok, paused, failing, incomplete or never synced.
	Health string `json:"health"`
}

// heldField is one field of a linked record that waits, and how it clears.
type heldField struct {
	Key        string    `json:"key"`
	ExternalID string    `json:"external_id"`
	Field      string    `json:"field"`
	Side       string    `json:"side"` // pull: the hub did not take the remote's value; push: the remote refused the hub's
	Value      string    `json:"value"`
	Reason     string    `json:"reason"`
	Since      time.Time `json:"since"`
	Clear      string    `json:"clear"`
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
			if err := r.HeldLinks(s.Name, func(l store.Link) error {
				key := l.HubID
				if risk, err := r.Risk(l.HubID); err == nil {
					key = risk.Key
				}
				for f, h := range l.Held {
					hf := heldField{Key: key, ExternalID: l.ExternalID, Field: f, Side: h.Side, Value: h.Value, Reason: h.Reason, Since: h.Since}
					if h.Side == store.HoldPull {
						hf.Clear = fmt.Sprintf("make the hub able to take it (usmhub risk update %s -%s …) or change it in %s; the next sync takes it", key, f, s.Connector)
					} else {
						hf.Clear = fmt.Sprintf("fix what %s refused (its workflow, or map_status), then: usmhub sync -full %s", s.Connector, s.Name)
					}
					b.Held = append(b.Held, hf)
				}
				return nil
			}); err != nil {
				return err
			}
			sort.Slice(b.Held, func(i, j int) bool { return b.Held[i].Key+b.Held[i].Field < b.Held[j].Key+b.Held[j].Field })
			b.Health = healthOf(b)
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
		health := b.Health
		switch {
		case b.Health == "paused":
			health = "PAUSED until " + b.PausedUntil.Local().Format(time.DateTime) + " (it tries again by itself then, or as soon as the connector's config or secrets change; usmhub sync -force " + b.Sync + " tries now)"
		case b.Health == "failing":
			health = fmt.Sprintf("FAILING (%d run(s) in a row)", b.Failures)
		case b.Health == "incomplete" && len(b.Held) == 0 && len(b.Quarantined) == 0 && b.Links["quarantined"] == 0:
			health = "INCOMPLETE: the last run left records unsettled (last error below); the next run retries them"
		case b.Health == "incomplete":
			health = "INCOMPLETE: records wait for a person (below)"
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
		if n := b.Links["pending_create"]; n > 0 {
			fmt.Fprintf(e.stdout, "  pending:      %d create(s) whose outcome is not known yet; the next sync looks each up by its marker before creating anything\n", n)
		}
		for _, q := range b.Quarantined {
			fmt.Fprintf(e.stdout, "  quarantined %s: %s\n    clears when the record changes in %s (or: usmhub sync -full %s)\n", q.ExternalID, q.Reason, b.Connector, b.Sync)
		}
		for _, h := range b.Held {
			what := "remote value not taken"
			if h.Side == store.HoldPush {
				what = "hub value refused by the remote"
			}
			fmt.Fprintf(e.stdout, "  held %s (%s) %s = %q, %s since %s: %s\n    to clear: %s\n",
				h.Key, h.ExternalID, h.Field, h.Value, what, h.Since.Local().Format(time.DateTime), h.Reason, h.Clear)
		}
	}
	return exitOK
}

// healthOf sums a binding's state up: paused, failing (its last run
// failed), incomplete (records failed or wait), never synced, or ok.
func healthOf(b bindingStatus) string {
	switch {
	case b.PausedUntil != nil && b.PausedUntil.After(time.Now()):
		return "paused"
	case b.Failures > 0 || (b.LastRun != nil && (b.LastRun.Status == "failed" || b.LastRun.Status == "aborted")):
		return "failing"
	case len(b.Held) > 0 || len(b.Quarantined) > 0 || b.Links["pending_create"] > 0 || b.Links["quarantined"] > 0 ||
		(b.LastRun != nil && b.LastRun.Status == "incomplete"):
		return "incomplete"
	case b.LastRun == nil:
		return "never synced"
	}
	return "ok"
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
