package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// version is the connector's version, set at build time with
// -ldflags "-X main.version=…".
var version = "0.1.0"

// Connector is the Redmine connector. Its zero value is unconfigured; New
// returns one for sdk.Serve. It is safe for concurrent use.
type Connector struct {
	mu  sync.RWMutex
	cfg *config
	api *client
	md  *metadata
}

// New returns an unconfigured Redmine connector.
func New() sdk.Connector { return &Connector{} }

// field is a risk field the connector keeps in an issue custom field.
type field struct {
	canonical string // sdk.Field* ("" for the marker)
	attr      string // the config attribute naming the custom field
	def       string // the default custom field name
	format    string // the custom field format to create, for Check's advice
	values    string // possible values, for Check's advice
}

// customFields are the custom fields the connector uses, marker first.
var customFields = []field{
	{canonical: "", attr: "marker_field", def: "USM marker", format: "Text (string)"},
	{canonical: sdk.FieldKey, attr: "key_field", def: "USM key", format: "Text (string)"},
	{canonical: sdk.FieldKind, attr: "kind_field", def: "USM kind", format: "List", values: "threat, opportunity"},
	{canonical: sdk.FieldProcess, attr: "process_field", def: "USM process", format: "List", values: "agree, change, recover, operate, improve"},
	{canonical: sdk.FieldSource, attr: "source_field", def: "USM source", format: "Text (string)"},
	{canonical: sdk.FieldLikelihood, attr: "likelihood_field", def: "USM likelihood", format: "Integer"},
	{canonical: sdk.FieldImpact, attr: "impact_field", def: "USM impact", format: "Integer"},
	{canonical: sdk.FieldEffort, attr: "effort_field", def: "USM effort", format: "Float"},
}

// config is the decoded, checked config block.
type config struct {
	URL           string  `json:"url"`
	APIKey        string  `json:"api_key"`
	Project       string  `json:"project"`
	Tracker       string  `json:"tracker"`
	ReportTracker string  `json:"report_tracker"`
	PageSize      float64 `json:"page_size"`
	Timeout       string  `json:"timeout"`
	RequestLog    string  `json:"request_log"`
	// The custom fields, by config attribute: a name, an id, or "" when
	// the field is not kept in Redmine (nil: the default name).
	Fields map[string]*string `json:"-"`

	base     *url.URL
	pageSize int
	timeout  time.Duration
}

// cfRef returns the custom field configured for a canonical field ("" for
// the marker), "" when it is not synced.
func (c *config) cfRef(canonical string) string {
	for _, f := range customFields {
		if f.canonical == canonical {
			if v := c.Fields[f.attr]; v != nil {
				return *v
			}
			return f.def
		}
	}
	return ""
}

// Describe says what the Redmine connector is and does.
func (c *Connector) Describe(context.Context) (sdk.Description, error) {
	attrs := []sdk.Attribute{
		{Name: "url", Type: sdk.TypeString, Required: true,
			Description: `Redmine's base URL, e.g. "https://redmine.example.org" (with its sub-path, if Redmine is served under one).`},
		{Name: "api_key", Type: sdk.TypeString, Required: true, Sensitive: true,
			Description: `The API access key of the Redmine user the hub acts as (My account → API access key), e.g. env("REDMINE_API_KEY") or file("redmine.key"). The REST API must be enabled (Administration → Settings → API).`},
		{Name: "project", Type: sdk.TypeString, Required: true,
			Description: `The identifier (or numeric id) of the Redmine project that holds the risk register, e.g. "usm".`},
		{Name: "tracker", Type: sdk.TypeString, Required: true,
			Description: `The tracker (name or id) of the issues that are risks, e.g. "Risk". The tracker must be enabled in the project and have the custom fields below.`},
		{Name: "report_tracker", Type: sdk.TypeString,
			Description: `The tracker (name or id) of the issues published reports become, e.g. "Report"; it must differ from tracker. Without it the connector does not publish.`},
		{Name: "page_size", Type: sdk.TypeNumber,
			Description: "How many issues one listing request asks for, 1 to 100 (Redmine's maximum, the default)."},
		{Name: "timeout", Type: sdk.TypeString,
			Description: `How long one HTTP request may take, e.g. "30s" (the default).`},
		{Name: "request_log", Type: sdk.TypeString,
			Description: "A file to append one line per HTTP request to (method, path and query, status, milliseconds), to see what a sync costs. Relative to the hub config's folder. The API key is never written."},
	}
	for _, f := range customFields {
		what := "the hub marker that ties an issue to its hub risk (required: it makes creates idempotent); the custom field must be usable as a filter"
		if f.canonical != "" {
			what = "the risk's " + f.canonical
		}
		if f.canonical == sdk.FieldKey {
			what += " (R-12); sprints find their issues by it, so it must be usable as a filter"
		}
		desc := fmt.Sprintf("The issue custom field (name or id) holding %s. Default %q", what, f.def)
		if f.canonical != "" {
			desc += `; "" leaves the field out of the sync`
		}
		attrs = append(attrs, sdk.Attribute{Name: f.attr, Type: sdk.TypeString, Description: desc + "."})
	}
	return sdk.Description{
		Name:    "redmine",
		Version: version,
		Capabilities: []sdk.Capability{
			{Kind: sdk.KindRisk, Pull: true, Push: true, Delete: true},
			{Kind: sdk.KindSprint, Push: true},
		},
		PublishesReports: true,
		Schema:           sdk.Schema{Attributes: attrs},
	}, nil
}

var identifierRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Configure checks the config block without reaching Redmine (Check does).
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
	var all map[string]json.RawMessage
	_ = json.Unmarshal(raw.JSON(), &all)
	cfg.Fields = map[string]*string{}
	for _, f := range customFields {
		v, ok := all[f.attr]
		if !ok || string(v) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			var n float64
			if json.Unmarshal(v, &n) != nil {
				add(f.attr, "must be a custom field's name or id", fmt.Sprintf("E.g. %s = %q.", f.attr, f.def))
				continue
			}
			s = strconv.FormatFloat(n, 'f', -1, 64)
		}
		s = strings.TrimSpace(s)
		cfg.Fields[f.attr] = &s
	}
	if m := cfg.Fields["marker_field"]; m != nil && *m == "" {
		add("marker_field", "is required", `The hub marker makes creates idempotent (nothing doubled after a crash); name an issue custom field of format Text, usable as a filter, e.g. marker_field = "USM marker".`)
	}

	cfg.URL = strings.TrimSpace(cfg.URL)
	if cfg.URL == "" {
		add("url", "Redmine's URL is required", `E.g. url = "https://redmine.example.org".`)
	} else if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url", fmt.Sprintf("%q is not an http(s) URL", cfg.URL), `E.g. url = "https://redmine.example.org".`)
	} else {
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawQuery, u.Fragment = "", ""
		cfg.base = u
	}
	cfg.APIKey = strings.TrimSpace(cfg.APIKey)
	if cfg.APIKey == "" {
		add("api_key", "an API key is required", `Give the key of the Redmine user the hub acts as, e.g. api_key = env("REDMINE_API_KEY") (My account → API access key).`)
	}
	cfg.Project = strings.TrimSpace(cfg.Project)
	if cfg.Project == "" {
		add("project", "a project is required", `Give the identifier of the project that holds the risk register, e.g. project = "usm".`)
	} else if !identifierRE.MatchString(cfg.Project) {
		add("project", fmt.Sprintf("%q is not a Redmine project identifier", cfg.Project), "Use the identifier shown in the project's URL (/projects/<identifier>): lower-case letters, digits, - and _.")
	}
	cfg.Tracker = strings.TrimSpace(cfg.Tracker)
	if cfg.Tracker == "" {
		add("tracker", "a tracker is required", `Name the tracker of the issues that are risks, e.g. tracker = "Risk".`)
	}
	cfg.ReportTracker = strings.TrimSpace(cfg.ReportTracker)
	if cfg.ReportTracker != "" && strings.EqualFold(cfg.ReportTracker, cfg.Tracker) {
		add("report_tracker", "must differ from tracker", "Reports in the risks' tracker would be pulled as risks; use a tracker of their own, e.g. \"Report\".")
	}
	switch {
	case cfg.PageSize == 0:
		cfg.pageSize = 100
	case cfg.PageSize != float64(int(cfg.PageSize)) || cfg.PageSize < 1 || cfg.PageSize > 100:
		add("page_size", fmt.Sprintf("%v is not a whole number from 1 to 100", cfg.PageSize), "Redmine lists at most 100 issues per request.")
	default:
		cfg.pageSize = int(cfg.PageSize)
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
	if len(problems) > 0 {
		return &sdk.ConfigError{Problems: problems}
	}
	api := newClient(cfg.base, cfg.APIKey, cfg.Project, cfg.RequestLog, cfg.timeout)
	c.mu.Lock()
	c.cfg, c.api, c.md = &cfg, api, &metadata{trackerRef: cfg.Tracker}
	c.mu.Unlock()
	return nil
}

// state returns the config, client and metadata cache, or an error before
// Configure.
func (c *Connector) state() (*config, *client, *metadata, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cfg == nil {
		return nil, nil, nil, sdk.Errorf(sdk.ClassPermanent, "the Redmine connector is not configured: Configure comes first")
	}
	return c.cfg, c.api, c.md, nil
}

