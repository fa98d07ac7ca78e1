package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/url"
	"strings"

	"github.com/usmhub/usmhub/core/chart"
	"github.com/usmhub/usmhub/core/readiness"
)

//go:embed html/report.tmpl html/style.css
var htmlFiles embed.FS

// CSS is the style sheet of the HTML reports, for pages that show a
// report's body (HTMLBody) inside their own layout.
var CSS = mustRead("html/style.css")

var htmlTemplates = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":        num,
	"numPtr":     numPtr,
	"delta":      delta,
	"plural":     plural,
	"capitalise": capitalise,
	"label":      func(s any) string { return label(fmt.Sprint(s)) },
	"kindName":   func(k string) string { return k },
	"statusCount": func(cs []Count, name string) int {
		for _, c := range cs {
			if c.Name == name {
				return c.Count
			}
		}
		return 0
	},
	"counts": func(g *RegisterReport) []countPart {
		return []countPart{{"Status", g.ByStatus}, {"Kind", g.ByKind}, {"Process", g.ByProcess}}
	},
	"riskLink": func(v *htmlView, key string) template.HTML {
		if v.RiskURL == "" || key == "" {
			return template.HTML(template.HTMLEscapeString(key)) //nolint:gosec // escaped
		}
		href := strings.ReplaceAll(v.RiskURL, "{key}", url.PathEscape(key))
		return template.HTML(fmt.Sprintf(`<a href="%s">%s</a>`, template.HTMLEscapeString(href), template.HTMLEscapeString(key))) //nolint:gosec // escaped
	},
}).ParseFS(htmlFiles, "html/report.tmpl"))

