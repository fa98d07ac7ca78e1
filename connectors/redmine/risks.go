package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// defaultLookback widens an incremental pull when the hub leaves the
// choice to the connector: Redmine stamps updated_on when it saves, so a
// slow save may land behind a listing that already moved past it.
const defaultLookback = time.Minute

// cursorPrefix marks the connector's cursors: "rm1:" and the updated_on of
// the newest issue delivered (RFC 3339), or nothing when none was.
const cursorPrefix = "rm1:"

func encodeCursor(t time.Time) string {
	if t.IsZero() {
		return cursorPrefix
	}
	return cursorPrefix + t.UTC().Format(time.RFC3339)
}

func parseCursor(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	rest, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return time.Time{}, sdk.Errorf(sdk.ClassInvalid, "cursor %q was not made by the Redmine connector (want %s<time>); run a full sync (usmhub sync -full) to start over", s, cursorPrefix)
	}
	if rest == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, rest)
	if err != nil {
		return time.Time{}, sdk.Errorf(sdk.ClassInvalid, "cursor %q holds no valid time: %v; run a full sync (usmhub sync -full) to start over", s, err)
	}
	return t, nil
}

// redmineTime is the only updated_on filter spelling Redmine 5 takes
// exactly: UTC with Z (an offset like +00:00 is refused with 422).
func redmineTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// Every listing of the project's issues says subproject_id=!*: Redmine
// lists the issues of subprojects with their parent's by default, and the
// connector keeps exactly the configured project.

// issueList is a page of /issues.json.
type issueList struct {
	Issues     []issue `json:"issues"`
	TotalCount int     `json:"total_count"`
	Offset     int     `json:"offset"`
	Limit      int     `json:"limit"`
}

// problemErr turns a config problem found on the remote into a permanent
// error (other errors pass through).
func problemErr(err error) error {
	var cp *configProblem
	if errors.As(err, &cp) {
		return sdk.Errorf(sdk.ClassPermanent, "%s", cp.Error())
	}
	return err
}

// Pull lists the risk issues changed since the cursor (all of them without
// one), oldest change first, one page per batch. Each page asks for the
// issues updated at or after the newest one already delivered, skipping
// those of that second already seen, so that an issue updated while the
// pull pages on is not skipped over (Redmine's own offsets would shift).
func (c *Connector) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	if req.Kind != sdk.KindRisk {
		return sdk.Errorf(sdk.ClassPermanent, "the Redmine connector does not pull %ss (it pulls risks; sprints are pushed)", req.Kind)
	}
	cfg, api, md, err := c.state()
	if err != nil {
		return err
	}
	from, err := parseCursor(req.Cursor)
	if err != nil {
		return err
	}
	tracker, err := md.trackerID(ctx, api, "tracker", cfg.Tracker)
	if err != nil {
		return problemErr(err)
	}
	lookback := req.Lookback
	if lookback <= 0 {
		lookback = defaultLookback
	}
	var since time.Time // the lower bound of the next page, zero for none
	if !from.IsZero() {
		since = from.Add(-lookback)
	}
	newest := from // the cursor's time: the newest updated_on delivered
	skip := 0      // issues of the second `since` already delivered
	sent := false
	for {
		q := url.Values{
			"project_id": {cfg.Project}, "subproject_id": {"!*"}, "tracker_id": {strconv.Itoa(tracker)}, "status_id": {"*"},
			"sort": {"updated_on:asc,id:asc"}, "limit": {strconv.Itoa(cfg.pageSize)}, "offset": {strconv.Itoa(skip)},
		}
		if !since.IsZero() {
			q.Set("updated_on", ">="+redmineTime(since))
		}
		var page issueList
		if _, err := api.do(ctx, "GET", "issues.json", q, nil, &page); err != nil {
			return err
		}
		md.observe(page.Issues)
		batch := sdk.Batch{Records: make([]sdk.Record, 0, len(page.Issues))}
		for i := range page.Issues {
			is := &page.Issues[i]
			rec, err := c.riskRecord(ctx, cfg, api, md, is)
			if err != nil {
				return err
			}
			batch.Records = append(batch.Records, rec)
			t := is.UpdatedOn.UTC()
			if t.After(newest) {
				newest = t
			}
			if t.Equal(since) {
				skip++
			} else {
				since, skip = t, 1
			}
		}
		batch.Cursor = encodeCursor(newest)
		if len(batch.Records) > 0 || !sent {
			if err := send(batch); err != nil {
				return err
			}
			sent = true
		}
		if len(page.Issues) == 0 || page.Offset+len(page.Issues) >= page.TotalCount {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return sdk.Errorf(sdk.ClassTransient, "pull: %v", err)
		}
	}
}

