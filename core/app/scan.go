package app

import (
	"context"
	"fmt"
	"os"

	"github.com/usmhub/usmhub/core/ingest"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/progress"
	"github.com/usmhub/usmhub/core/store"
)

// ReadScan is scan with its scores read from the CSV or .xlsx file at
// path (ingest.ReadScanScores), checked. Bad rows make the error
// ingest.Errors naming every one; nothing is stored either way.
func ReadScan(path string, scan model.Scan) (model.Scan, error) {
	f, err := os.Open(path)
	if err != nil {
		return scan, fmt.Errorf("scan import: %w", err)
	}
	defer f.Close()
	if scan.Scores, err = ingest.ReadScanScores(path, f); err != nil {
		return scan, fmt.Errorf("scan not imported: %w", err)
	}
	if err := scan.Validate(); err != nil {
		return scan, fmt.Errorf("scan not imported: %w", model.OneLine(err))
	}
	return scan, nil
}

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
	if err != nil {
		return scan, false, fmt.Errorf("scan not imported: %w", err)
	}
	return scan, already, nil
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
