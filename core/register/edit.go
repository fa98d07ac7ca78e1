package register

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// Edit is a change of one risk: the named Fields take their values from
// Values (model.Risk.CopyFields), and, when SetAffects, the items it
// affects become Affects (replacing the list; empty clears it).
type Edit struct {
	Values     model.Risk
	Fields     []string
	SetAffects bool
	Affects    []string
}

// Update applies an edit to the risk ref names (a key, a UUID, or a key as
// people type it) in one transaction as actor. It returns the risk as
// stored, with its priority now, and whether anything changed: an edit
// that changes nothing stores nothing. A status move against the status
// flow, or a value Validate refuses, stores nothing and comes back as the
// error, on one line.
func Update(ctx context.Context, st store.Store, cfg *config.Config, actor store.Actor, ref string, ed Edit) (Risk, bool, error) {
	var r model.Risk
	var changed bool
	err := st.Update(ctx, actor, func(tx store.Tx) error {
		var err error
		if r, err = store.FindRisk(tx, ref); err != nil {
			return err
		}
		before := r
		if ed.SetAffects {
			old, err := tx.Affects(r.ID)
			if err != nil {
				return err
			}
			if strings.Join(old, ",") != strings.Join(ed.Affects, ",") {
				changed = true
				if err := tx.SetAffects(r.ID, ed.Affects); err != nil {
					return err
				}
			}
		}
		r.CopyFields(&ed.Values, ed.Fields...)
		if r == before {
			return nil
		}
		changed = true
		return tx.UpdateRisk(&r)
	})
	if err != nil {
		return Risk{}, false, fmt.Errorf("update %s: %w", ref, model.OneLine(err))
	}
	return Scored(cfg, r), changed, nil
}

// Vote casts voter's vote of weight on the risk ref names, or with retract
// withdraws it, in one transaction as actor, and returns the risk with its
// votes counted and its priority now. When the risk's initiative has a
// sounding board, only its members vote (names compared without case or
// surrounding blanks).
func Vote(ctx context.Context, st store.Store, cfg *config.Config, actor store.Actor, ref, voter string, weight int, retract bool) (Risk, error) {
	var r model.Risk
	err := st.Update(ctx, actor, func(tx store.Tx) error {
		var err error
		if r, err = store.FindRisk(tx, ref); err != nil {
			return err
		}
		if retract {
			if err := tx.RetractVote(r.ID, voter); err != nil {
				return err
			}
		} else {
			in, err := cfg.Initiative(r.Initiative)
			if err == nil && len(in.SoundingBoard) > 0 && !member(in.SoundingBoard, voter) {
				return fmt.Errorf("%s is not on the sounding board of initiative %q (%s); add them to sounding_board in %s",
					voter, in.Key, strings.Join(in.SoundingBoard, ", "), in.Range.Filename)
			}
			if err := tx.CastVote(model.Vote{RiskID: r.ID, Voter: voter, Weight: weight, CastAt: time.Now().UTC()}); err != nil {
				return err
			}
		}
		r, err = tx.Risk(r.ID)
		return err
	})
	if err != nil {
		return Risk{}, fmt.Errorf("vote on %s: %w", ref, err)
	}
	return Scored(cfg, r), nil
}

func member(list []string, name string) bool {
	for _, m := range list {
		if strings.EqualFold(strings.TrimSpace(m), strings.TrimSpace(name)) {
			return true
		}
	}
	return false
}

// Draft is r ready to add: in the initiative named (empty: the only one),
// its fields checked. A risk Validate refuses comes back as an error on
// one line, before anything is opened or stored.
func Draft(cfg *config.Config, initiative string, r model.Risk) (model.Risk, error) {
	in, err := cfg.Initiative(initiative)
	if err != nil {
		return r, err
	}
	r.Initiative = in.Key
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("risk not added: %w", model.OneLine(err))
	}
	return r, nil
}

// Add stores a new risk (a Draft) in one transaction as actor and returns
// it with its priority now; the store gives it its id and, when it has
// none, the next key R-n.
func Add(ctx context.Context, st store.Store, cfg *config.Config, actor store.Actor, r model.Risk) (Risk, error) {
	err := st.Update(ctx, actor, func(tx store.Tx) error { return tx.CreateRisk(&r) })
	if err != nil {
		return Risk{}, fmt.Errorf("add risk: %w", err)
	}
	return Scored(cfg, r), nil
}
