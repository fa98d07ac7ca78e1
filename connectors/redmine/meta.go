package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// metadata caches what the connector looks up in Redmine, each piece on
// first use and once per connector process: the project's trackers and
// custom fields (one request), the issue statuses (one request, only when a
// status is pushed) and the users (one request per 100 users, only when an
// owner is pushed or an assignee pulled). Sync runs pay for a piece only
// when they need it.
type metadata struct {
	mu       sync.Mutex
	proj     *projectInfo
	statuses []statusInfo
	users    *userDirectory
	defs     map[int]cfDefinition
	// trackerRef is the configured risk tracker; learned the custom
	// fields found beyond the project's list, on issues listed anyway or
	// by looking them up (lookedUp, once).
	trackerRef string
	learned    []named
	lookedUp   bool
}

// observe learns the custom fields (ids and names) of listed issues, so
// that a name is resolved without a request of its own.
func (m *metadata) observe(issues []issue) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, is := range issues {
		for _, v := range is.CustomFields {
			if _, known := lookup(m.learned, strconv.Itoa(v.ID)); !known {
				m.learned = append(m.learned, named{ID: v.ID, Name: v.Name})
			}
		}
	}
}

type named struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// projectInfo is a project with its trackers and issue custom fields.
type projectInfo struct {
	ID           int     `json:"id"`
	Identifier   string  `json:"identifier"`
	Name         string  `json:"name"`
	Trackers     []named `json:"trackers"`
	CustomFields []named `json:"issue_custom_fields"`
}

// lookup finds ref (a name, case-insensitively, or a numeric id) in list.
func lookup(list []named, ref string) (named, bool) {
	for _, n := range list {
		if strings.EqualFold(n.Name, ref) {
			return n, true
		}
	}
	if id, err := strconv.Atoi(ref); err == nil {
		for _, n := range list {
			if n.ID == id {
				return n, true
			}
		}
	}
	return named{}, false
}

func (p *projectInfo) tracker(ref string) (named, bool) { return lookup(p.Trackers, ref) }

func (p *projectInfo) customField(ref string) (int, bool) {
	n, ok := lookup(p.CustomFields, ref)
	return n.ID, ok
}

// project returns the project's trackers and custom fields.
func (m *metadata) project(ctx context.Context, api *client) (*projectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proj != nil {
		return m.proj, nil
	}
	var out struct {
		Project projectInfo `json:"project"`
	}
	_, err := api.do(ctx, "GET", "projects/"+url.PathEscape(api.project)+".json", url.Values{"include": {"trackers,issue_custom_fields"}}, nil, &out)
	if errors.Is(err, errNotFound) {
		return nil, &configProblem{attr: "project", summary: fmt.Sprintf("Redmine has no project %q, or the API key's user cannot see it", api.project),
			detail: "Use the identifier shown in the project's URL (/projects/<identifier>), and make the user a member of the project."}
	}
	if err != nil {
		return nil, err
	}
	m.proj = &out.Project
	return m.proj, nil
}

// configProblem is a config mistake found on the remote: it travels as an
// *sdk.ConfigError from Check and as a permanent error from other calls.
type configProblem struct {
	attr, summary, detail string
}

func (e *configProblem) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.attr, e.summary, e.detail)
}

// trackerID resolves a configured tracker without a request when it is a
// numeric id, else through the project.
func (m *metadata) trackerID(ctx context.Context, api *client, attr, ref string) (int, error) {
	if id, err := strconv.Atoi(ref); err == nil && id > 0 {
		return id, nil
	}
	p, err := m.project(ctx, api)
	if err != nil {
		return 0, err
	}
	t, ok := p.tracker(ref)
	if !ok {
		return 0, &configProblem{attr: attr, summary: fmt.Sprintf("project %q has no tracker %q", api.project, ref),
			detail: "Enable the tracker in the project's Settings → Issue tracking, or name another; usmhub readiness checks it."}
	}
	return t.ID, nil
}