// filterBudget bounds the length of the values of one list filter
// (cf_N=a|b|c). Redmine keeps an issue listing's filters in the session
// cookie even for API requests, and answers 500 (CookieOverflow) when they
// pass about 1,700 characters; markers are 43 characters, so one request
// looks up 25 or so.
const filterBudget = 1100

// chunks splits values into lists whose joined length fits filterBudget
// (and at most 100 values, Redmine's page size).
func chunks(values []string) [][]string {
	var out [][]string
	var cur []string
	size := 0
	for _, v := range values {
		if len(cur) > 0 && (size+len(v) > filterBudget || len(cur) == 100) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, v)
		size += len(v) + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// findIssues returns the risk issues carrying any of the markers, by
// marker. Markers are looked up in as few requests as the URL length
// allows; every answer is checked, since Redmine ignores a filter on a
// custom field that is not "used as a filter" and would list everything.
func (c *Connector) findIssues(ctx context.Context, cfg *config, api *client, md *metadata, markers []string) (map[string]*issue, error) {
	out := map[string]*issue{}
	if len(markers) == 0 {
		return out, nil
	}
	markerCF, err := md.cfID(ctx, api, "marker_field", cfg.cfRef(""))
	if err != nil {
		return nil, problemErr(err)
	}
	tracker, err := md.trackerID(ctx, api, "tracker", cfg.Tracker)
	if err != nil {
		return nil, problemErr(err)
	}
	want := map[string]bool{}
	var list []string
	for _, m := range markers {
		if m != "" && !want[m] && !strings.Contains(m, "|") {
			want[m] = true
			list = append(list, m)
		}
	}
	for _, chunk := range chunks(list) {
		q := url.Values{"project_id": {cfg.Project}, "subproject_id": {"!*"}, "tracker_id": {strconv.Itoa(tracker)}, "status_id": {"*"},
			"cf_" + strconv.Itoa(markerCF): {strings.Join(chunk, "|")}, "sort": {"id:asc"}, "limit": {"100"}}
		for offset := 0; ; {
			q.Set("offset", strconv.Itoa(offset))
			var page issueList
			if _, err := api.do(ctx, "GET", "issues.json", q, nil, &page); err != nil {
				return nil, err
			}
			for i := range page.Issues {
				is := page.Issues[i]
				m, _ := is.cf(strconv.Itoa(markerCF))
				m = strings.TrimSpace(m)
				if !want[m] {
					// Redmine dropped the filter: the field is no filter.
					return nil, sdk.Errorf(sdk.ClassPermanent, "Redmine ignores the filter on custom field %q and lists issues without the markers asked for: tick \"Used as a filter\" on it (Administration → Custom fields)", cfg.cfRef(""))
				}
				if out[m] == nil {
					out[m] = &is
				}
			}
			offset += len(page.Issues)
			if len(page.Issues) == 0 || offset >= page.TotalCount {
				break
			}
		}
	}
	return out, nil
}

// Find returns the risk issue, or the sprint version, carrying the marker.
func (c *Connector) Find(ctx context.Context, kind sdk.EntityKind, marker string) (*sdk.Record, error) {
	cfg, api, md, err := c.state()
	if err != nil {
		return nil, err
	}
	switch kind {
	case sdk.KindRisk:
		found, err := c.findIssues(ctx, cfg, api, md, []string{marker})
		if err != nil {
			return nil, err
		}
		is := found[marker]
		if is == nil {
			return nil, nil
		}
		rec, err := c.riskRecord(ctx, cfg, api, md, is)
		if err != nil {
			return nil, err
		}
		return &rec, nil
	case sdk.KindSprint:
		v, err := c.findVersion(ctx, cfg, api, marker)
		if err != nil || v == nil {
			return nil, err
		}
		rec := v.record()
		return &rec, nil
	}
	return nil, sdk.Errorf(sdk.ClassPermanent, "the Redmine connector does not keep %ss", kind)
}

// Push applies changes of risks (issues) or sprints (versions).
func (c *Connector) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	cfg, api, md, err := c.state()
	if err != nil {
		return nil, err
	}
	switch req.Kind {
	case sdk.KindRisk:
		return c.pushRisks(ctx, cfg, api, md, req.Changes)
	case sdk.KindSprint:
		return c.pushSprints(ctx, cfg, api, md, req.Changes)
	}
	return nil, sdk.Errorf(sdk.ClassPermanent, "the Redmine connector does not push %ss (it pushes risks and sprints)", req.Kind)
}

