package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/reconcile"
	"github.com/usmhub/usmhub/core/store"
)

// BindingOf turns a sync block into the engine's binding.
func BindingOf(cfg *config.Config, s *config.Sync) reconcile.Binding {
	b := reconcile.Binding{
		Name: s.Name, Kind: connector.EntityKind(s.Kind), Connector: s.Connector, Initiative: s.Initiative,
		Direction: reconcile.Direction(s.Direction), MapStatus: s.MapStatus, Filter: s.Filter,
		OnDelete: reconcile.OnDelete(s.OnDelete), Schedule: s.Schedule, Lookback: s.Lookback,
		FullEvery: s.FullEvery, BatchSize: s.BatchSize,
		MaxDeletePercent: s.MaxDeletePercent, MaxDeleteMin: s.MaxDeleteMin, AdoptForeign: s.AdoptForeign,
		Authority: reconcile.Authority{Default: reconcile.Side(s.AuthorityDefault), Fields: map[string]reconcile.Side{}},
	}
	for f, side := range s.AuthorityFields {
		b.Authority.Fields[f] = reconcile.Side(side)
	}
	if in, err := cfg.Initiative(s.Initiative); err == nil {
		b.SoundingBoard = in.SoundingBoard
	}
	return b
}

// SelectSyncs returns the named sync blocks, in config order (all when no
// names are given). An unknown name is an error listing the syncs there
// are.
func SelectSyncs(cfg *config.Config, names []string) ([]*config.Sync, error) {
	if len(names) == 0 {
		if len(cfg.Syncs) == 0 {
			return nil, fmt.Errorf("%s has no sync block: add one to bind a kind to a connector (see the README)", cfg.Path)
		}
		return cfg.Syncs, nil
	}
	var out []*config.Sync
	for _, n := range names {
		s := cfg.Sync(n)
		if s == nil {
			known := make([]string, len(cfg.Syncs))
			for i, k := range cfg.Syncs {
				known[i] = k.Name
			}
			return nil, fmt.Errorf("no sync block is named %q; the syncs are: %s", n, strings.Join(known, ", "))
		}
		out = append(out, s)
	}
	return out, nil
}

// RunSyncs runs (or, with opts.Plan, plans) the syncs one after the other
// on st through cs; a failing binding does not stop the others. It returns
// the result of every binding that ran and the error of every binding
// that failed, scrubbed of the connectors' secrets.
func RunSyncs(ctx context.Context, cfg *config.Config, st store.Store, cs Connectors, log hclog.Logger, syncs []*config.Sync, opts reconcile.Options) ([]*reconcile.Result, []error) {
	engine := &reconcile.Engine{Store: st, Log: log.Named("sync")}
	var results []*reconcile.Result
	var errs []error
	for _, s := range syncs {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", s.Name, ctx.Err()))
			continue
		}
		conn, err := cs.Get(ctx, s.Connector)
		if err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", s.Name, err))
			continue
		}
		b := BindingOf(cfg, s)
		b.Fingerprint = cs.Fingerprint(s.Connector)
		res, err := engine.Run(ctx, b, conn, opts)
		if err != nil {
			res.Err = cs.Scrub(err.Error())
			errs = append(errs, errors.New(res.Err))
		}
		results = append(results, res)
	}
	return results, errs
}

// KeepRecords keeps, in each result, only the changes of the named records
// (hub key or remote id, any case; a name may be a comma-separated list).
// No names keeps every change. The counts stay those of the whole run.
func KeepRecords(results []*reconcile.Result, names []string) {
	if len(names) == 0 {
		return
	}
	for _, r := range results {
		r.Changes = changesOf(r.Changes, names)
	}
}

// Errors counts a run's errors: its records that failed, and the run
// itself when it failed (an incomplete run's error only sums up its
// records').
func Errors(r *reconcile.Result) int {
	n := r.Counts.Errors
	if r.Err != "" && !strings.Contains(r.Err, reconcile.ErrIncomplete.Error()) {
		n++
	}
	return n
}

// changesOf keeps the changes of the named records.
func changesOf(changes []reconcile.Change, names []string) []reconcile.Change {
	want := map[string]bool{}
	for _, n := range names {
		for _, one := range strings.Split(n, ",") {
			if one = strings.TrimSpace(one); one != "" {
				want[strings.ToLower(one)] = true
			}
		}
	}
	var out []reconcile.Change
	for _, ch := range changes {
		if want[strings.ToLower(ch.Key)] || want[strings.ToLower(ch.ExternalID)] {
			out = append(out, ch)
		}
	}
	return out
}

// Pending reports whether a plan's results leave anything to do: a change
// in either direction, something waiting for a person, or a deletion over
// the limit (what `usmhub plan` exits 2 for).
func Pending(results []*reconcile.Result) bool {
	for _, r := range results {
		if r.Counts.Changes() || r.Waiting.Any() || r.DeleteLimitExceeded {
			return true
		}
	}
	return false
}