// cfID resolves a configured custom field without a request when it is a
// numeric id, else by name: among the custom fields enabled for the project
// (the project's API lists only those ticked in its settings, not those
// "for all projects"), then among those an issue of the tracker carries,
// then (administrators) among all issue custom fields of the tracker.
func (m *metadata) cfID(ctx context.Context, api *client, attr, ref string) (int, error) {
	if id, err := strconv.Atoi(ref); err == nil && id > 0 {
		return id, nil
	}
	p, err := m.project(ctx, api)
	if err != nil {
		return 0, err
	}
	if id, ok := p.customField(ref); ok {
		return id, nil
	}
	if id, ok, err := m.learnedCF(ctx, api, p, ref); err != nil || ok {
		return id, err
	}
	return 0, &configProblem{attr: attr, summary: fmt.Sprintf("project %q has no issue custom field %q", api.project, ref),
		detail: "Redmine 5 cannot create custom fields over its API; usmhub validate (the connector's Check) says how to create it."}
}

// learnedCF looks a custom field up by name beyond the project's list:
// on an issue of the tracker, and (administrators) in the definitions.
// The look-ups run once per connector process.
func (m *metadata) learnedCF(ctx context.Context, api *client, p *projectInfo, ref string) (int, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := lookup(m.learned, ref); ok {
		return n.ID, true, nil
	}
	if !m.lookedUp {
		var learned []named
		if tracker, ok := p.tracker(m.trackerRef); ok {
			q := url.Values{"project_id": {api.project}, "subproject_id": {"!*"}, "tracker_id": {strconv.Itoa(tracker.ID)},
				"status_id": {"*"}, "limit": {"1"}}
			var page issueList
			if _, err := api.do(ctx, "GET", "issues.json", q, nil, &page); err != nil {
				return 0, false, err
			}
			for _, is := range page.Issues {
				for _, v := range is.CustomFields {
					learned = append(learned, named{ID: v.ID, Name: v.Name})
				}
			}
			if len(page.Issues) == 0 {
				var out struct {
					CustomFields []cfDefinition `json:"custom_fields"`
				}
				_, err := api.do(ctx, "GET", "custom_fields.json", nil, nil, &out)
				var ae *apiError
				if err != nil && !(errors.As(err, &ae) && ae.status == 403) {
					return 0, false, err
				}
				for _, d := range out.CustomFields {
					if d.Customized == "issue" && d.hasTracker(tracker.ID) {
						learned = append(learned, named{ID: d.ID, Name: d.Name})
					}
				}
			}
		}
		m.learned = append(m.learned, learned...)
		m.lookedUp = true
	}
	n, ok := lookup(m.learned, ref)
	return n.ID, ok, nil
}

// statusInfo is an issue status.
type statusInfo struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	IsClosed bool   `json:"is_closed"`
}

// status resolves a status name (case-insensitively) to its id.
func (m *metadata) status(ctx context.Context, api *client, name string) (statusInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.statuses == nil {
		var out struct {
			IssueStatuses []statusInfo `json:"issue_statuses"`
		}
		if _, err := api.do(ctx, "GET", "issue_statuses.json", nil, nil, &out); err != nil {
			return statusInfo{}, err
		}
		m.statuses = out.IssueStatuses
	}
	for _, s := range m.statuses {
		if strings.EqualFold(s.Name, strings.TrimSpace(name)) {
			return s, nil
		}
	}
	names := make([]string, len(m.statuses))
	for i, s := range m.statuses {
		names[i] = fmt.Sprintf("%q", s.Name)
	}
	return statusInfo{}, fmt.Errorf("Redmine has no issue status %q (it has %s): map the hub's statuses to Redmine's with map_status in the sync block, e.g. map_status = { proposed = \"New\", in_progress = \"In Progress\", realized = \"Closed\" }",
		name, strings.Join(names, ", "))
}

// cfDefinition is a custom field's definition (administrators only).
type cfDefinition struct {
	ID         int     `json:"id"`
	Name       string  `json:"name"`
	Customized string  `json:"customized_type"`
	Format     string  `json:"field_format"`
	IsFilter   bool    `json:"is_filter"`
	Trackers   []named `json:"trackers"`
}

func (d cfDefinition) hasTracker(id int) bool {
	for _, t := range d.Trackers {
		if t.ID == id {
			return true
		}
	}
	return false
}

