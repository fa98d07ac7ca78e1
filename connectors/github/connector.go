package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// version is the connector's version, set at build time with
// -ldflags "-X main.version=…".
var version = "0.1.0"

// Connector is the GitHub connector. Its zero value is unconfigured; New
// returns one for sdk.Serve. It is safe for concurrent use.
type Connector struct {
	mu  sync.RWMutex
	cfg *config
	api *api

	amu        sync.Mutex
	assignable map[string]bool // login → may be assigned, per launch
}

// New returns an unconfigured GitHub connector.
func New() sdk.Connector { return &Connector{} }

// config is the decoded, checked config block.
type config struct {
	Owner             string            `json:"owner"`
	Repo              string            `json:"repo"`
	Token             string            `json:"token"`
	BaseURL           string            `json:"base_url"`
	Label             string            `json:"label"`
	ReportLabel       string            `json:"report_label"`
	Voters            map[string]string `json:"voters"`
	StatusLabelPrefix *string           `json:"status_label_prefix"`
	KindLabelPrefix   *string           `json:"kind_label_prefix"`
	PageSize          float64           `json:"page_size"`
	WritesPerMinute   float64           `json:"writes_per_minute"`
	FindWindow        string            `json:"find_window"`
	Timeout           string            `json:"timeout"`
	RequestLog        string            `json:"request_log"`
	CacheFile         string            `json:"cache_file"`

	statusPrefix, kindPrefix string
	pageSize                 int
	writesPerMinute          int
	findWindow               time.Duration
	timeout                  time.Duration
	cachePath                string
}

// Describe says what the GitHub connector is and does.
func (c *Connector) Describe(context.Context) (sdk.Description, error) {
	attrs := []sdk.Attribute{
		{Name: "owner", Type: sdk.TypeString, Required: true, Description: `The organisation or user owning the repository, e.g. "acme".`},
		{Name: "repo", Type: sdk.TypeString, Required: true, Description: `The repository whose issues hold the risk register, e.g. "service-improvement".`},
		{Name: "token", Type: sdk.TypeString, Required: true, Sensitive: true,
			Description: `A token of the GitHub user the hub acts as, e.g. env("GITHUB_TOKEN"). Fine-grained: repository access to the repository, permissions Issues: Read and write, Metadata: Read. Classic: scope repo (public_repo for a public repository).`},
		{Name: "base_url", Type: sdk.TypeString,
			Description: `GitHub Enterprise Server's API URL, e.g. "https://ghe.example.org/api/v3/"; empty for github.com.`},
		{Name: "label", Type: sdk.TypeString, Description: `The label of the issues that are risks (default "usm-risk"). GitHub creates it the first time the connector puts it on an issue.`},
		{Name: "report_label", Type: sdk.TypeString, Description: `The label of the issues published reports become (default "usm-report"); it must differ from label.`},
		{Name: "voters", Type: sdk.TypeMapString,
			Description: `GitHub login → sounding-board member: a 👍 reaction of such a login on a risk's issue is that member's vote (a vote binding, pull only); removing the reaction withdraws it. Other logins' reactions are not votes.`},
		{Name: "status_label_prefix", Type: sdk.TypeString,
			Description: `The prefix of the labels holding a risk's status (default "status: "). A status is "closed" (closed as completed), "not_planned" (closed as not planned), "open" (open without a status label) or the name of a status label of an open issue; map_status in the sync block maps the hub's statuses to these.`},
		{Name: "kind_label_prefix", Type: sdk.TypeString, Description: `The prefix of the label holding a risk's kind (default "kind: ", e.g. "kind: threat").`},
		{Name: "page_size", Type: sdk.TypeNumber, Description: "Issues per listing request, 1 to 100 (GitHub's maximum, the default)."},
		{Name: "writes_per_minute", Type: sdk.TypeNumber,
			Description: "How many writes (POST, PATCH, PUT, DELETE) the connector sends a minute at most (default 80, GitHub's limit on content creation): a first sync of many risks paces itself instead of meeting the secondary rate limit."},
		{Name: "find_window", Type: sdk.TypeString,
			Description: `How far back Find lists the label's newest issues for a marker before it asks the search API, which lags behind creates by minutes (default "15m").`},
		{Name: "timeout", Type: sdk.TypeString, Description: `How long one HTTP request may take, e.g. "30s" (the default).`},
		{Name: "request_log", Type: sdk.TypeString,
			Description: "A file to append one line per HTTP request to (method, path and query, status, milliseconds), to see what a sync costs. Relative to the hub config's folder. The token is never written."},
		{Name: "cache_file", Type: sdk.TypeString,
			Description: "Where the connector keeps the ETags and answers of its GET requests between launches, so that a quiet sync costs conditional requests answered 304, which GitHub does not count against the rate limit. Relative to the hub config's folder; default: a file in the folder the hub gives connectors for their state, <data_dir>/connectors/github-<id>.json (one per API, repository and token: GitHub's ETags are the token's)."},
	}
	return sdk.Description{
		Name:            "github",
		Version:         version,
		ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: []sdk.Capability{
			{Kind: sdk.KindRisk, Pull: true, Push: true, Delete: true},
			{Kind: sdk.KindSprint, Push: true},
			{Kind: sdk.KindVote, Pull: true},
		},
		PublishesReports: true,
		ReadsVotes:       true,
		Schema:           sdk.Schema{Attributes: attrs},
	}, nil
}

