package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// Votes are 👍 reactions on risk issues by the logins in voters. GitHub
// keeps no trace of a removed reaction, so every vote pull is complete: it
// lists the label's issues and, for those with 👍 reactions, the reactions
// (conditional requests: a quiet pull is answered 304 throughout), and
// returns an empty cursor, which makes the hub treat the listing as full
// and withdraw the votes it no longer holds. A vote record's id is
// "<issue number>/<login>", its risk the issue's hub marker, its weight 1.

// pullVotes sends the votes of voters on the risk issues.
func (c *Connector) pullVotes(ctx context.Context, cfg *config, a *api, send func(sdk.Batch) error) error {
	voters := map[string]string{}
	for login, member := range cfg.Voters {
		voters[strings.ToLower(strings.TrimSpace(login))] = strings.TrimSpace(member)
	}
	var batch sdk.Batch
	err := c.eachIssue(ctx, cfg, a, time.Time{}, func(list []*github.Issue, _ time.Time) error {
		for _, is := range list {
			if is.Reactions == nil || is.Reactions.GetPlusOne() == 0 || len(voters) == 0 {
				continue
			}
			marker := parseBody(is.GetBody()).marker
			if marker == "" {
				continue // not (yet) a hub risk
			}
			recs, err := c.issueVotes(ctx, cfg, a, is.GetNumber(), marker, voters)
			if err != nil {
				return err
			}
			batch.Records = append(batch.Records, recs...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return send(batch)
}

// issueVotes lists the 👍 reactions on one issue.
func (c *Connector) issueVotes(ctx context.Context, cfg *config, a *api, n int, marker string, voters map[string]string) ([]sdk.Record, error) {
	var out []sdk.Record
	seen := map[string]bool{}
	opts := &github.ListOptions{PerPage: 100, Page: 1}
	for {
		list, resp, err := a.gh.Reactions.ListIssueReactions(ctx, cfg.Owner, cfg.Repo, n, opts)
		if err = a.classify(fmt.Sprintf("list reactions of issue #%d", n), err); err != nil {
			return nil, err
		}
		for _, r := range list {
			login := strings.ToLower(r.GetUser().GetLogin())
			member, ok := voters[login]
			if r.GetContent() != "+1" || !ok || seen[login] {
				continue
			}
			seen[login] = true
			out = append(out, sdk.Record{
				ExternalID: strconv.Itoa(n) + "/" + login,
				Version:    strconv.FormatInt(r.GetID(), 10),
				Fields:     map[string]string{sdk.FieldVoteRisk: marker, sdk.FieldVoteVoter: member, sdk.FieldVoteWeight: "1"},
			})
		}
		if resp == nil || resp.NextPage == 0 || len(list) == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}