// canon is a risk field's value as the connector stores and compares it.
func canon(field, v string) string {
	switch field {
	case sdk.FieldDescription:
		return normText(v)
	case sdk.FieldLikelihood, sdk.FieldImpact:
		return normInt(v)
	case sdk.FieldEffort:
		return normNumber(v)
	case sdk.FieldKind, sdk.FieldProcess:
		return strings.ToLower(normLine(v))
	case sdk.FieldStatus, sdk.FieldOwner:
		return strings.TrimSpace(v)
	}
	return normLine(v)
}

// validate refuses values the hub's model would refuse, before any request.
func validate(f map[string]string) *sdk.Error {
	for _, k := range []string{sdk.FieldLikelihood, sdk.FieldImpact} {
		v, ok := f[k]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 5 {
			return sdk.Errorf(sdk.ClassInvalid, "%s %q is not a whole number from 1 to 5", k, v)
		}
	}
	if v, ok := f[sdk.FieldEffort]; ok {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || x < 0 {
			return sdk.Errorf(sdk.ClassInvalid, "effort %q is not a number of zero or more", v)
		}
	}
	if v, ok := f[sdk.FieldTitle]; ok && normLine(v) == "" {
		return sdk.Errorf(sdk.ClassInvalid, "a risk needs a title (an issue needs a subject)")
	}
	return nil
}

// issuePayload builds the "issue" object of a POST or PUT.
func (c *Connector) issuePayload(ctx context.Context, cfg *config, api *client, md *metadata, f map[string]string, marker string) (map[string]any, error) {
	p := map[string]any{}
	var cfs []map[string]any
	for k, v := range f {
		v = canon(k, v)
		switch k {
		case sdk.FieldTitle:
			p["subject"] = v
		case sdk.FieldDescription:
			p["description"] = v
		case sdk.FieldStatus:
			if v == "" {
				continue
			}
			st, err := md.status(ctx, api, v)
			if err != nil {
				var se *sdk.Error
				if errors.As(err, &se) {
					return nil, err
				}
				return nil, sdk.Errorf(sdk.ClassInvalid, "%v", err)
			}
			p["status_id"] = st.ID
		case sdk.FieldOwner:
			if v == "" {
				p["assigned_to_id"] = ""
				continue
			}
			id, err := md.userID(ctx, api, v)
			if errors.Is(err, errNoUser) {
				// Not a Redmine login: the issue stays unassigned and
				// the hub keeps its owner (pulls leave it out).
				p["assigned_to_id"] = ""
				continue
			}
			if err != nil {
				return nil, err
			}
			p["assigned_to_id"] = id
		default:
			ref := cfg.cfRef(k)
			if ref == "" {
				continue // not kept in Redmine
			}
			id, err := md.cfID(ctx, api, attrOf(k), ref)
			if err != nil {
				return nil, problemErr(err)
			}
			cfs = append(cfs, map[string]any{"id": id, "value": v})
		}
	}
	if marker != "" {
		id, err := md.cfID(ctx, api, "marker_field", cfg.cfRef(""))
		if err != nil {
			return nil, problemErr(err)
		}
		cfs = append(cfs, map[string]any{"id": id, "value": marker})
	}
	if len(cfs) > 0 {
		p["custom_fields"] = cfs
	}
	return p, nil
}

