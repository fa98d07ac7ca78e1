package app

import (
	"context"
	"fmt"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/progress"
	"github.com/usmhub/usmhub/core/store"
)

// ImportScan stores a checked scan in one transaction as actor, and
// returns it as stored. The same scan imported again (kind, method,
// version and day) changes nothing: it returns the stored one and
// already. An initiative has one baseline; a progress scan needs the
// baseline and must be comparable with it.
func ImportScan(ctx context.Context, st store.Store, actor store.Actor, scan model.Scan) (model.Scan, bool, error) {
	already := false
	err := st.Update(ctx, actor, func(tx store.Tx) error {
		scans, err := tx.Scans(scan.Initiative)
		if err != nil {
			return err
		}
		for _, s := range scans {
			if s.Kind == scan.Kind && s.Method == scan.Method && s.MethodVersion == scan.MethodVersion && s.TakenOn == scan.TakenOn {
				already = true
				scan = s
				return nil
			}
		}
		base, hasBase := progress.Baseline(scans)
		switch {
		case scan.Kind == model.Baseline && hasBase:
			return fmt.Errorf("initiative %q already has a baseline (%s %s of %s); import later scans with -kind progress", scan.Initiative, base.Method, base.MethodVersion, base.TakenOn)
		case scan.Kind == model.Progress && !hasBase:
			return progress.ErrNoBaseline
		case scan.Kind == model.Progress:
			if err := model.Comparable(base, scan); err != nil {
				return err
			}
		}
		return tx.CreateScan(&scan)
	})
	return scan, already, err
}

// Scans lists an initiative's scans.
func Scans(ctx context.Context, st store.Store, initiative string) ([]model.Scan, error) {
	var scans []model.Scan
	err := st.View(ctx, func(r store.Reader) error {
		var err error
		scans, err = r.Scans(initiative)
		return err
	})
	return scans, err
}

// CompareScans compares an initiative's latest scan with its baseline,
// per dimension.
func CompareScans(ctx context.Context, st store.Store, initiative string) (progress.Comparison, error) {
	scans, err := Scans(ctx, st, initiative)
	if err != nil {
		return progress.Comparison{}, fmt.Errorf("read scans: %w", err)
	}
	cmp, err := progress.Compare(scans)
	if err != nil {
		return cmp, fmt.Errorf("initiative %q: %w", initiative, err)
	}
	return cmp, nil
}
