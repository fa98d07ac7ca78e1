// Package status reads what needs a person in each sync binding: its
// health, the pause and its cause, the last error, pending creates,
// quarantined records and held fields, each with the command that clears
// it. `usmhub status` prints it as text or JSON; this package only reads.
package status

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/store"
)

// Binding is what status shows of one sync block.
type Binding struct {
	Sync        string     `json:"sync"`
	Kind        string     `json:"kind"`
	Connector   string     `json:"connector"`
	LastSuccess *time.Time `json:"last_success"`
	Failures    int        `json:"failures"`
	PausedUntil *time.Time `json:"paused_until"`
	// PauseCause says why the binding is paused (empty when it is not).
	PauseCause string `json:"pause_cause,omitempty"`
	// PauseClear is the command that ends the pause now.
	PauseClear string     `json:"pause_clear,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	FullAt     *time.Time `json:"last_full_reconcile"`
	LastRun    *store.Run `json:"last_run"`
	// Links counts the binding's links per state.
	Links map[string]int `json:"links"`
	// PendingClear says what settles pending creates (empty when none).
	PendingClear string        `json:"pending_clear,omitempty"`
	Quarantined  []Quarantined `json:"quarantined"`
	Held         []Held        `json:"held"`
	// Health is ok, paused, failing, incomplete or never synced.
	Health string `json:"health"`
}

// Quarantined is a remote record the hub could not take, and how it clears.
type Quarantined struct {
	store.Quarantined
	Clear string `json:"clear"`
}

// Held is one field of a linked record that waits, and how it clears.
type Held struct {
	Key        string    `json:"key"`
	ExternalID string    `json:"external_id"`
	Field      string    `json:"field"`
	Side       string    `json:"side"` // pull: the hub did not take the remote's value; push: the remote refused the hub's
	Value      string    `json:"value"`
	Reason     string    `json:"reason"`
	Since      time.Time `json:"since"`
	Clear      string    `json:"clear"`
}

// Read reads the status of each sync block in syncs as of now.
func Read(r store.Reader, syncs []*config.Sync, now time.Time) ([]Binding, error) {
	out := make([]Binding, 0, len(syncs))
	for _, s := range syncs {
		b, err := readOne(r, s, now)
		if err != nil {
			return nil, fmt.Errorf("sync %s: %w", s.Name, err)
		}
		out = append(out, b)
	}
	return out, nil
}

func readOne(r store.Reader, s *config.Sync, now time.Time) (Binding, error) {
	bs, err := r.BindingState(s.Name)
	if err != nil {
		return Binding{}, err
	}
	b := Binding{Sync: s.Name, Kind: s.Kind, Connector: s.Connector, Failures: bs.Failures,
		LastError: bs.LastError, Links: map[string]int{}, Quarantined: []Quarantined{}, Held: []Held{},
		LastSuccess: timePtr(bs.LastSuccess), FullAt: timePtr(bs.FullAt)}
	if bs.PausedUntil.After(now) {
		b.PausedUntil = timePtr(bs.PausedUntil)
		b.PauseCause = bs.PauseCause
		if b.PauseCause == "" {
			b.PauseCause = "failed runs: backing off"
		}
		b.PauseClear = fmt.Sprintf("wait (it tries again by itself then, or as soon as the connector's config or secrets change), or now: usmhub sync -force %s", s.Name)
	}
	if run, err := r.LastRun(s.Name); err == nil {
		b.LastRun = &run
	} else if !errors.Is(err, store.ErrNotFound) {
		return b, fmt.Errorf("last run: %w", err)
	}
	if err := r.Links(s.Name, "", func(l store.Link) error { b.Links[string(l.State)]++; return nil }); err != nil {
		return b, fmt.Errorf("links: %w", err)
	}
	if b.Links[string(store.LinkPending)] > 0 {
		b.PendingClear = fmt.Sprintf("usmhub sync %s: it looks each up by its marker before creating anything", s.Name)
	}
	if err := r.Quarantine(s.Name, func(q store.Quarantined) error {
		hint := fmt.Sprintf("fix the record in %s (the next sync takes it), or: usmhub sync -full %s", s.Connector, s.Name)
		if strings.HasPrefix(q.Reason, store.ToolSays) {
			// The tool refuses the record itself: a full sync reads it the same.
			hint = fmt.Sprintf("mend the record in %s as it says; the next sync takes it", s.Connector)
		}
		b.Quarantined = append(b.Quarantined, Quarantined{Quarantined: q, Clear: hint})
		return nil
	}); err != nil {
		return b, fmt.Errorf("quarantine: %w", err)
	}
	if err := r.HeldLinks(s.Name, func(l store.Link) error {
		key := l.HubID
		if risk, err := r.Risk(l.HubID); err == nil {
			key = risk.Key
		}
		for f, h := range l.Held {
			hf := Held{Key: key, ExternalID: l.ExternalID, Field: f, Side: h.Side, Value: h.Value, Reason: h.Reason, Since: h.Since}
			if h.Side == store.HoldPull {
				hf.Clear = fmt.Sprintf("make the hub able to take it (usmhub risk update %s -%s …) or change it in %s; the next sync takes it", key, f, s.Connector)
			} else {
				hf.Clear = fmt.Sprintf("fix what %s refused (its workflow, or map_status), then: usmhub sync -full %s", s.Connector, s.Name)
			}
			b.Held = append(b.Held, hf)
		}
		return nil
	}); err != nil {
		return b, fmt.Errorf("held fields: %w", err)
	}
	sort.Slice(b.Held, func(i, j int) bool { return b.Held[i].Key+b.Held[i].Field < b.Held[j].Key+b.Held[j].Field })
	b.Health = healthOf(b)
	return b, nil
}

// healthOf sums a binding's state up: paused, failing (its last run
// failed), incomplete (records failed or wait), never synced, or ok.
func healthOf(b Binding) string {
	switch {
	case b.PausedUntil != nil:
		return "paused"
	case b.Failures > 0 || (b.LastRun != nil && (b.LastRun.Status == "failed" || b.LastRun.Status == "aborted")):
		return "failing"
	case len(b.Held) > 0 || len(b.Quarantined) > 0 || b.Links[string(store.LinkPending)] > 0 || b.Links[string(store.LinkQuarantined)] > 0 ||
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