// attrOf names the config attribute of a canonical field's custom field.
func attrOf(canonical string) string {
	for _, f := range customFields {
		if f.canonical == canonical {
			return f.attr
		}
	}
	return ""
}

// pushRisks applies risk changes in order. Creates are idempotent: the
// issues already carrying the batch's markers are looked up first (in one
// listing) and returned instead of created again. Redmine answers a PUT
// with 204 and no body, even when its workflow silently refused a status
// change, so the updated issues are read back (in one listing) and every
// field sent is compared with what Redmine now holds.
func (c *Connector) pushRisks(ctx context.Context, cfg *config, api *client, md *metadata, changes []sdk.Change) ([]sdk.Result, error) {
	results := make([]sdk.Result, len(changes))
	var markers []string
	for i, ch := range changes {
		if ch.Op == sdk.OpCreate || ch.Op == sdk.OpUpdate {
			if e := validate(ch.Fields); e != nil {
				results[i].Err = e
				continue
			}
		}
		if ch.Op == sdk.OpCreate {
			if ch.Marker == "" {
				results[i].Err = sdk.Errorf(sdk.ClassInvalid, "a create needs the hub marker")
				continue
			}
			markers = append(markers, ch.Marker)
		}
	}
	existing, err := c.findIssues(ctx, cfg, api, md, markers)
	if err != nil {
		return nil, err
	}
	tracker, err := md.trackerID(ctx, api, "tracker", cfg.Tracker)
	if err != nil {
		return nil, problemErr(err)
	}

	// Optimistic concurrency: an update carrying the version the hub last
	// saw is refused with class conflict when the issue changed since (its
	// canonical fields differ); the updated issues are read in one listing.
	var check []int
	for i, ch := range changes {
		if ch.Op == sdk.OpUpdate && ch.Version != "" && results[i].Err == nil {
			if id, err := strconv.Atoi(ch.ExternalID); err == nil && id > 0 {
				check = append(check, id)
			}
		}
	}
	before, err := c.readIssues(ctx, api, md, check)
	if err != nil {
		return nil, err
	}
	for i, ch := range changes {
		if ch.Op != sdk.OpUpdate || ch.Version == "" || results[i].Err != nil {
			continue
		}
		id, _ := strconv.Atoi(ch.ExternalID)
		is, ok := before[id]
		if !ok {
			continue // the update reports it gone
		}
		if rec := issueRecord(cfg, is); rec.Version != ch.Version {
			results[i].Err = sdk.Errorf(sdk.ClassConflict, "issue #%d changed in Redmine since the hub read it (version %s, now %s): pull and merge first", id, ch.Version, issueRecord(cfg, is).Version)
		}
	}

	var transient *sdk.Error  // once Redmine is failing, the rest waits
	reread := map[int][]int{} // issue id → indexes of updates to confirm
	for i, ch := range changes {
		if results[i].Err != nil {
			continue
		}
		if transient != nil {
			results[i].Err = transient
			continue
		}
		var err error
		switch ch.Op {
		case sdk.OpCreate:
			results[i], err = c.createIssue(ctx, cfg, api, md, tracker, ch, existing[ch.Marker])
			if err == nil && results[i].Err == nil {
				// A second create of the same marker in this batch finds it.
				id, _ := strconv.Atoi(results[i].ExternalID)
				existing[ch.Marker] = &issue{ID: id}
			}
		case sdk.OpUpdate:
			var id int
			if id, err = strconv.Atoi(ch.ExternalID); err != nil || id <= 0 {
				results[i].Err = sdk.Errorf(sdk.ClassPermanent, "%q is not a Redmine issue id", ch.ExternalID)
				continue
			}
			err = c.updateIssue(ctx, cfg, api, md, id, ch)
			if err == nil {
				results[i].ExternalID = ch.ExternalID
				reread[id] = append(reread[id], i)
			}
		case sdk.OpDelete:
			results[i].ExternalID = ch.ExternalID
			_, err = api.do(ctx, "DELETE", "issues/"+url.PathEscape(ch.ExternalID)+".json", nil, nil, nil)
			if errors.Is(err, errNotFound) {
				err = nil // already gone: a retried delete is harmless
			}
		default:
			err = sdk.Errorf(sdk.ClassInvalid, "unknown operation %q", ch.Op)
		}
		if err != nil {
			e := asSDK(err)
			if e.Class == sdk.ClassTransient {
				transient = e
			}
			results[i].Err = e
		}
	}
	if err := c.confirmUpdates(ctx, cfg, api, md, changes, results, reread); err != nil {
		return nil, err
	}
	for i, ch := range changes {
		if results[i].ExternalID == "" && ch.Op != sdk.OpCreate {
			results[i].ExternalID = ch.ExternalID // failures name their issue too
		}
	}
	return results, nil
}

