package store

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"

	"github.com/usmhub/usmhub/core/model"
)

// FindRisk is Reader.Risk for what people type: a key in any case (r-12
// finds R-12 when no risk is keyed r-12 and only one matches regardless of
// case), and, when nothing matches, an error wrapping ErrNotFound that
// names the nearest keys. The sync and imports use Reader.Risk, whose keys
// are exact.
func FindRisk(rd Reader, ref string) (model.Risk, error) {
	r, err := rd.Risk(ref)
	if !errors.Is(err, ErrNotFound) {
		return r, err
	}
	type near struct {
		risk model.Risk
		dist int
	}
	var same []model.Risk
	var nearest []near
	lower := strings.ToLower(ref)
	err = rd.Risks(RiskFilter{}, func(c model.Risk) error {
		if strings.EqualFold(c.Key, ref) {
			same = append(same, c)
			return nil
		}
		if d := levenshtein.Distance(lower, strings.ToLower(c.Key), nil); d <= 2 {
			nearest = append(nearest, near{c, d})
		}
		return nil
	})
	if err != nil {
		return model.Risk{}, fmt.Errorf("find risk %q: %w", ref, err)
	}
	if len(same) == 1 {
		return same[0], nil
	}
	if len(same) > 1 {
		keys := make([]string, len(same))
		for i, c := range same {
			keys[i] = c.Key
		}
		return model.Risk{}, fmt.Errorf("risk %q: %w; keys differing only in case: %s", ref, ErrNotFound, strings.Join(keys, ", "))
	}
	if len(nearest) == 0 {
		return model.Risk{}, fmt.Errorf("risk %q: %w (usmhub risk list shows the keys)", ref, ErrNotFound)
	}
	sort.SliceStable(nearest, func(i, j int) bool {
		if nearest[i].dist != nearest[j].dist {
			return nearest[i].dist < nearest[j].dist
		}
		return nearest[i].risk.Key < nearest[j].risk.Key
	})
	var hints []string
	for i, n := range nearest {
		if i == 3 {
			break
		}
		hints = append(hints, fmt.Sprintf("%s (%s)", n.risk.Key, n.risk.Title))
	}
	return model.Risk{}, fmt.Errorf("risk %q: %w; did you mean %s?", ref, ErrNotFound, strings.Join(hints, ", or "))
}
