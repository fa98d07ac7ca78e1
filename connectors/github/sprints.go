package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // GitHub's milestone dates round through America/Los_Angeles

	"github.com/google/go-github/v60/github"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// A hub sprint is a milestone: titled "Sprint N: goal", due on the sprint's
// last day, open while planned or active and closed when the sprint is. Its
// description carries the first day, the capacity and the hub marker
// ("[usmhub-…]", which Find looks for). Milestones are addressed by their
// number (the record's external id), never by their id. The sprint's items
// are the risk issues carrying the milestone, found by the key in their
// body's block.
//
// GitHub keeps a milestone's due date as a day in Pacific time: due_on
// 2026-12-14T00:00:00Z (the 13th, 16:00 in California) comes back as
// 2026-12-13T08:00:00Z. The connector sends the day at noon UTC (the same
// day in Pacific time) and reads due_on back in Pacific time, so the date
// round-trips exactly.

var pacific = mustLocation("America/Los_Angeles")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// dueOn is the due_on timestamp to send for a day (YYYY-MM-DD).
func dueOn(day string) (*github.Timestamp, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(day))
	if err != nil {
		return nil, fmt.Errorf("end %q is not a date (YYYY-MM-DD)", day)
	}
	return &github.Timestamp{Time: t.Add(12 * time.Hour)}, nil
}

// dueDay is the day a due_on timestamp stands for.
func dueDay(ts *github.Timestamp) string {
	if ts == nil || ts.IsZero() {
		return ""
	}
	return ts.In(pacific).Format("2006-01-02")
}

var (
	milestoneMarkerRE = regexp.MustCompile(`\[(usmhub-[^\]\s]+)\]`)
	sprintRE          = regexp.MustCompile(`^Sprint (\d+)(?:: (.*))?$`)
	startRE           = regexp.MustCompile(`from (\d{4}-\d{2}-\d{2})`)
	capacityRE        = regexp.MustCompile(`capacity ([0-9.]+)`)
)

// sprint is a sprint's canonical fields as a milestone holds them.
type sprint struct {
	number, goal, start, end, capacity, status string
}

func milestoneSprint(m *github.Milestone) sprint {
	s := sprint{end: dueDay(m.DueOn), status: m.GetState()}
	if mm := sprintRE.FindStringSubmatch(m.GetTitle()); mm != nil {
		s.number, s.goal = mm[1], mm[2]
	}
	if mm := startRE.FindStringSubmatch(m.GetDescription()); mm != nil {
		s.start = mm[1]
	}
	if mm := capacityRE.FindStringSubmatch(m.GetDescription()); mm != nil {
		s.capacity = strings.TrimRight(mm[1], ".")
	}
	if s.status == "open" {
		s.status = "planned"
	}
	return s
}

func milestoneMarker(m *github.Milestone) string {
	if mm := milestoneMarkerRE.FindStringSubmatch(m.GetDescription()); mm != nil {
		return mm[1]
	}
	return ""
}

func milestoneRecord(m *github.Milestone) sdk.Record {
	s := milestoneSprint(m)
	return sdk.Record{
		ExternalID: strconv.Itoa(m.GetNumber()),
		Version:    m.GetUpdatedAt().UTC().Format(time.RFC3339),
		UpdatedAt:  m.GetUpdatedAt().UTC(),
		Marker:     milestoneMarker(m),
		Fields: map[string]string{sdk.FieldSprintNumber: s.number, sdk.FieldSprintGoal: s.goal, sdk.FieldSprintStart: s.start,
			sdk.FieldSprintEnd: s.end, sdk.FieldSprintCapacity: s.capacity, sdk.FieldSprintStatus: s.status},
	}
}

// apply lays changed fields over s.
func (s *sprint) apply(f map[string]string) {
	for k, v := range f {
		v = normLine(v)
		switch k {
		case sdk.FieldSprintNumber:
			s.number = v
		case sdk.FieldSprintGoal:
			s.goal = v
		case sdk.FieldSprintStart:
			s.start = v
		case sdk.FieldSprintEnd:
			s.end = v
		case sdk.FieldSprintCapacity:
			s.capacity = canon(sdk.FieldEffort, v)
		case sdk.FieldSprintStatus:
			s.status = v
		}
	}
}

// milestoneState maps a sprint status to a milestone state.
func milestoneState(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "planned", "active", "open":
		return "open", nil
	case "closed":
		return "closed", nil
	}
	return "", fmt.Errorf("sprint status %q has no milestone state: use planned, active or closed (or map_status to open or closed)", s)
}

