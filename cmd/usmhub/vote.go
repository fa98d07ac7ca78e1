package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

type voteCmd struct{}

func (voteCmd) Synopsis() string { return "Cast or retract a sounding-board vote on a risk" }

func (voteCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("vote", "vote R-n -voter NAME [-weight N] [-retract] [-json]")
	voter := fs.String("voter", "", "the sounding-board member who votes (required)")
	weight := fs.Int("weight", 1, "the vote's weight (≥ 1)")
	retract := fs.Bool("retract", false, "withdraw the voter's vote")
	asJSON := fs.Bool("json", false, "print the risk voted on as JSON (as risk list -json prints each)")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one risk, e.g. usmhub vote R-12 -voter ann")
	}
	if strings.TrimSpace(*voter) == "" {
		return e.usageErr(fs, "-voter is required")
	}
	if *weight < 1 {
		return e.usageErr(fs, "-weight must be 1 or more")
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	var r model.Risk
	err = st.Update(ctx, e.actor(), func(tx store.Tx) error {
		var err error
		if r, err = store.FindRisk(tx, pos[0]); err != nil {
			return err
		}
		if *retract {
			if err := tx.RetractVote(r.ID, *voter); err != nil {
				return err
			}
		} else {
			in, err := cfg.Initiative(r.Initiative)
			if err == nil && len(in.SoundingBoard) > 0 && !member(in.SoundingBoard, *voter) {
				return fmt.Errorf("%s is not on the sounding board of initiative %q (%s); add them to sounding_board in %s",
					*voter, in.Key, strings.Join(in.SoundingBoard, ", "), in.Range.Filename)
			}
			if err := tx.CastVote(model.Vote{RiskID: r.ID, Voter: *voter, Weight: *weight, CastAt: time.Now().UTC()}); err != nil {
				return err
			}
		}
		r, err = tx.Risk(r.ID)
		return err
	})
	if err != nil {
		return e.fail(fmt.Errorf("vote on %s: %w", pos[0], err))
	}
	if *asJSON {
		return e.printJSON(listItem(r, scorer(cfg, time.Now())))
	}
	verb := "voted on"
	if *retract {
		verb = "retracted the vote on"
	}
	fmt.Fprintf(e.stdout, "%s %s %s: %d vote(s) now\n", *voter, verb, r.Key, r.Votes)
	return exitOK
}

func member(list []string, name string) bool {
	for _, m := range list {
		if strings.EqualFold(strings.TrimSpace(m), strings.TrimSpace(name)) {
			return true
		}
	}
	return false
}