// ownerRE and repoRE are what GitHub owner (organisation or user) and
// repository names look like; validOwner and validRepo also bound their
// length. Written as bounded repetitions ({0,38}, {1,100}) they cost
// ~1.5 ms of CPU and 2 500 allocations to compile at every plugin start.
var (
	ownerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)
	repoRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// The longest owner and repository names GitHub allows, in bytes (all ASCII).
const (
	maxOwner = 39
	maxRepo  = 100
)

// validOwner says whether s is a GitHub organisation or user name.
func validOwner(s string) bool { return len(s) <= maxOwner && ownerRE.MatchString(s) }

// validRepo says whether s has the form of a repository name.
func validRepo(s string) bool { return len(s) <= maxRepo && repoRE.MatchString(s) }

// Configure checks the config block without reaching GitHub (Check does).
func (c *Connector) Configure(_ context.Context, raw sdk.Config) error {
	var cfg config
	var problems []sdk.AttributeProblem
	add := func(attr, summary, detail string) {
		problems = append(problems, sdk.AttributeProblem{Attribute: attr, Summary: summary, Detail: detail})
	}
	if err := raw.Decode(&cfg); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: te.Field, Summary: "has the wrong type", Detail: fmt.Sprintf("Give %s a %s value.", te.Field, te.Type)}}}
		}
		return fmt.Errorf("decode config: %w", err)
	}
	cfg.Owner = strings.TrimSpace(cfg.Owner)
	switch {
	case cfg.Owner == "":
		add("owner", "an owner is required", `Name the organisation or user owning the repository, e.g. owner = "acme".`)
	case !validOwner(cfg.Owner):
		add("owner", fmt.Sprintf("%q is not a GitHub organisation or user name", cfg.Owner), `Use the name as in the repository's URL (github.com/<owner>/<repo>): letters, digits and -.`)
	}
	cfg.Repo = strings.TrimSuffix(strings.TrimSpace(cfg.Repo), ".git")
	switch {
	case cfg.Repo == "":
		add("repo", "a repository is required", `Name the repository whose issues hold the risk register, e.g. repo = "service-improvement".`)
	case !validRepo(cfg.Repo) || cfg.Repo == "." || cfg.Repo == "..":
		add("repo", fmt.Sprintf("%q is not a repository name", cfg.Repo), `Give the name alone, as in github.com/<owner>/<repo>, e.g. repo = "service-improvement".`)
	}
	cfg.Token = strings.TrimSpace(cfg.Token)
	if cfg.Token == "" {
		add("token", "a token is required", `Give a token of the user the hub acts as, e.g. token = env("GITHUB_TOKEN"); a fine-grained token needs Issues: Read and write and Metadata: Read on the repository.`)
	}
	if cfg.BaseURL = strings.TrimSpace(cfg.BaseURL); cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			add("base_url", fmt.Sprintf("%q is not an http(s) URL", cfg.BaseURL), `For GitHub Enterprise Server give its API URL, e.g. base_url = "https://ghe.example.org/api/v3/"; leave it out for github.com.`)
		} else {
			u.RawQuery, u.Fragment = "", ""
			cfg.BaseURL = u.String()
		}
	}
	cfg.Label = strings.TrimSpace(cfg.Label)
	if cfg.Label == "" {
		cfg.Label = "usm-risk"
	}
	cfg.ReportLabel = strings.TrimSpace(cfg.ReportLabel)
	if cfg.ReportLabel == "" {
		cfg.ReportLabel = "usm-report"
	}
	if strings.EqualFold(cfg.ReportLabel, cfg.Label) {
		add("report_label", "must differ from label", `Reports carrying the risks' label would be pulled as risks; give them a label of their own, e.g. report_label = "usm-report".`)
	}
	if strings.ContainsAny(cfg.Label, ",") {
		add("label", fmt.Sprintf("%q holds a comma", cfg.Label), "GitHub's listing filter separates labels with commas; choose a label without one.")
	}
	cfg.statusPrefix, cfg.kindPrefix = "status: ", "kind: "
	if cfg.StatusLabelPrefix != nil {
		cfg.statusPrefix = *cfg.StatusLabelPrefix
	}
	if cfg.KindLabelPrefix != nil {
		cfg.kindPrefix = *cfg.KindLabelPrefix
	}
	if strings.TrimSpace(cfg.statusPrefix) == "" {
		add("status_label_prefix", "must not be empty", `Every label would read as a status; keep the default "status: " or choose another prefix.`)
	}
	if strings.TrimSpace(cfg.kindPrefix) == "" || strings.EqualFold(cfg.kindPrefix, cfg.statusPrefix) {
		add("kind_label_prefix", "must be set and differ from status_label_prefix", `Keep the default "kind: " or choose another prefix.`)
	}
	for login, member := range cfg.Voters {
		if !validOwner(strings.TrimSpace(login)) || strings.TrimSpace(member) == "" {
			add("voters", fmt.Sprintf("%q = %q is not a GitHub login mapped to a sounding-board member", login, member), `E.g. voters = { "kmulder" = "k.mulder" }.`)
			break
		}
	}
	switch {
	case cfg.PageSize == 0:
		cfg.pageSize = 100
	case cfg.PageSize != float64(int(cfg.PageSize)) || cfg.PageSize < 1 || cfg.PageSize > 100:
		add("page_size", fmt.Sprintf("%v is not a whole number from 1 to 100", cfg.PageSize), "GitHub lists at most 100 issues per request.")
	default:
		cfg.pageSize = int(cfg.PageSize)
	}
	switch {
	case cfg.WritesPerMinute == 0:
		cfg.writesPerMinute = 80
	case cfg.WritesPerMinute != float64(int(cfg.WritesPerMinute)) || cfg.WritesPerMinute < 1 || cfg.WritesPerMinute > 100000:
		add("writes_per_minute", fmt.Sprintf("%v is not a whole number from 1 to 100000", cfg.WritesPerMinute), "GitHub allows about 80 content-creating requests a minute; keep the default 80 unless your GitHub Enterprise Server allows more.")
	default:
		cfg.writesPerMinute = int(cfg.WritesPerMinute)
	}
	cfg.findWindow = 15 * time.Minute
	if s := strings.TrimSpace(cfg.FindWindow); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			add("find_window", fmt.Sprintf("%q is not a duration", s), `E.g. find_window = "15m".`)
		} else {
			cfg.findWindow = d
		}
	}
	cfg.timeout = 30 * time.Second
	if t := strings.TrimSpace(cfg.Timeout); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			add("timeout", fmt.Sprintf("%q is not a duration", t), `E.g. timeout = "30s".`)
		} else {
			cfg.timeout = d
		}
	}
	if cfg.RequestLog = strings.TrimSpace(cfg.RequestLog); cfg.RequestLog != "" {
		if abs, err := filepath.Abs(cfg.RequestLog); err == nil {
			cfg.RequestLog = abs
		}
	}
	if cfg.CacheFile = strings.TrimSpace(cfg.CacheFile); cfg.CacheFile != "" {
		cfg.cachePath, _ = filepath.Abs(cfg.CacheFile)
	} else {
		cfg.cachePath = defaultCachePath(cfg.BaseURL, cfg.Owner, cfg.Repo, cfg.Token)
		if cfg.cachePath == "" {
			sdk.Logger().Warn("no folder to keep the ETag cache in: every sync asks GitHub for full answers (set cache_file)")
		}
	}
	if len(problems) > 0 {
		return &sdk.ConfigError{Problems: problems}
	}
	a, err := newAPI(&cfg)
	if err != nil {
		return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "base_url", Summary: err.Error(), Detail: `E.g. base_url = "https://ghe.example.org/api/v3/".`}}}
	}
	c.mu.Lock()
	c.cfg, c.api = &cfg, a
	c.mu.Unlock()
	c.amu.Lock()
	c.assignable = map[string]bool{}
	c.amu.Unlock()
	return nil
}

