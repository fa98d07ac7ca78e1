package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// version is the connector's version, set at build time with
// -ldflags "-X main.version=…".
var version = "0.1.0"

// Connector is the Request Tracker connector. Its zero value is
// unconfigured; New returns one for sdk.Serve. It is safe for concurrent use.
type Connector struct {
	mu  sync.RWMutex
	cfg *config
	api *client
}

// New returns an unconfigured RT connector.
func New() sdk.Connector { return &Connector{} }

// Ticket custom fields of a risk, by canonical field; the marker's is
// markerCF. Asset custom fields of an item: assetKeyCF, assetTypeCF.
var riskCFs = map[string]string{
	sdk.FieldKey:        "USM key",
	sdk.FieldKind:       "USM kind",
	sdk.FieldProcess:    "USM process",
	sdk.FieldSource:     "USM source",
	sdk.FieldLikelihood: "USM likelihood",
	sdk.FieldImpact:     "USM impact",
	sdk.FieldEffort:     "USM effort",
	// The description lives in a custom field too (see tickets.go).
	sdk.FieldDescription: descriptionCF,
}

const (
	markerCF    = "USM marker"
	reportKeyCF = "USM report key"
	assetKeyCF  = "USM key"
	assetTypeCF = "USM type"
	// descriptionCF holds a risk's description: a Text custom field.
	descriptionCF = "USM description"
)

// config is the decoded, checked config block.
type config struct {
	URL         string  `json:"url"`
	Token       string  `json:"token"`
	Queue       string  `json:"queue"`
	ReportQueue string  `json:"report_queue"`
	Catalog     string  `json:"catalog"`
	KeyPrefix   *string `json:"key_prefix"`
	PageSize    float64 `json:"page_size"`
	RequestLog  string  `json:"request_log"`

	base     *url.URL
	pageSize int
	prefix   string
}

// Describe says what the RT connector is and does.
func (c *Connector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "rt",
		Version: version,
		Capabilities: []sdk.Capability{
			{Kind: sdk.KindRisk, Pull: true, Push: true},
			{Kind: sdk.KindItem, Pull: true},
		},
		PublishesReports: true,
		Schema: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "url", Type: sdk.TypeString, Required: true, Description: `RT's base URL, e.g. "https://rt.example.org" (REST2 lives under /REST/2.0).`},
			{Name: "token", Type: sdk.TypeString, Required: true, Sensitive: true, Description: `An RT auth token of the user the hub acts as (Logged in as → Settings → Auth Tokens), e.g. env("RT_TOKEN").`},
			{Name: "queue", Type: sdk.TypeString, Description: `The queue whose tickets are risks, e.g. "Risks". Needed for risk syncs.`},
			{Name: "report_queue", Type: sdk.TypeString, Description: `The queue published reports become tickets of, e.g. "Reports"; without it the connector does not publish.`},
			{Name: "catalog", Type: sdk.TypeString, Description: `The asset catalog that is the BIR, e.g. "Infrastructure". Needed for item syncs.`},
			{Name: "key_prefix", Type: sdk.TypeString, Description: `The prefix of the key of an asset without a "USM key" custom field value: the key is the prefix and the asset id (default "CI-").`},
			{Name: "page_size", Type: sdk.TypeNumber, Description: "How many tickets or assets one listing request asks for, 1 to 100 (default 100)."},
			{Name: "request_log", Type: sdk.TypeString, Description: "A file to append one line per HTTP request to (method, path and query, status, milliseconds), to see what a sync costs. The token is never written."},
		}},
	}, nil
}

// Configure checks the config block without reaching RT (Check does).
func (c *Connector) Configure(_ context.Context, raw sdk.Config) error {
	var cfg config
	var problems []sdk.AttributeProblem
	add := func(attr, summary, detail string) {
		problems = append(problems, sdk.AttributeProblem{Attribute: attr, Summary: summary, Detail: detail})
	}
	if err := raw.Decode(&cfg); err != nil {
		return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "url", Summary: "the config block does not decode", Detail: err.Error()}}}
	}
	cfg.URL = strings.TrimSpace(cfg.URL)
	if u, err := url.Parse(cfg.URL); cfg.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url", fmt.Sprintf("%q is not an http(s) URL", cfg.URL), `E.g. url = "https://rt.example.org".`)
	} else {
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawQuery, u.Fragment = "", ""
		cfg.base = u
	}
	if cfg.Token = strings.TrimSpace(cfg.Token); cfg.Token == "" {
		add("token", "an auth token is required", `Give an RT auth token, e.g. token = env("RT_TOKEN").`)
	}
	cfg.Queue, cfg.ReportQueue, cfg.Catalog = strings.TrimSpace(cfg.Queue), strings.TrimSpace(cfg.ReportQueue), strings.TrimSpace(cfg.Catalog)
	if cfg.Queue == "" && cfg.Catalog == "" && cfg.ReportQueue == "" {
		add("queue", "name a queue, a report_queue or a catalog", `E.g. queue = "Risks" for risks, catalog = "Infrastructure" for configuration items.`)
	}
	if cfg.Queue != "" && strings.EqualFold(cfg.Queue, cfg.ReportQueue) {
		add("report_queue", "must differ from queue", "Reports are tickets of their own queue, so they are never taken for risks.")
	}
	cfg.pageSize = 100
	if cfg.PageSize != 0 {
		if cfg.PageSize < 1 || cfg.PageSize > 100 || cfg.PageSize != float64(int(cfg.PageSize)) {
			add("page_size", fmt.Sprintf("%g is not a whole number from 1 to 100", cfg.PageSize), "E.g. page_size = 100.")
		}
		cfg.pageSize = int(cfg.PageSize)
	}
	cfg.prefix = "CI-"
	if cfg.KeyPrefix != nil {
		cfg.prefix = *cfg.KeyPrefix
	}
	if len(problems) > 0 {
		return &sdk.ConfigError{Problems: problems}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg = &cfg
	c.api = newClient(cfg.base, cfg.Token, cfg.RequestLog)
	return nil
}

