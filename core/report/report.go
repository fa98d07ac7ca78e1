// Package report builds the reports usmhub publishes to an initiative's
// stakeholders — USM's communication precondition — from the live store and
// config: a sprint report, a scan (progress) report, a risk register report
// and a readiness report. It renders them as Markdown that reads well inside
// a ticket of Redmine, GitHub or Request Tracker (headings, tables, lists and
// bold only), as JSON through the Report type's tags, and as one
// self-contained HTML file with SVG charts (core/chart) drawn from the same
// numbers.
//
// Every report carries a key that is stable for its period (a sprint, a
// baseline's comparison series, a week, or the initiative), so publishing it
// again updates the same ticket instead of opening another.
//
// The package only reads: the config, a store.Reader inside the caller's
// read transaction, and the connector health the caller found. It never
// writes to the store, launches a connector or publishes anything itself;
// the caller hands Report.SDK to the connectors' Publish. It never renders
// a secret: nothing from the hub's API token or a connector's config body.
package report

import (
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/readiness"
	"github.com/usmhub/usmhub/core/store"
)

// The report kinds, as a report block's kind and `usmhub report KIND` name them.
const (
	KindSprint    = "sprint"
	KindScan      = "scan"
	KindRegister  = "register"
	KindReadiness = "readiness"
)

// Kinds lists every report kind in documentation order.
var Kinds = []string{KindSprint, KindScan, KindRegister, KindReadiness}

// DefaultTop is how many risks a register report ranks when Options.Top is 0.
const DefaultTop = 10

// Input is what a report is built from. Reader must stay valid for the whole
// Build call (run Build inside store.View). Now is the moment the report
// describes: it fixes the register's week, the risks' age for the priority
// policy and GeneratedAt; the zero time means time.Now().
type Input struct {
	Config     *config.Config
	Initiative *config.Initiative
	Reader     store.Reader
	Now        time.Time
	// Connectors is the health of the configured connectors, for the
	// readiness report's tools check (see readiness.ConnectorHealth).
	Connectors []readiness.ConnectorHealth
}

// Options tune a report.
type Options struct {
	// Sprint is the sprint a sprint report describes; 0 means the latest:
	// the active sprint when there is one, else the one with the highest
	// number.
	Sprint int
	// Top is how many open risks a register report ranks; 0 means
	// DefaultTop.
	Top int
	// NoTrend leaves a register report's weekly trend out: the dashboard's
	// overview, which shows no trend, then reads no audit trail.
	NoTrend bool
}

// Report is a built report. Exactly one of Sprint, Scan, Register and
// Readiness is set, after Kind.
type Report struct {
	Kind  string `json:"kind"`
	Key   string `json:"key"`
	Title string `json:"title"`
	// Initiative is the initiative's key, InitiativeName its name (the key
	// when it has none).
	Initiative     string            `json:"initiative"`
	InitiativeName string            `json:"initiative_name"`
	GeneratedAt    time.Time         `json:"generated_at"`
	Sprint         *SprintReport     `json:"sprint,omitempty"`
	Scan           *ScanReport       `json:"scan,omitempty"`
	Register       *RegisterReport   `json:"register,omitempty"`
	Readiness      []readiness.Check `json:"readiness,omitempty"`

	// secrets are values that must never appear in the rendered text.
	secrets []string
	// publicURL is the config's hub.public_url (empty when not set).
	publicURL string
}