// Check reaches Redmine: the key, the project, its trackers and the custom
// fields. Redmine 5 cannot create custom fields over its API, so a missing
// one is reported with how to create it.
func (c *Connector) Check(ctx context.Context) error {
	cfg, api, md, err := c.state()
	if err != nil {
		return err
	}
	var me struct {
		User struct {
			Login string `json:"login"`
			Admin bool   `json:"admin"`
		} `json:"user"`
	}
	if _, err := api.do(ctx, "GET", "users/current.json", nil, nil, &me); err != nil {
		return err
	}
	p, err := md.project(ctx, api)
	var cp *configProblem
	if errors.As(err, &cp) {
		return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: cp.attr, Summary: cp.summary, Detail: cp.detail}}}
	}
	if err != nil {
		return err
	}
	var problems []sdk.AttributeProblem
	add := func(attr, summary, detail string) {
		problems = append(problems, sdk.AttributeProblem{Attribute: attr, Summary: summary, Detail: detail})
	}
	trackerNames := func() string {
		names := make([]string, len(p.Trackers))
		for i, t := range p.Trackers {
			names[i] = fmt.Sprintf("%q", t.Name)
		}
		if len(names) == 0 {
			return "none"
		}
		return strings.Join(names, ", ")
	}
	if _, ok := p.tracker(cfg.Tracker); !ok {
		add("tracker", fmt.Sprintf("project %q has no tracker %q", cfg.Project, cfg.Tracker),
			fmt.Sprintf("Its trackers are %s. Create the tracker in Administration → Trackers and tick it in the project's Settings → Issue tracking, or name another.", trackerNames()))
	}
	if cfg.ReportTracker != "" {
		if _, ok := p.tracker(cfg.ReportTracker); !ok {
			add("report_tracker", fmt.Sprintf("project %q has no tracker %q", cfg.Project, cfg.ReportTracker),
				fmt.Sprintf("Its trackers are %s. Create the tracker in Administration → Trackers and tick it in the project's Settings → Issue tracking, or name another.", trackerNames()))
		}
	}
	// Administrators may read every custom field's definition: check the
	// trackers it is enabled for and that markers and keys can be filtered.
	var defs map[int]cfDefinition
	if me.User.Admin {
		defs, _ = md.definitions(ctx, api)
	}
	tracker, _ := p.tracker(cfg.Tracker)
	for _, f := range customFields {
		ref := cfg.cfRef(f.canonical)
		if ref == "" {
			continue
		}
		name := f.def
		if _, err := strconv.Atoi(ref); err != nil {
			name = ref
		}
		howTo := fmt.Sprintf("Redmine 5 cannot create custom fields over its API. As an administrator, open Administration → Custom fields → New custom field → Issues: name %q, format %s", name, f.format)
		if f.values != "" {
			howTo += ", possible values " + f.values + " (one per line)"
		}
		howTo += fmt.Sprintf(", tracker %q ticked, \"Used as a filter\" ticked, and \"For all projects\" ticked (or tick it in project %q's Settings → Issue tracking). Or set %s to the name or id of the custom field you use", cfg.Tracker, cfg.Project, f.attr)
		if f.canonical != "" {
			howTo += `, or to "" to leave the field out of the sync`
		}
		id, err := md.cfID(ctx, api, f.attr, ref)
		var cp *configProblem
		if errors.As(err, &cp) {
			add(f.attr, fmt.Sprintf("project %q has no issue custom field %q", cfg.Project, ref), howTo+".")
			continue
		}
		if err != nil {
			return err
		}
		def, known := defs[id]
		if !known {
			continue
		}
		if def.Customized != "issue" {
			add(f.attr, fmt.Sprintf("custom field %q is not an issue custom field", ref), howTo+".")
			continue
		}
		if tracker.ID != 0 && !def.hasTracker(tracker.ID) {
			add(f.attr, fmt.Sprintf("custom field %q is not enabled for tracker %q", def.Name, tracker.Name),
				fmt.Sprintf("Redmine drops values of custom fields a tracker does not have. Open Administration → Custom fields → %s and tick the tracker %q.", def.Name, tracker.Name))
		}
		if (f.canonical == "" || f.canonical == sdk.FieldKey) && !def.IsFilter {
			add(f.attr, fmt.Sprintf("custom field %q cannot be used as a filter", def.Name),
				fmt.Sprintf("The connector finds issues by it. Open Administration → Custom fields → %s and tick \"Used as a filter\".", def.Name))
		}
	}
	if len(problems) > 0 {
		return &sdk.ConfigError{Problems: problems}
	}
	return nil
}