// state returns the configuration and client, or an error before Configure.
func (c *Connector) state() (*config, *client, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cfg == nil {
		return nil, nil, sdk.Errorf(sdk.ClassPermanent, "the RT connector is not configured")
	}
	return c.cfg, c.api, nil
}

// Check reaches RT with the config: the token, the queues and the catalog
// and their custom fields, and names what is missing and how to make it.
func (c *Connector) Check(ctx context.Context) error {
	cfg, api, err := c.state()
	if err != nil {
		return err
	}
	var probs []string
	if err := api.get(ctx, "/rt", nil, nil); err != nil {
		return fmt.Errorf("reach RT at %s: %w", cfg.base.Redacted(), err)
	}
	checkQueue := func(name string, need []string) {
		var q struct {
			TicketCustomFields []struct {
				Name string `json:"name"`
			} `json:"TicketCustomFields"`
			Links []struct {
				Ref string `json:"ref"`
			} `json:"_hyperlinks"`
		}
		if err := api.get(ctx, "/queue/"+url.PathEscape(name), nil, &q); err != nil {
			if errors.Is(err, errNotFound) || sdk.ClassOf(err) == sdk.ClassPermanent {
				probs = append(probs, fmt.Sprintf("queue %q is missing or the token's user may not see it (%v): create it (Admin → Queues → Create) and grant the user SeeQueue, ShowTicket, CreateTicket, ModifyTicket, CommentOnTicket and ReplyToTicket on it", name, err))
				return
			}
			probs = append(probs, fmt.Sprintf("queue %q: %v", name, err))
			return
		}
		// RT offers the "create" link only to a user with CreateTicket.
		canCreate := false
		for _, l := range q.Links {
			canCreate = canCreate || l.Ref == "create"
		}
		if !canCreate {
			probs = append(probs, fmt.Sprintf("the token's user may not create tickets in queue %q: grant it CreateTicket (with ShowTicket, ModifyTicket and CommentOnTicket) on the queue (Admin → Queues → %s → User Rights or Group Rights)", name, name))
		}
		have := map[string]bool{}
		for _, f := range q.TicketCustomFields {
			have[f.Name] = true
		}
		for _, n := range need {
			if !have[n] {
				probs = append(probs, fmt.Sprintf("queue %q has no ticket custom field %q: create it (Admin → Custom Fields → Create: Applies to Tickets, type \"Enter one value\") and apply it to the queue; the user needs SeeCustomField and ModifyCustomField", name, n))
			}
		}
	}
	if cfg.Queue != "" {
		need := []string{markerCF}
		for _, f := range []string{sdk.FieldKey, sdk.FieldKind, sdk.FieldProcess, sdk.FieldSource, sdk.FieldLikelihood, sdk.FieldImpact, sdk.FieldEffort, sdk.FieldDescription} {
			need = append(need, riskCFs[f])
		}
		checkQueue(cfg.Queue, need)
	}
	if cfg.ReportQueue != "" {
		checkQueue(cfg.ReportQueue, []string{reportKeyCF})
	}
	if cfg.Catalog != "" {
		if _, err := api.catalogID(ctx, cfg.Catalog); err != nil {
			probs = append(probs, fmt.Sprintf("catalog %q: %v: create it (Admin → Assets → Catalogs → Create) and grant the user ShowAsset on it; an asset custom field %q (Applies to Assets) gives items their keys", cfg.Catalog, err, assetKeyCF))
		}
	}
	if len(probs) > 0 {
		return sdk.Errorf(sdk.ClassPermanent, "RT at %s is not set up for the hub: %s", cfg.base.Redacted(), strings.Join(probs, "; "))
	}
	return nil
}