func mustRead(name string) string {
	b, err := htmlFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type countPart struct {
	Column string
	Counts []Count
}

// Figure is one chart of a report: its SVG (escaped and self-contained),
// a caption, and an id unique among a report's figures.
type Figure struct {
	ID      string
	Caption string
	SVG     template.HTML
}

// htmlView is what the templates render.
type htmlView struct {
	R         *Report
	CSS       template.CSS
	Generated string
	Figures   []Figure
	// RiskURL links risk keys: "{key}" is replaced by the key; empty
	// leaves them plain text.
	RiskURL          string
	Pass, Warn, Fail int
}

// HTMLOptions tune HTMLBody.
type HTMLOptions struct {
	// RiskURL makes every risk key a link: "{key}" in it is replaced by
	// the key, e.g. "/risks/{key}". Empty leaves keys as text.
	RiskURL string
	// IDPrefix prefixes the ids of the charts, for a page that shows more
	// than one report.
	IDPrefix string
}

// Figures draws the report's charts: the register's heatmaps (threats and
// opportunities) and trend, the sprint's burn-up, the scan's scores per
// dimension, or the readiness strip. Their numbers are the report's own,
// the same the Markdown and JSON forms show.
func (r *Report) Figures(idPrefix string) []Figure {
	id := func(s string) string { return idPrefix + r.Kind + "-" + s }
	var out []Figure
	switch {
	case r.Register != nil:
		g := r.Register
		out = append(out,
			Figure{ID: id("threats"), Caption: "Open threats: number of risks per likelihood and impact.",
				SVG: chart.Heatmap{ID: id("threats-svg"), Title: "Open threats", Cells: g.Heatmap.Threats}.SVG()},
			Figure{ID: id("opportunities"), Caption: "Open opportunities: number of risks per likelihood and impact.",
				SVG: chart.Heatmap{ID: id("opportunities-svg"), Title: "Open opportunities", Cells: g.Heatmap.Opportunities}.SVG()})
		if len(g.Trend) > 0 {
			st := chart.Stacked{ID: id("trend-svg"), Title: "Risks per ISO week"}
			se := []chart.Series{{Name: "open"}, {Name: "realized"}, {Name: "rejected"}}
			for _, w := range g.Trend {
				st.Labels = append(st.Labels, w.Week)
				se[0].Values = append(se[0].Values, w.Open)
				se[1].Values = append(se[1].Values, w.Realized)
				se[2].Values = append(se[2].Values, w.Rejected)
			}
			st.Series = se
			out = append(out, Figure{ID: id("trend"), Caption: "Open, realized and rejected risks at the end of each ISO week.", SVG: st.SVG()})
		}
	case r.Sprint != nil && r.Sprint.BurnUp != nil:
		b := chart.BurnUp{ID: id("burnup-svg"), Title: fmt.Sprintf("Sprint %d burn-up", r.Sprint.Number)}
		for _, d := range r.Sprint.BurnUp.Days {
			b.Dates = append(b.Dates, d.Date)
			b.Planned = append(b.Planned, d.Planned)
			b.Realized = append(b.Realized, d.Realized)
		}
		out = append(out, Figure{ID: id("burnup"), Caption: "Planned effort against the effort of the items realized, per day of the sprint.", SVG: b.SVG()})
	case r.Scan != nil && r.Scan.Baseline != nil:
		s := r.Scan
		bars := chart.Bars{ID: id("scores-svg"), Title: "Scores per dimension", Names: [2]string{"baseline " + s.Baseline.TakenOn, "no progress scan yet"}}
		if s.Latest != nil {
			bars.Names[1] = "latest " + s.Latest.TakenOn
		}
		for _, row := range s.Rows {
			bars.Labels = append(bars.Labels, row.Dimension)
			bars.Values[0] = append(bars.Values[0], row.Baseline)
			bars.Values[1] = append(bars.Values[1], row.Latest)
		}
		out = append(out, Figure{ID: id("scores"), Caption: "The baseline's score and the latest comparable scan's, per dimension (same method and version).", SVG: bars.SVG()})
	case r.Kind == KindReadiness:
		strip := chart.Strip{ID: id("strip-svg"), Title: "Preconditions"}
		for _, c := range r.Readiness {
			strip.Checks = append(strip.Checks, chart.Check{Label: fmt.Sprintf("%d. %s", c.Precondition, capitalise(c.Name)), State: string(c.Status)})
		}
		out = append(out, Figure{ID: id("readiness"), Caption: "Each precondition's state, numbered as in the checklist.", SVG: strip.SVG()})
	}
	return out
}

func (r *Report) view(opts HTMLOptions) *htmlView {
	v := &htmlView{R: r, CSS: template.CSS(CSS), Generated: r.GeneratedAt.UTC().Format(footerTime), //nolint:gosec // our own file
		Figures: r.Figures(opts.IDPrefix), RiskURL: opts.RiskURL}
	for _, c := range r.Readiness {
		switch c.Status {
		case readiness.Pass:
			v.Pass++
		case readiness.Warn:
			v.Warn++
		default:
			v.Fail++
		}
	}
	return v
}

// HTML renders the report as one self-contained HTML document: inline CSS
// and SVG charts, no script and no external request, readable on a phone
// and printed. It shows the same numbers as Markdown and the JSON form.
func (r *Report) HTML() string {
	return r.render("document", HTMLOptions{})
}

// HTMLBody renders the report's content without the document around it,
// for a page of the dashboard (which links risk keys with opts.RiskURL).
// The page must include CSS.
func (r *Report) HTMLBody(opts HTMLOptions) template.HTML {
	return template.HTML(r.render("body", opts)) //nolint:gosec // rendered by html/template
}

func (r *Report) render(name string, opts HTMLOptions) string {
	var b bytes.Buffer
	if err := htmlTemplates.ExecuteTemplate(&b, name, r.view(opts)); err != nil {
		// The templates are fixed and their data typed: an error is a bug.
		panic(fmt.Sprintf("render %s report as HTML: %v", r.Kind, err))
	}
	out := b.String()
	for _, s := range r.secrets {
		out = strings.ReplaceAll(out, template.HTMLEscapeString(s), "(sensitive)")
	}
	return redact(out, r.secrets)
}
