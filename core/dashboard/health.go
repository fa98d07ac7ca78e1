package dashboard

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/store"
)

// maxListed caps the quarantined records and held fields a sync's health
// lists; Counts say how many there are.
const maxListed = 50

// SyncHealth is one sync block's health, as `usmhub status` shows it.
type SyncHealth struct {
	Sync        string     `json:"sync"`
	Kind        string     `json:"kind"`
	Connector   string     `json:"connector"`
	Health      string     `json:"health"` // ok, paused, failing, incomplete or never synced
	LastSuccess *time.Time `json:"last_success"`
	Failures    int        `json:"failures"`
	PausedUntil *time.Time `json:"paused_until"`
	LastError   string     `json:"last_error,omitempty"`
	LastRun     *store.Run `json:"last_run"`
	// Links counts the binding's links per state.
	Links map[string]int `json:"links"`
	// Quarantined and Held list at most 50 each, QuarantinedTotal and
	// HeldTotal count them all.
	Quarantined      []store.Quarantined `json:"quarantined"`
	QuarantinedTotal int                 `json:"quarantined_total"`
	Held             []HeldField         `json:"held"`
	HeldTotal        int                 `json:"held_total"`
}

// HeldField is one field of a linked record that waits, with its reason.
type HeldField struct {
	Key        string    `json:"key"`
	ExternalID string    `json:"external_id"`
	Field      string    `json:"field"`
	Side       string    `json:"side"`
	Value      string    `json:"value"`
	Reason     string    `json:"reason"`
	Since      time.Time `json:"since"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// syncHealth reads every sync block's health.
func syncHealth(rd store.Reader, cfg *config.Config, now time.Time) ([]SyncHealth, error) {
	out := make([]SyncHealth, 0, len(cfg.Syncs))
	for _, s := range cfg.Syncs {
		bs, err := rd.BindingState(s.Name)
		if err != nil {
			return nil, fmt.Errorf("sync %s: %w", s.Name, err)
		}
		h := SyncHealth{Sync: s.Name, Kind: s.Kind, Connector: s.Connector, Failures: bs.Failures, LastError: bs.LastError,
			LastSuccess: timePtr(bs.LastSuccess), PausedUntil: timePtr(bs.PausedUntil), Links: map[string]int{},
			Quarantined: []store.Quarantined{}, Held: []HeldField{}}
		if run, err := rd.LastRun(s.Name); err == nil {
			h.LastRun = &run
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("sync %s: last run: %w", s.Name, err)
		}
		for _, st := range []store.LinkState{store.LinkLinked, store.LinkPending, store.LinkQuarantined, store.LinkOrphaned, store.LinkDeleted} {
			n, err := rd.CountLinks(s.Name, st)
			if err != nil {
				return nil, fmt.Errorf("sync %s: count links: %w", s.Name, err)
			}
			h.Links[string(st)] = n
		}
		if err := rd.Quarantine(s.Name, func(q store.Quarantined) error {
			h.QuarantinedTotal++
			if len(h.Quarantined) < maxListed {
				q.Fields = nil // the record's fields stay in `usmhub status -json`
				h.Quarantined = append(h.Quarantined, q)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("sync %s: quarantine: %w", s.Name, err)
		}
		if err := rd.HeldLinks(s.Name, func(l store.Link) error {
			key := l.HubID
			if risk, err := rd.Risk(l.HubID); err == nil {
				key = risk.Key
			}
			for f, hd := range l.Held {
				h.HeldTotal++
				if len(h.Held) < maxListed {
					h.Held = append(h.Held, HeldField{Key: key, ExternalID: l.ExternalID, Field: f, Side: hd.Side, Value: hd.Value, Reason: hd.Reason, Since: hd.Since})
				}
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("sync %s: held fields: %w", s.Name, err)
		}
		sort.Slice(h.Held, func(i, j int) bool { return h.Held[i].Key+h.Held[i].Field < h.Held[j].Key+h.Held[j].Field })
		switch {
		case h.PausedUntil != nil && h.PausedUntil.After(now):
			h.Health = "paused"
		case h.Failures > 0 || h.LastRun != nil && (h.LastRun.Status == "failed" || h.LastRun.Status == "aborted"):
			h.Health = "failing"
		case h.HeldTotal > 0 || h.QuarantinedTotal > 0 || h.Links[string(store.LinkPending)] > 0 || h.Links[string(store.LinkQuarantined)] > 0 ||
			h.LastRun != nil && h.LastRun.Status == "incomplete":
			h.Health = "incomplete"
		case h.LastRun == nil:
			h.Health = "never synced"
		default:
			h.Health = "ok"
		}
		out = append(out, h)
	}
	return out, nil
}