// state returns the config and client, or an error before Configure.
func (c *Connector) state() (*config, *api, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cfg == nil {
		return nil, nil, sdk.Errorf(sdk.ClassPermanent, "the GitHub connector is not configured: Configure comes first")
	}
	return c.cfg, c.api, nil
}

// Check reaches GitHub: the token, its scopes or permissions, the
// repository (renamed, missing, issues turned off) and the labels. A label
// that does not exist yet is no error: GitHub creates it the first time a
// sync puts it on an issue; Check says so in the log.
func (c *Connector) Check(ctx context.Context) error {
	cfg, a, err := c.state()
	if err != nil {
		return err
	}
	defer a.cache.save()
	full := cfg.Owner + "/" + cfg.Repo
	repo, resp, err := a.gh.Repositories.Get(ctx, cfg.Owner, cfg.Repo)
	if err = a.classify("read repository "+full, err); err != nil {
		switch {
		case errors.Is(err, errNotFound):
			return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "repo", Summary: fmt.Sprintf("GitHub has no repository %s that the token can see (HTTP 404)", full),
				Detail: "Check owner and repo (as in the repository's URL), and that a fine-grained token's repository access includes it."}}}
		case strings.Contains(err.Error(), "renamed or transferred"):
			return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "repo", Summary: fmt.Sprintf("repository %s moved", full), Detail: err.Error()}}}
		case strings.Contains(err.Error(), "HTTP 401"):
			return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "token", Summary: "GitHub refused the token (HTTP 401)",
				Detail: "The token is wrong, expired or revoked: make a new one (Settings → Developer settings → Fine-grained tokens) with Issues: Read and write and Metadata: Read on " + full + "."}}}
		}
		return err
	}
	var problems []sdk.AttributeProblem
	add := func(attr, summary, detail string) {
		problems = append(problems, sdk.AttributeProblem{Attribute: attr, Summary: summary, Detail: detail})
	}
	if resp != nil && resp.Response != nil {
		if scopes, classic := resp.Header[http.CanonicalHeaderKey("X-OAuth-Scopes")]; classic {
			have := map[string]bool{}
			for _, s := range strings.Split(strings.Join(scopes, ","), ",") {
				have[strings.TrimSpace(s)] = true
			}
			if !have["repo"] && !(have["public_repo"] && !repo.GetPrivate()) {
				add("token", fmt.Sprintf("the classic token lacks the scope repo (it has %q)", strings.Join(scopes, ",")),
					"Give it the scope repo (public_repo is enough for a public repository), or use a fine-grained token with Issues: Read and write and Metadata: Read on "+full+".")
			}
		}
	}
	if !repo.GetHasIssues() {
		add("repo", fmt.Sprintf("repository %s has issues turned off", full), "Turn them on in the repository's Settings → General → Features → Issues.")
	}
	if p := repo.GetPermissions(); p != nil && !p["push"] && !p["triage"] && !p["maintain"] && !p["admin"] {
		add("token", fmt.Sprintf("the token's user may only read %s", full), "Labels, assignees and milestones need the triage role at least: give the user write access (Settings → Collaborators and teams).")
	}
	if _, _, err := a.gh.Issues.ListByRepo(ctx, cfg.Owner, cfg.Repo, listOpts(cfg, 1)); err != nil {
		err = a.classify("list issues of "+full, err)
		if strings.Contains(err.Error(), "lacks a permission") {
			add("token", "the token may not read the repository's issues (HTTP 403)", err.Error())
		} else {
			return err
		}
	} else if _, classic := resp.Header[http.CanonicalHeaderKey("X-OAuth-Scopes")]; !classic {
		// A fine-grained token's permissions show only when refused. Ask
		// for a label without a name: GitHub checks the permission (403
		// naming it) before the values (422), and makes nothing.
		_, _, err := a.gh.Issues.CreateLabel(ctx, cfg.Owner, cfg.Repo, &github.Label{Name: github.String("")})
		if err = a.classify("probe the token's write permission on "+full, err); err != nil && strings.Contains(err.Error(), "lacks a permission") {
			add("token", "the token may read the repository's issues but not write them (HTTP 403)", err.Error()+
				"; in the token's settings set Repository permissions → Issues to Read and write")
		}
	}
	if len(problems) > 0 {
		return &sdk.ConfigError{Problems: problems}
	}
	for _, l := range []struct{ attr, name string }{{"label", cfg.Label}, {"report_label", cfg.ReportLabel}} {
		_, _, err := a.gh.Issues.GetLabel(ctx, cfg.Owner, cfg.Repo, url.PathEscape(l.name)) // go-github v60 puts it in the path as it is
		err = a.classify("read label "+l.name, err)
		switch {
		case errors.Is(err, errNotFound):
			sdk.Logger().Warn(fmt.Sprintf("label %q does not exist in %s yet: the first sync creates it (GitHub makes a label the first time an issue carries it)", l.name, full), "attribute", l.attr)
		case err != nil:
			return err
		}
	}
	if len(problems) > 0 {
		return &sdk.ConfigError{Problems: problems}
	}
	return nil
}
