package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// A hub sprint is a Redmine version of the project: named "Sprint N: goal",
// due on the sprint's last day, open while planned or active and closed
// when the sprint is. Its description carries the first day, the capacity
// and the hub marker ("[usmhub-…]", which Find looks for). The sprint's
// items are the risk issues whose target version it is; they are found by
// the key custom field.

// rmVersion is a version as Redmine's JSON gives it.
type rmVersion struct {
	ID          int       `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	DueDate     string    `json:"due_date"`
	UpdatedOn   time.Time `json:"updated_on"`
}

var (
	markerRE   = regexp.MustCompile(`\[(usmhub-[^\]\s]+)\]`)
	sprintRE   = regexp.MustCompile(`^Sprint (\d+)(?:: (.*))?$`)
	startRE    = regexp.MustCompile(`from (\d{4}-\d{2}-\d{2})`)
	capacityRE = regexp.MustCompile(`capacity ([0-9.]+)`)
)

func (v *rmVersion) marker() string {
	if m := markerRE.FindStringSubmatch(v.Description); m != nil {
		return m[1]
	}
	return ""
}

// sprint is a sprint's canonical fields as a version holds them.
type sprint struct {
	number, goal, start, end, capacity, status string
}

func (v *rmVersion) sprint() sprint {
	s := sprint{end: v.DueDate, status: v.Status}
	if m := sprintRE.FindStringSubmatch(v.Name); m != nil {
		s.number, s.goal = m[1], m[2]
	}
	if m := startRE.FindStringSubmatch(v.Description); m != nil {
		s.start = m[1]
	}
	if m := capacityRE.FindStringSubmatch(v.Description); m != nil {
		s.capacity = strings.TrimRight(m[1], ".")
	}
	return s
}

func (v *rmVersion) record() sdk.Record {
	s := v.sprint()
	return sdk.Record{
		ExternalID: strconv.Itoa(v.ID),
		Version:    v.UpdatedOn.UTC().Format(time.RFC3339),
		UpdatedAt:  v.UpdatedOn.UTC(),
		Marker:     v.marker(),
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
			s.capacity = normNumber(v)
		case sdk.FieldSprintStatus:
			s.status = v
		}
	}
}

// versionStatus maps a sprint status (the hub's, or Redmine's through
// map_status) to a version status.
func versionStatus(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "planned", "active", "open":
		return "open", nil
	case "locked":
		return "locked", nil
	case "closed":
		return "closed", nil
	}
	return "", fmt.Errorf("sprint status %q has no Redmine version status: use planned, active or closed (or map_status to open, locked or closed)", s)
}

// payload is the version object for a POST or PUT (without status).
func (s sprint) payload(marker string) map[string]any {
	name := "Sprint " + s.number
	if s.goal != "" {
		name += ": " + s.goal
	}
	if len([]rune(name)) > 60 { // Redmine's limit on version names
		name = string([]rune(name)[:59]) + "…"
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
	if len([]rune(desc)) > 255 {
		desc = "[" + marker + "] " + s.number
	}
	return map[string]any{"name": name, "description": desc, "due_date": s.end, "sharing": "none"}
}

// versions lists the project's versions (Redmine does not page them).
func (c *Connector) versions(ctx context.Context, cfg *config, api *client) ([]rmVersion, error) {
	var out struct {
		Versions []rmVersion `json:"versions"`
	}
	_, err := api.do(ctx, "GET", "projects/"+url.PathEscape(cfg.Project)+"/versions.json", nil, nil, &out)
	if errors.Is(err, errNotFound) {
		return nil, sdk.Errorf(sdk.ClassPermanent, "project: Redmine has no project %q, or the API key's user cannot see it", cfg.Project)
	}
	return out.Versions, err
}

func (c *Connector) findVersion(ctx context.Context, cfg *config, api *client, marker string) (*rmVersion, error) {
	vs, err := c.versions(ctx, cfg, api)
	if err != nil {
		return nil, err
	}
	for i := range vs {
		if vs[i].marker() == marker {
			return &vs[i], nil
		}
	}
	return nil, nil
}

// pushSprints creates and updates versions and their issues.
func (c *Connector) pushSprints(ctx context.Context, cfg *config, api *client, md *metadata, changes []sdk.Change) ([]sdk.Result, error) {
	results := make([]sdk.Result, len(changes))
	var listed []rmVersion // the project's versions, read once per push
	for i, ch := range changes {
		var v *rmVersion
		switch ch.Op {
		case sdk.OpCreate:
			if ch.Marker == "" {
				results[i].Err = sdk.Errorf(sdk.ClassInvalid, "a create needs the hub marker")
				continue
			}
			if listed == nil {
				vs, err := c.versions(ctx, cfg, api)
				if err != nil {
					return nil, err
				}
				listed = append(vs, rmVersion{}) // non-nil even when empty
			}
			for j := range listed {
				if listed[j].ID > 0 && listed[j].marker() == ch.Marker {
					v = &listed[j]
				}
			}
		case sdk.OpUpdate:
			id, err := strconv.Atoi(ch.ExternalID)
			if err != nil || id <= 0 {
				results[i].Err = sdk.Errorf(sdk.ClassPermanent, "%q is not a Redmine version id", ch.ExternalID)
				continue
			}
			var out struct {
				Version rmVersion `json:"version"`
			}
			if _, err := api.do(ctx, "GET", fmt.Sprintf("versions/%d.json", id), nil, nil, &out); err != nil {
				if errors.Is(err, errNotFound) {
					err = sdk.Errorf(sdk.ClassPermanent, "version %d is gone from Redmine", id)
				}
				results[i].Err = asSDK(err)
				continue
			}
			v = &out.Version
		default:
			results[i].Err = sdk.Errorf(sdk.ClassInvalid, "the Redmine connector does not %s sprints", ch.Op)
			continue
		}
		res, err := c.pushSprint(ctx, cfg, api, md, ch, v)
		if err != nil {
			results[i].Err = asSDK(err)
			continue
		}
		results[i] = res
		if ch.Op == sdk.OpCreate && v == nil {
			id, _ := strconv.Atoi(res.ExternalID)
			listed = append(listed, rmVersion{ID: id, Description: "[" + ch.Marker + "]"})
		}
	}
	return results, nil
}

// pushSprint makes version v (nil: a new one) hold the change.
func (c *Connector) pushSprint(ctx context.Context, cfg *config, api *client, md *metadata, ch sdk.Change, v *rmVersion) (sdk.Result, error) {
	var s sprint
	marker := ch.Marker
	if v != nil {
		s = v.sprint()
		if m := v.marker(); m != "" {
			marker = m
		}
	}
	s.apply(ch.Fields)
	want, err := versionStatus(s.status)
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
		if issues, missing, err = c.issuesByKey(ctx, cfg, api, md, splitItems(items)); err != nil {
			return sdk.Result{}, err
		}
		if len(missing) > 0 && v == nil {
			// Not yet: the risk sync creates them; the create is retried.
			return sdk.Result{}, sdk.Errorf(sdk.ClassTransient, "risks %s have no issue in Redmine yet: sync risks before sprints (put the risk sync block first); the sprint is created on the next run", strings.Join(missing, ", "))
		}
	}

	p := s.payload(marker)
	var id int
	current := ""
	if v == nil {
		p["status"] = "open"
		var out struct {
			Version rmVersion `json:"version"`
		}
		if _, err := api.do(ctx, "POST", "projects/"+url.PathEscape(cfg.Project)+"/versions.json", nil, map[string]any{"version": p}, &out); err != nil {
			return sdk.Result{}, err
		}
		id, current = out.Version.ID, "open"
	} else {
		id, current = v.ID, v.Status
		// Issues can only be moved into an open version.
		if itemsChanged && current != "open" {
			p["status"] = "open"
			current = "open"
		} else {
			p["status"] = want
			current = want
		}
		if _, err := api.do(ctx, "PUT", fmt.Sprintf("versions/%d.json", id), nil, map[string]any{"version": p}, nil); err != nil {
			return sdk.Result{}, err
		}
	}
	if itemsChanged {
		if err := c.setVersionIssues(ctx, cfg, api, md, id, issues); err != nil {
			return sdk.Result{}, err
		}
	}
	if current != want {
		if _, err := api.do(ctx, "PUT", fmt.Sprintf("versions/%d.json", id), nil, map[string]any{"version": map[string]any{"status": want}}, nil); err != nil {
			return sdk.Result{}, err
		}
	}
	res := sdk.Result{ExternalID: strconv.Itoa(id)}
	if len(missing) > 0 {
		// The hub retries an update that failed transiently.
		res.Err = sdk.Errorf(sdk.ClassTransient, "version %d updated, but risks %s have no issue in Redmine yet; retried on the next run", id, strings.Join(missing, ", "))
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

// issuesByKey finds the risk issues of the keys (by the key custom field).
func (c *Connector) issuesByKey(ctx context.Context, cfg *config, api *client, md *metadata, keys []string) (map[string]int, []string, error) {
	found := map[string]int{}
	if len(keys) == 0 {
		return found, nil, nil
	}
	ref := cfg.cfRef(sdk.FieldKey)
	if ref == "" {
		return nil, nil, sdk.Errorf(sdk.ClassPermanent, "sprint items are found by the risks' keys, but key_field is \"\": name the custom field holding the key")
	}
	keyCF, err := md.cfID(ctx, api, "key_field", ref)
	if err != nil {
		return nil, nil, problemErr(err)
	}
	tracker, err := md.trackerID(ctx, api, "tracker", cfg.Tracker)
	if err != nil {
		return nil, nil, problemErr(err)
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	for _, chunk := range chunks(keys) {
		q := url.Values{"project_id": {cfg.Project}, "subproject_id": {"!*"}, "tracker_id": {strconv.Itoa(tracker)}, "status_id": {"*"},
			"cf_" + strconv.Itoa(keyCF): {strings.Join(chunk, "|")}, "sort": {"id:asc"}, "limit": {"100"}}
		for offset := 0; ; {
			q.Set("offset", strconv.Itoa(offset))
			var page issueList
			if _, err := api.do(ctx, "GET", "issues.json", q, nil, &page); err != nil {
				return nil, nil, err
			}
			for _, is := range page.Issues {
				k, _ := is.cf(strconv.Itoa(keyCF))
				k = strings.TrimSpace(k)
				if !want[k] {
					return nil, nil, sdk.Errorf(sdk.ClassPermanent, "Redmine ignores the filter on custom field %q: tick \"Used as a filter\" on it (Administration → Custom fields)", ref)
				}
				if _, dup := found[k]; !dup {
					found[k] = is.ID
				}
			}
			offset += len(page.Issues)
			if len(page.Issues) == 0 || offset >= page.TotalCount {
				break
			}
		}
	}
	var missing []string
	for _, k := range keys {
		if _, ok := found[k]; !ok {
			missing = append(missing, k)
		}
	}
	return found, missing, nil
}

// setVersionIssues makes exactly the given issues target version id.
func (c *Connector) setVersionIssues(ctx context.Context, cfg *config, api *client, md *metadata, id int, issues map[string]int) error {
	tracker, err := md.trackerID(ctx, api, "tracker", cfg.Tracker)
	if err != nil {
		return problemErr(err)
	}
	in := map[int]bool{}
	q := url.Values{"project_id": {cfg.Project}, "subproject_id": {"!*"}, "tracker_id": {strconv.Itoa(tracker)}, "status_id": {"*"},
		"fixed_version_id": {strconv.Itoa(id)}, "sort": {"id:asc"}, "limit": {"100"}}
	for offset := 0; ; {
		q.Set("offset", strconv.Itoa(offset))
		var page issueList
		if _, err := api.do(ctx, "GET", "issues.json", q, nil, &page); err != nil {
			return err
		}
		for _, is := range page.Issues {
			in[is.ID] = true
		}
		offset += len(page.Issues)
		if len(page.Issues) == 0 || offset >= page.TotalCount {
			break
		}
	}
	want := map[int]bool{}
	for _, iid := range issues {
		want[iid] = true
	}
	var add, drop []int
	for iid := range want {
		if !in[iid] {
			add = append(add, iid)
		}
	}
	for iid := range in {
		if !want[iid] {
			drop = append(drop, iid)
		}
	}
	sort.Ints(add)
	sort.Ints(drop)
	for _, iid := range drop {
		if _, err := api.do(ctx, "PUT", fmt.Sprintf("issues/%d.json", iid), nil, map[string]any{"issue": map[string]any{"fixed_version_id": ""}}, nil); err != nil && !errors.Is(err, errNotFound) {
			return err
		}
	}
	for _, iid := range add {
		if _, err := api.do(ctx, "PUT", fmt.Sprintf("issues/%d.json", iid), nil, map[string]any{"issue": map[string]any{"fixed_version_id": id}}, nil); err != nil {
			return fmt.Errorf("put issue #%d in version %d: %w", iid, id, err)
		}
	}
	return nil
}