// createIssue creates the issue of a change, or returns the one already
// carrying its marker.
func (c *Connector) createIssue(ctx context.Context, cfg *config, api *client, md *metadata, tracker int, ch sdk.Change, found *issue) (sdk.Result, error) {
	if found != nil && found.ID > 0 {
		if found.Subject == "" && found.UpdatedOn.IsZero() {
			// Created earlier in this batch: read it.
			var out struct {
				Issue issue `json:"issue"`
			}
			if _, err := api.do(ctx, "GET", fmt.Sprintf("issues/%d.json", found.ID), nil, nil, &out); err != nil {
				return sdk.Result{}, err
			}
			found = &out.Issue
		}
		rec, err := c.riskRecord(ctx, cfg, api, md, found)
		if err != nil {
			return sdk.Result{}, err
		}
		return sdk.Result{ExternalID: rec.ExternalID, Version: rec.Version, Fields: rec.Fields}, nil
	}
	p, err := c.issuePayload(ctx, cfg, api, md, ch.Fields, ch.Marker)
	if err != nil {
		return sdk.Result{}, err
	}
	p["project_id"] = cfg.Project
	p["tracker_id"] = tracker
	if _, ok := p["subject"]; !ok {
		return sdk.Result{Err: sdk.Errorf(sdk.ClassInvalid, "a risk needs a title (an issue needs a subject)")}, nil
	}
	if p["assigned_to_id"] == "" {
		delete(p, "assigned_to_id")
	}
	var out struct {
		Issue issue `json:"issue"`
	}
	if _, err := api.do(ctx, "POST", "issues.json", nil, map[string]any{"issue": p}, &out); err != nil {
		return sdk.Result{}, err
	}
	rec, err := c.riskRecord(ctx, cfg, api, md, &out.Issue)
	if err != nil {
		return sdk.Result{}, err
	}
	// Redmine may start the issue in another status than asked (its
	// workflow for new issues): the result says what it holds, so the hub
	// pushes the status again as an update, where a refusal is reported.
	return sdk.Result{ExternalID: rec.ExternalID, Version: rec.Version, Fields: rec.Fields}, nil
}

// updateIssue sends the changed fields of one issue.
func (c *Connector) updateIssue(ctx context.Context, cfg *config, api *client, md *metadata, id int, ch sdk.Change) error {
	p, err := c.issuePayload(ctx, cfg, api, md, ch.Fields, ch.Marker)
	if err != nil {
		return err
	}
	_, err = api.do(ctx, "PUT", fmt.Sprintf("issues/%d.json", id), nil, map[string]any{"issue": p}, nil)
	if errors.Is(err, errNotFound) {
		return sdk.Errorf(sdk.ClassPermanent, "issue #%d is gone from Redmine (deleted, or moved out of reach of the API key)", id)
	}
	return err
}