// definitions returns the custom field definitions; only administrators
// may read them (others get an error, and Check skips those checks).
func (m *metadata) definitions(ctx context.Context, api *client) (map[int]cfDefinition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.defs != nil {
		return m.defs, nil
	}
	var out struct {
		CustomFields []cfDefinition `json:"custom_fields"`
	}
	if _, err := api.do(ctx, "GET", "custom_fields.json", nil, nil, &out); err != nil {
		return nil, err
	}
	m.defs = map[int]cfDefinition{}
	for _, d := range out.CustomFields {
		m.defs[d.ID] = d
	}
	return m.defs, nil
}

// userDirectory maps users' ids and logins both ways.
type userDirectory struct {
	byLogin map[string]int
	byID    map[int]string
	listed  bool // the whole directory was listed (an administrator's key)
	denied  bool // listing is forbidden: look users up one by one
}

type userInfo struct {
	ID    int    `json:"id"`
	Login string `json:"login"`
}

func (m *metadata) directory(ctx context.Context, api *client, pageSize int) (*userDirectory, error) {
	if m.users != nil {
		return m.users, nil
	}
	d := &userDirectory{byLogin: map[string]int{}, byID: map[int]string{}}
	for offset := 0; ; {
		var out struct {
			Users      []userInfo `json:"users"`
			TotalCount int        `json:"total_count"`
		}
		_, err := api.do(ctx, "GET", "users.json", url.Values{"limit": {"100"}, "offset": {strconv.Itoa(offset)}}, nil, &out)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.status == 403 {
				d.denied = true
				break
			}
			return nil, err
		}
		for _, u := range out.Users {
			d.byLogin[strings.ToLower(u.Login)] = u.ID
			d.byID[u.ID] = u.Login
		}
		offset += len(out.Users)
		if len(out.Users) == 0 || offset >= out.TotalCount {
			d.listed = true
			break
		}
	}
	m.users = d
	return d, nil
}

// errNoUser: no Redmine user has the login.
var errNoUser = errors.New("Redmine has no active user with this login (or the API key's user cannot see it)")

// userID resolves a login to a user id. Administrators' keys list the
// users; other keys look through the project's members.
func (m *metadata) userID(ctx context.Context, api *client, login string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.directory(ctx, api, 100)
	if err != nil {
		return 0, err
	}
	key := strings.ToLower(strings.TrimSpace(login))
	if id, ok := d.byLogin[key]; ok {
		return id, nil
	}
	if d.denied {
		// Members of the project, then each one's login.
		var out struct {
			Memberships []struct {
				User *named `json:"user"`
			} `json:"memberships"`
		}
		if _, err := api.do(ctx, "GET", "projects/"+url.PathEscape(api.project)+"/memberships.json", url.Values{"limit": {"100"}}, nil, &out); err != nil {
			return 0, err
		}
		for _, ms := range out.Memberships {
			if ms.User == nil {
				continue
			}
			l, err := m.loginLocked(ctx, api, d, ms.User.ID)
			if err != nil {
				return 0, err
			}
			if strings.EqualFold(l, key) {
				return ms.User.ID, nil
			}
		}
	}
	return 0, fmt.Errorf("%w: %q", errNoUser, login)
}

// login resolves a user id to its login.
func (m *metadata) login(ctx context.Context, api *client, id int) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users != nil {
		if l, ok := m.users.byID[id]; ok {
			return l, nil
		}
	}
	d, err := m.directory(ctx, api, 100)
	if err != nil {
		return "", err
	}
	return m.loginLocked(ctx, api, d, id)
}

func (m *metadata) loginLocked(ctx context.Context, api *client, d *userDirectory, id int) (string, error) {
	if l, ok := d.byID[id]; ok {
		return l, nil
	}
	var out struct {
		User userInfo `json:"user"`
	}
	_, err := api.do(ctx, "GET", fmt.Sprintf("users/%d.json", id), nil, nil, &out)
	if errors.Is(err, errNotFound) {
		// A group, or a user the key may not see: no login to give.
		d.byID[id] = ""
		return "", nil
	}
	if err != nil {
		return "", err
	}
	d.byID[id] = out.User.Login
	d.byLogin[strings.ToLower(out.User.Login)] = id
	return out.User.Login, nil
}