// request is the milestone to send.
func (s sprint) request(marker, state string) (*github.Milestone, error) {
	title := "Sprint " + s.number
	if s.goal != "" {
		title += ": " + s.goal
	}
	desc := "USM improvement sprint " + s.number
	if s.start != "" {
		desc += " from " + s.start
	}
	if s.end != "" {
		desc += " to " + s.end
	}
	if s.capacity != "" {
		desc += ", capacity " + s.capacity
	}
	desc += " [" + marker + "]"
	m := &github.Milestone{Title: &title, Description: &desc, State: &state}
	if s.end != "" {
		due, err := dueOn(s.end)
		if err != nil {
			return nil, err
		}
		m.DueOn = due
	}
	return m, nil
}

// milestones lists the repository's milestones, open and closed.
func (c *Connector) milestones(ctx context.Context, cfg *config, a *api) ([]*github.Milestone, error) {
	var all []*github.Milestone
	opts := &github.MilestoneListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 100, Page: 1}}
	for {
		list, resp, err := a.gh.Issues.ListMilestones(ctx, cfg.Owner, cfg.Repo, opts)
		if err = a.classify("list milestones of "+cfg.Owner+"/"+cfg.Repo, err); err != nil {
			return nil, err
		}
		all = append(all, list...)
		if resp == nil || resp.NextPage == 0 || len(list) == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

func (c *Connector) findMilestone(ctx context.Context, cfg *config, a *api, marker string) (*github.Milestone, error) {
	ms, err := c.milestones(ctx, cfg, a)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if milestoneMarker(m) == marker {
			return m, nil
		}
	}
	return nil, nil
}

// pushSprints creates and updates milestones and their issues.
func (c *Connector) pushSprints(ctx context.Context, cfg *config, a *api, changes []sdk.Change) ([]sdk.Result, error) {
	results := make([]sdk.Result, len(changes))
	var listed []*github.Milestone // read once per push, for creates
	for i, ch := range changes {
		var m *github.Milestone
		switch ch.Op {
		case sdk.OpCreate:
			if ch.Marker == "" {
				results[i].Err = sdk.Errorf(sdk.ClassInvalid, "a create needs the hub marker")
				continue
			}
			if listed == nil {
				ms, err := c.milestones(ctx, cfg, a)
				if err != nil {
					return nil, err
				}
				listed = append(ms, &github.Milestone{}) // non-nil even when empty
			}
			for _, l := range listed {
				if l.GetNumber() > 0 && milestoneMarker(l) == ch.Marker {
					m = l
				}
			}
		case sdk.OpUpdate:
			n, err := strconv.Atoi(ch.ExternalID)
			if err != nil || n <= 0 {
				results[i].Err = sdk.Errorf(sdk.ClassPermanent, "%q is not a milestone number", ch.ExternalID)
				continue
			}
			got, _, err := a.gh.Issues.GetMilestone(ctx, cfg.Owner, cfg.Repo, n)
			if err = a.classify(fmt.Sprintf("read milestone %d", n), err); err != nil {
				if errors.Is(err, errNotFound) {
					err = sdk.Errorf(sdk.ClassPermanent, "milestone %d is gone from %s/%s", n, cfg.Owner, cfg.Repo)
				}
				results[i].Err = asSDK(err)
				continue
			}
			m = got
		default:
			results[i].Err = sdk.Errorf(sdk.ClassInvalid, "the GitHub connector does not %s sprints", ch.Op)
			continue
		}
		res, err := c.pushSprint(ctx, cfg, a, ch, m)
		if err != nil {
			results[i].Err = asSDK(err)
			continue
		}
		results[i] = res
		if ch.Op == sdk.OpCreate && m == nil {
			n, _ := strconv.Atoi(res.ExternalID)
			desc := "[" + ch.Marker + "]"
			listed = append(listed, &github.Milestone{Number: &n, Description: &desc})
		}
	}
	return results, nil
}