// confirmUpdates reads the updated issues back and fails each update whose
// values Redmine did not store.
func (c *Connector) confirmUpdates(ctx context.Context, cfg *config, api *client, md *metadata, changes []sdk.Change, results []sdk.Result, reread map[int][]int) error {
	if len(reread) == 0 {
		return nil
	}
	ids := make([]int, 0, len(reread))
	for id := range reread {
		ids = append(ids, id)
	}
	got, err := c.readIssues(ctx, api, md, ids)
	if err != nil {
		// The updates happened; only their confirmation is missing.
		e := asSDK(err)
		for _, idxs := range reread {
			for _, i := range idxs {
				results[i].Err = sdk.Errorf(e.Class, "the update was sent but could not be read back: %s", e.Message)
			}
		}
		return nil
	}
	for id, idxs := range reread {
		is := got[id]
		for _, i := range idxs {
			if is == nil {
				results[i].Err = sdk.Errorf(sdk.ClassPermanent, "issue #%d could not be read back after its update (gone, or moved out of the API key's reach)", id)
				continue
			}
			// The owner's login costs a look-up: only when it was sent.
			rec := issueRecord(cfg, is)
			if _, sent := changes[i].Fields[sdk.FieldOwner]; sent {
				full, err := c.riskRecord(ctx, cfg, api, md, is)
				if err != nil {
					results[i].Err = asSDK(err)
					continue
				}
				rec = full
			}
			results[i].Version, results[i].Fields = rec.Version, rec.Fields
			if e := refused(id, changes[i].Fields, rec.Fields, cfg); e != nil {
				results[i].Err = e
			}
		}
	}
	return nil
}

// readIssues reads issues by id, 100 per listing request.
func (c *Connector) readIssues(ctx context.Context, api *client, md *metadata, ids []int) (map[int]*issue, error) {
	got := map[int]*issue{}
	for start := 0; start < len(ids); start += 100 {
		chunk := make([]string, 0, 100)
		for _, id := range ids[start:min(start+100, len(ids))] {
			chunk = append(chunk, strconv.Itoa(id))
		}
		q := url.Values{"issue_id": {strings.Join(chunk, ",")}, "status_id": {"*"}, "limit": {"100"}}
		var page issueList
		if _, err := api.do(ctx, "GET", "issues.json", q, nil, &page); err != nil {
			return nil, err
		}
		md.observe(page.Issues)
		for i := range page.Issues {
			got[page.Issues[i].ID] = &page.Issues[i]
		}
	}
	return got, nil
}

// refused compares what was sent with what Redmine holds now.
func refused(id int, sent, now map[string]string, cfg *config) *sdk.Error {
	var problems []string
	for k, v := range sent {
		want := canon(k, v)
		have, kept := now[k]
		switch {
		case k == sdk.FieldStatus:
			if want != "" && !strings.EqualFold(want, have) {
				return sdk.Errorf(sdk.ClassInvalid, "Redmine did not change the status of issue #%d to %q: it is still %q. Redmine answers such an update with success but its workflow refused the transition for the roles of the API key's user; allow it in Administration → Workflow, or map the hub's status (map_status) to one the workflow allows", id, want, have)
			}
		case k == sdk.FieldOwner:
			if kept && !strings.EqualFold(want, have) {
				problems = append(problems, fmt.Sprintf("assignee %q (it holds %q; is the user a member of the project with an assignable role?)", want, have))
			}
		case !kept:
			if cfg.cfRef(k) != "" && want != "" {
				problems = append(problems, fmt.Sprintf("%s %q (the issue has no custom field %q: enable it for tracker %q in Administration → Custom fields)", k, want, cfg.cfRef(k), cfg.Tracker))
			}
		case want != have:
			problems = append(problems, fmt.Sprintf("%s %q (it holds %q)", k, want, have))
		}
	}
	if len(problems) > 0 {
		return sdk.Errorf(sdk.ClassInvalid, "Redmine did not store on issue #%d: %s", id, strings.Join(problems, "; "))
	}
	return nil
}
