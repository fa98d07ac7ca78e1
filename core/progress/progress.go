// Package progress compares an initiative's scans: the baseline against the
// latest progress scan of the same method and version, per dimension. It is
// pure computation over core/model values.
package progress

import (
	"errors"
	"math"

	"github.com/usmhub/usmhub/core/model"
)

// ErrNoBaseline is returned when an initiative has no baseline scan yet.
var ErrNoBaseline = errors.New("no baseline scan: import one with 'usmhub scan import -kind baseline' before measuring progress")

// Row is one dimension's comparison. Baseline or Latest is nil when the
// dimension is missing from that scan; Delta is nil unless both are present.
type Row struct {
	Dimension string   `json:"dimension"`
	Baseline  *float64 `json:"baseline"`
	Latest    *float64 `json:"latest"`
	Delta     *float64 `json:"delta"`
}

// Comparison is the baseline, the latest comparable scan and their rows.
type Comparison struct {
	Baseline model.Scan
	Latest   model.Scan
	Rows     []Row
}

// Baseline returns the initiative's baseline among scans (the first one).
func Baseline(scans []model.Scan) (model.Scan, bool) {
	for _, s := range scans {
		if s.Kind == model.Baseline {
			return s, true
		}
	}
	return model.Scan{}, false
}

// Compare compares the baseline with the latest progress scan (by date, then
// by order) of the same method and version; with no such scan, the baseline
// is compared with itself. Dimensions keep the baseline's order; dimensions
// only the latest has come after.
func Compare(scans []model.Scan) (Comparison, error) {
	base, ok := Baseline(scans)
	if !ok {
		return Comparison{}, ErrNoBaseline
	}
	latest := base
	for _, s := range scans {
		if s.Kind == model.Progress && model.Comparable(base, s) == nil && s.TakenOn >= latest.TakenOn {
			latest = s
		}
	}
	c := Comparison{Baseline: base, Latest: latest}
	index := map[string]int{}
	for _, sc := range base.Scores {
		v := sc.Score
		index[sc.Dimension] = len(c.Rows)
		c.Rows = append(c.Rows, Row{Dimension: sc.Dimension, Baseline: &v})
	}
	for _, sc := range latest.Scores {
		v := sc.Score
		i, ok := index[sc.Dimension]
		if !ok {
			c.Rows = append(c.Rows, Row{Dimension: sc.Dimension, Latest: &v})
			continue
		}
		c.Rows[i].Latest = &v
		d := math.Round((v-*c.Rows[i].Baseline)*1e6)/1e6 + 0 // no float noise like 0.5999999, no -0
		c.Rows[i].Delta = &d
	}
	return c, nil
}