// Build builds the report of a kind about in.Initiative. A report whose
// subject does not exist yet (no sprint planned, no baseline scan) is still
// built: it says so and names the next step, so a scheduled publication
// never fails for want of data. Errors are reading errors, an unknown kind,
// a sprint number that does not exist, or an incomplete Input.
func Build(kind string, in Input, opts Options) (*Report, error) {
	if !slices.Contains(Kinds, kind) {
		return nil, fmt.Errorf("unknown report kind %q (one of %s)", kind, strings.Join(Kinds, ", "))
	}
	if err := in.check(); err != nil {
		return nil, fmt.Errorf("%s report: %w", kind, err)
	}
	if opts.Sprint < 0 {
		return nil, fmt.Errorf("%s report: sprint number must be 1 or more (0 for the latest), not %d", kind, opts.Sprint)
	}
	if opts.Top < 0 {
		return nil, fmt.Errorf("%s report: top must be 1 or more (0 for %d), not %d", kind, DefaultTop, opts.Top)
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	ini := &in.Initiative.Initiative
	r := &Report{
		Kind:           kind,
		Initiative:     ini.Key,
		InitiativeName: ini.Name,
		GeneratedAt:    in.Now.UTC(),
		secrets:        secretsOf(in.Config),
		publicURL:      in.Config.Hub.PublicURL,
	}
	if strings.TrimSpace(r.InitiativeName) == "" {
		r.InitiativeName = ini.Key
	}
	var err error
	switch kind {
	case KindSprint:
		err = buildSprint(r, in, opts)
	case KindScan:
		err = buildScan(r, in)
	case KindRegister:
		err = buildRegister(r, in, opts)
	case KindReadiness:
		err = buildReadiness(r, in)
	}
	if err != nil {
		return nil, fmt.Errorf("%s report of initiative %q: %w", kind, ini.Key, err)
	}
	// A ticket's subject is one line.
	r.Title = inline(r.Title)
	return r, nil
}

func (in *Input) check() error {
	var missing []string
	if in.Config == nil {
		missing = append(missing, "config")
	}
	if in.Initiative == nil {
		missing = append(missing, "initiative")
	}
	if in.Reader == nil {
		missing = append(missing, "store reader")
	}
	if len(missing) > 0 {
		return errors.New("no " + strings.Join(missing, ", ") + " given")
	}
	return nil
}

// SDK returns the report as connectors publish it: its Markdown, its HTML
// for the connectors that keep files, and its charts as SVG attachments
// (see Attachments) for the tools that take files.
func (r *Report) SDK() connector.Report {
	return connector.Report{Key: r.Key, Kind: r.Kind, Title: r.Title, Markdown: r.Markdown(), HTML: r.HTML(), Attachments: r.Attachments(), URL: r.URL()}
}

// URL returns the report's page on the dashboard under hub.public_url
// (".../reports/KIND?initiative=KEY"), or "" when no public URL is set.
func (r *Report) URL() string {
	if r.publicURL == "" {
		return ""
	}
	return r.publicURL + "/reports/" + url.PathEscape(r.Kind) + "?" + url.Values{"initiative": {r.Initiative}}.Encode()
}

// Attachments returns the report's charts (the same Figures its HTML form
// shows) as standalone SVG files named after the figure, e.g.
// "register-threats.svg": stable per kind, so a tool that replaces files
// by name replaces each chart when the report is published again.
// Sensitive values are redacted as in the other forms.
func (r *Report) Attachments() []connector.Attachment {
	figs := r.Figures("")
	out := make([]connector.Attachment, 0, len(figs))
	for _, f := range figs {
		svg := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + string(f.SVG) + "\n"
		for _, s := range r.secrets {
			svg = strings.ReplaceAll(svg, template.HTMLEscapeString(s), "(sensitive)")
		}
		out = append(out, connector.Attachment{Name: f.ID + ".svg", ContentType: "image/svg+xml", Data: []byte(redact(svg, r.secrets))})
	}
	return out
}

// keyPrefix is the first part of every key of an initiative's reports.
func keyPrefix(initiative string) string {
	return "usmhub-" + keyPart(initiative)
}

// keyPart makes s safe inside a report key, which holds only ASCII letters,
// digits and dashes: every run of other characters becomes one dash. When
// that changed s, a short hash of s follows, so that keys such as "a.b" and
// "a_b" still tell their initiatives apart.
func keyPart(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok {
			dash = b.Len() > 0
			continue
		}
		if dash {
			b.WriteByte('-')
			dash = false
		}
		b.WriteRune(c)
	}
	out := b.String()
	if out == s {
		return out
	}
	h := fnv.New32a()
	h.Write([]byte(s))
	sum := fmt.Sprintf("%08x", h.Sum32())
	if out == "" {
		return "x" + sum
	}
	return out + "-" + sum
}

// secretsOf lists the secret values of a config that reports must never
// show. Values too short to be told from ordinary text are left out.
func secretsOf(cfg *config.Config) []string {
	var out []string
	for _, t := range []string{cfg.Hub.APIToken.Reveal(), cfg.Hub.ReadToken.Reveal()} {
		if len(t) >= 6 {
			out = append(out, t)
		}
	}
	return out
}

// redact replaces every secret in s.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "(sensitive)")
	}
	return s
}