// pushSprint makes milestone m (nil: a new one) hold the change, and its
// issues exactly the sprint's items.
func (c *Connector) pushSprint(ctx context.Context, cfg *config, a *api, ch sdk.Change, m *github.Milestone) (sdk.Result, error) {
	var s sprint
	marker := ch.Marker
	if m != nil {
		s = milestoneSprint(m)
		if mk := milestoneMarker(m); mk != "" {
			marker = mk
		}
	}
	s.apply(ch.Fields)
	state, err := milestoneState(s.status)
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.ClassInvalid, "%v", err)
	}
	if s.number == "" {
		return sdk.Result{}, sdk.Errorf(sdk.ClassInvalid, "a sprint needs its number")
	}
	items, itemsChanged := ch.Fields[sdk.FieldSprintItems]
	if ch.Op == sdk.OpCreate {
		itemsChanged = true
	}
	var issues map[string]int
	var missing []string
	if itemsChanged {
		if issues, missing, err = c.issuesByKey(ctx, cfg, a, splitItems(items)); err != nil {
			return sdk.Result{}, err
		}
		if len(missing) > 0 && m == nil {
			return sdk.Result{}, sdk.Errorf(sdk.ClassTransient, "risks %s have no issue in %s/%s yet: sync risks before sprints (put the risk sync block first); the sprint is created on the next run", strings.Join(missing, ", "), cfg.Owner, cfg.Repo)
		}
	}
	req, err := s.request(marker, state)
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.ClassInvalid, "%v", err)
	}
	var got *github.Milestone
	if m == nil {
		open := "open" // issues go into it before it closes
		req.State = &open
		got, _, err = a.gh.Issues.CreateMilestone(ctx, cfg.Owner, cfg.Repo, req)
		if err = a.classify("create milestone in "+cfg.Owner+"/"+cfg.Repo, err); err != nil {
			return sdk.Result{}, err
		}
	} else {
		got, _, err = a.gh.Issues.EditMilestone(ctx, cfg.Owner, cfg.Repo, m.GetNumber(), req)
		if err = a.classify(fmt.Sprintf("update milestone %d", m.GetNumber()), err); err != nil {
			return sdk.Result{}, err
		}
	}
	n := got.GetNumber()
	if itemsChanged {
		if err := c.setMilestoneIssues(ctx, cfg, a, n, issues); err != nil {
			return sdk.Result{}, err
		}
	}
	if got.GetState() != state {
		got, _, err = a.gh.Issues.EditMilestone(ctx, cfg.Owner, cfg.Repo, n, &github.Milestone{State: &state})
		if err = a.classify(fmt.Sprintf("update milestone %d", n), err); err != nil {
			return sdk.Result{}, err
		}
	}
	rec := milestoneRecord(got)
	res := sdk.Result{ExternalID: rec.ExternalID, Version: rec.Version}
	if len(missing) > 0 {
		res.Err = sdk.Errorf(sdk.ClassTransient, "milestone %d updated, but risks %s have no issue yet; retried on the next run", n, strings.Join(missing, ", "))
	}
	return res, nil
}

func splitItems(s string) []string {
	var out []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// issuesByKey finds the risk issues of the keys, by the key in their body's
// block, in one listing of the label's issues.
func (c *Connector) issuesByKey(ctx context.Context, cfg *config, a *api, keys []string) (map[string]int, []string, error) {
	found := map[string]int{}
	if len(keys) == 0 {
		return found, nil, nil
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	err := c.eachIssue(ctx, cfg, a, time.Time{}, func(list []*github.Issue, _ time.Time) error {
		for _, is := range list {
			k := normLine(parseBody(is.GetBody()).fields[sdk.FieldKey])
			if want[k] {
				if prev, dup := found[k]; !dup || is.GetNumber() < prev {
					found[k] = is.GetNumber()
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, k := range keys {
		if _, ok := found[k]; !ok {
			missing = append(missing, k)
		}
	}
	return found, missing, nil
}

// setMilestoneIssues makes exactly the given issues carry milestone n.
func (c *Connector) setMilestoneIssues(ctx context.Context, cfg *config, a *api, n int, issues map[string]int) error {
	in := map[int]bool{}
	opts := &github.IssueListByRepoOptions{Milestone: strconv.Itoa(n), State: "all", Labels: []string{cfg.Label},
		ListOptions: github.ListOptions{PerPage: 100, Page: 1}}
	for {
		list, resp, err := a.gh.Issues.ListByRepo(ctx, cfg.Owner, cfg.Repo, opts)
		if err = a.classify(fmt.Sprintf("list the issues of milestone %d", n), err); err != nil {
			return err
		}
		for _, is := range list {
			if !is.IsPullRequest() {
				in[is.GetNumber()] = true
			}
		}
		if resp == nil || resp.NextPage == 0 || len(list) == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	want := map[int]bool{}
	for _, num := range issues {
		want[num] = true
	}
	for num := range in {
		if !want[num] {
			_, _, err := a.gh.Issues.RemoveMilestone(ctx, cfg.Owner, cfg.Repo, num)
			if err = a.classify(fmt.Sprintf("take issue #%d out of milestone %d", num, n), err); err != nil && !errors.Is(err, errNotFound) {
				return err
			}
		}
	}
	for num := range want {
		if !in[num] {
			ms := n
			_, _, err := a.gh.Issues.Edit(ctx, cfg.Owner, cfg.Repo, num, &github.IssueRequest{Milestone: &ms})
			if err = a.classify(fmt.Sprintf("put issue #%d in milestone %d", num, n), err); err != nil {
				return err
			}
		}
	}
	return nil
}
