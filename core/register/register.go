// Package register is the risk database and the BIR (the register of
// configuration items) as people query and edit them: the one JSON shape
// of a risk with its priority (Risk), scoring under each initiative's
// policy (Scorer), the list orders, one risk or item with its context, and
// the edits of a risk — field changes, the items it affects, votes — each
// in one store transaction.
//
// It is the application layer of `usmhub risk`, `usmhub item` and `usmhub
// vote`: the command parses flags and prints what these functions return.
// It may touch core/store, core/model, core/config (for the initiatives'
// policies and sounding boards) and core/priority; it knows nothing of the
// CLI's flags or output, nor of connectors.
package register

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/priority"
	"github.com/usmhub/usmhub/core/store"
)

// Risk is the one JSON shape of a risk (docs/JSON.md): risk list, show,
// add, update and vote all print it; show adds its context as sibling
// keys.
type Risk struct {
	Key         string    `json:"key"`
	ID          string    `json:"id"`
	Initiative  string    `json:"initiative"`
	Title       string    `json:"title"`
	Kind        string    `json:"kind"`
	Process     string    `json:"process"`
	Source      string    `json:"source"`
	Likelihood  int       `json:"likelihood"`
	Impact      int       `json:"impact"`
	Effort      float64   `json:"effort"`
	Votes       int       `json:"votes"`
	Priority    *float64  `json:"priority"`
	Status      string    `json:"status"`
	Owner       string    `json:"owner"`
	Description string    `json:"description"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	seq         int64
	rank        priority.Rank
}

// Scorer returns a function scoring a risk under its initiative's policy
// at now (nil when the initiative has none, or the score fails). It
// compiles nothing: each initiative's policy is looked up once.
func Scorer(cfg *config.Config, now time.Time) func(model.Risk) *float64 {
	policies := map[string]*priority.Policy{}
	return func(r model.Risk) *float64 {
		p, ok := policies[r.Initiative]
		if !ok {
			if pr := cfg.Policy(r.Initiative); pr != nil {
				p = pr.Policy
			}
			policies[r.Initiative] = p
		}
		if p == nil {
			return nil
		}
		s, err := p.Score(priority.InputsOf(r, now))
		if err != nil {
			return nil
		}
		return &s
	}
}

// Listed is r in its JSON shape, with the priority score gives it.
func Listed(r model.Risk, score func(model.Risk) *float64) Risk {
	out := Risk{Key: r.Key, ID: r.ID, Initiative: r.Initiative, Title: r.Title, Kind: string(r.Kind),
		Process: string(r.Process), Source: r.Source, Likelihood: r.Likelihood, Impact: r.Impact, Effort: r.Effort,
		Votes: r.Votes, Priority: score(r), Status: string(r.Status), Owner: r.Owner, Description: r.Description,
		Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, seq: model.KeySeq(r.Key)}
	out.rank = priority.RankOf(out.Priority, r.CreatedAt, r.Key, r.ID)
	return out
}

// Scored is r in its JSON shape with its priority now.
func Scored(cfg *config.Config, r model.Risk) Risk {
	return Listed(r, Scorer(cfg, time.Now()))
}

// The orders ListRisks knows.
const (
	ByPriority = "priority"
	ByKey      = "key"
)

// SortByPriority orders in priority order (priority.Compare): higher
// priority first, unscored last, then older first, then by key.
func SortByPriority(items []Risk) {
	slices.SortFunc(items, func(a, b Risk) int { return priority.Compare(a.rank, b.rank) })
}

// ListRisks reads the matching risks with their priority now, sorted by
// ByPriority or ByKey, the first limit of them (0: all).
func ListRisks(ctx context.Context, st store.Store, cfg *config.Config, f store.RiskFilter, sortBy string, limit int) ([]Risk, error) {
	score := Scorer(cfg, time.Now())
	var items []Risk
	err := st.View(ctx, func(r store.Reader) error {
		return r.Risks(f, func(risk model.Risk) error {
			items = append(items, Listed(risk, score))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list risks: %w", err)
	}
	if sortBy == ByKey {
		slices.SortStableFunc(items, func(a, b Risk) int { return cmp.Compare(a.seq, b.seq) })
	} else {
		SortByPriority(items)
	}
	if limit > 0 && len(items) > limit {
		items = items[:limit]
	}
	return items, nil
}

// RiskDetail is one risk with its context: the votes cast on it, the items
// it affects and its history. Its JSON is `usmhub risk show -json`: the
// risk as risk list prints it, its context as sibling keys.
type RiskDetail struct {
	Risk    Risk               `json:"risk"`
	Votes   []model.Vote       `json:"votes"`
	Affects []AffectedItem     `json:"affects"`
	History []model.AuditEntry `json:"history"`
}

// ShowRisk reads one risk (a key, a UUID, or a key as people type it) with
// its context and its priority now, in one consistent read.
func ShowRisk(ctx context.Context, st store.Store, cfg *config.Config, ref string) (RiskDetail, error) {
	out := RiskDetail{Affects: []AffectedItem{}}
	err := st.View(ctx, func(r store.Reader) error {
		risk, err := store.FindRisk(r, ref)
		if err != nil {
			return err
		}
		out.Risk = Scored(cfg, risk)
		if out.Votes, err = r.Votes(risk.ID); err != nil {
			return err
		}
		if out.Affects, err = affectedItems(r, risk.ID); err != nil {
			return err
		}
		return r.Audit(store.AuditFilter{EntityID: risk.ID}, func(a model.AuditEntry) error {
			out.History = append(out.History, a)
			return nil
		})
	})
	return out, err
}

// AffectedItem is an item a risk names: as the register holds it, or
// Missing when the register holds no item with that key (yet).
type AffectedItem struct {
	Key     string           `json:"key"`
	Name    string           `json:"name,omitempty"`
	Status  model.ItemStatus `json:"status,omitempty"`
	Source  string           `json:"source,omitempty"`
	Missing bool             `json:"missing,omitempty"`
}

// affectedItems lists the items a risk affects, in the order given.
func affectedItems(r store.Reader, riskID string) ([]AffectedItem, error) {
	keys, err := r.Affects(riskID)
	if err != nil {
		return nil, err
	}
	out := []AffectedItem{}
	for _, k := range keys {
		it, err := r.Item(k)
		switch {
		case errors.Is(err, store.ErrNotFound):
			out = append(out, AffectedItem{Key: k, Missing: true})
		case err != nil:
			return nil, err
		default:
			out = append(out, AffectedItem{Key: it.Key, Name: it.Name, Status: it.Status, Source: it.Source})
		}
	}
	return out, nil
}
