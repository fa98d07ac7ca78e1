package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/usmhub/usmhub/core/register"
)

func runVote(ctx context.Context, e *env, args []string) int {
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
	cfg, st, err := e.open(ctx)
	if err != nil {
		return e.fail(err)
	}
	r, err := register.Vote(ctx, st, cfg, e.actor(), pos[0], *voter, *weight, *retract)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(r)
	}
	verb := "voted on"
	if *retract {
		verb = "retracted the vote on"
	}
	fmt.Fprintf(e.stdout, "%s %s %s: %d vote(s) now\n", *voter, verb, r.Key, r.Votes)
	return exitOK
}
