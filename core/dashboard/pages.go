package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/priority"
	"github.com/usmhub/usmhub/core/readiness"
	"github.com/usmhub/usmhub/core/report"
	"github.com/usmhub/usmhub/core/store"
)

// pageNames are the page templates, each defining "content" inside the
// layout.
var pageNames = []string{"overview", "risks", "risk", "sprints", "scans", "syncs", "report", "login", "message"}

var pages = func() map[string]*template.Template {
	base := template.Must(template.New("layout").Funcs(template.FuncMap{
		"num": func(f float64) string {
			return strconv.FormatFloat(float64(int64(f*100+copysign(0.5, f)))/100, 'f', -1, 64)
		},
		"score": func(f *float64) string {
			if f == nil {
				return "—"
			}
			return strconv.FormatFloat(float64(int64(*f*100+copysign(0.5, *f)))/100, 'f', -1, 64)
		},
		"label": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return "—"
				}
				return v.UTC().Format("2006-01-02 15:04 UTC")
			case *time.Time:
				if v == nil || v.IsZero() {
					return "—"
				}
				return v.UTC().Format("2006-01-02 15:04 UTC")
			}
			return fmt.Sprint(t)
		},
		"riskURL": func(key string) string { return "/risks/" + url.PathEscape(key) },
		// link makes a value a link only when it is an http(s) or mailto
		// URL; anything else stays text.
		"link": func(s string) template.HTML {
			u, err := url.Parse(s)
			if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" || err == nil && u.Scheme == "mailto" {
				return template.HTML(`<a href="` + template.HTMLEscapeString(u.String()) + `" rel="noreferrer noopener">` + template.HTMLEscapeString(s) + `</a>`) //nolint:gosec // escaped, scheme checked
			}
			return template.HTML(template.HTMLEscapeString(s)) //nolint:gosec // escaped
		},
		"query": func(v url.Values, key, value string) string {
			q := url.Values{}
			for k, vs := range v {
				q[k] = slices.Clone(vs)
			}
			if value == "" {
				q.Del(key)
			} else {
				q.Set(key, value)
			}
			if key != "page" {
				q.Del("page")
			}
			return "?" + q.Encode()
		},
		"add": func(a, b int) int { return a + b },
	}).ParseFS(files, "templates/layout.tmpl"))
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(files, "templates/"+name+".tmpl"))
	}
	return out
}()

func copysign(a, b float64) float64 {
	if b < 0 {
		return -a
	}
	return a
}

// view is what every page template gets.
type view struct {
	Title      string
	Nav        string // the active section
	Initiative *config.Initiative
	CSS        template.CSS
	Open       bool // loopback: no sign-in
	Message    string
	Next       string
	Failed     bool
	Now        time.Time
	Data       any
}

// render writes a page. The page is rendered into a buffer first, so that
// an error never leaves half a page behind a 200.
func (d *Dashboard) render(w http.ResponseWriter, code int, name string, v *view) {
	v.CSS = template.CSS(report.CSS + layoutCSS) //nolint:gosec // our own style sheets
	v.Open = d.open
	if v.Now.IsZero() {
		v.Now = d.opts.Now()
	}
	var b bytes.Buffer
	if err := pages[name].ExecuteTemplate(&b, "layout", v); err != nil {
		d.opts.Log.Error("render page", "page", name, "error", err)
		http.Error(w, "the hub could not render this page; its log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// layoutCSS styles the dashboard's frame around the report style sheet.
const layoutCSS = `
nav.top{background:#24292f}
nav.top ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:0 auto;padding:.5rem 1rem;max-width:72rem}
nav.top a{color:#ffffff;text-decoration:none;padding:.25rem 0;display:inline-block}
nav.top a[aria-current=page]{border-bottom:2px solid #ffffff;font-weight:600}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end;margin:.5rem 0 1rem}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted)}
select,input,button{font:inherit;padding:.3rem .4rem;border:1px solid #8c959f;border-radius:4px;background:#fff;color:var(--ink)}
button{background:#1f883d;color:#fff;border-color:#1a7f37;cursor:pointer}
.health{font-weight:600}.health.ok{color:var(--pass)}.health.paused,.health.failing{color:var(--fail)}.health.incomplete{color:var(--warn)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,22rem),1fr));gap:1rem}
.card{border:1px solid var(--line);border-radius:6px;padding:.75rem;min-width:0}
.card h2{margin-top:0}
.pager{display:flex;gap:1rem;margin:1rem 0}
.error{color:var(--fail);font-weight:600}
`

// overviewData is the overview page's content.
type overviewData struct {
	Readiness   *report.Report
	Register    *report.Report
	Sprint      *report.Report
	Scan        *report.Report
	Syncs       []SyncHealth
	ReadyFigure []report.Figure
	HeatFigures []report.Figure
	BurnFigure  []report.Figure
	ScanFigure  []report.Figure
}

// overview is GET /: readiness, heatmaps, the current sprint's burn-up, the
// latest scan against the baseline, the top risks and every sync's health,
// from one read.
func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	now := d.opts.Now()
	var od overviewData
	err = d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		var err error
		if od.Syncs, err = syncHealth(rd, d.opts.Config, now); err != nil {
			return err
		}
		input := report.Input{Config: d.opts.Config, Initiative: in, Reader: rd, Now: now, Connectors: connectorHealth(od.Syncs)}
		if od.Readiness, err = report.Build(report.KindReadiness, input, report.Options{}); err != nil {
			return err
		}
		if od.Register, err = report.Build(report.KindRegister, input, report.Options{NoTrend: true}); err != nil {
			return err
		}
		if od.Sprint, err = report.Build(report.KindSprint, input, report.Options{}); err != nil {
			return err
		}
		od.Scan, err = report.Build(report.KindScan, input, report.Options{})
		return err
	})
	if err != nil {
		return fmt.Errorf("overview: %w", err)
	}
	od.ReadyFigure = od.Readiness.Figures("ov-")
	od.HeatFigures = od.Register.Figures("ov-")
	od.BurnFigure = od.Sprint.Figures("ov-")
	od.ScanFigure = od.Scan.Figures("ov-")
	d.render(w, http.StatusOK, "overview", &view{Title: in.Name, Nav: "overview", Initiative: in, Data: &od})
	return nil
}

// connectorHealth judges each connector by the syncs that use it, for the
// readiness check of the tools: failing or paused syncs make it failing
// (with the last error), a sync that succeeded makes it healthy, and one
// that never ran leaves it unchecked.
func connectorHealth(hs []SyncHealth) []readiness.ConnectorHealth {
	byID := map[string]int{}
	var out []readiness.ConnectorHealth
	for _, h := range hs {
		i, ok := byID[h.Connector]
		if !ok {
			i = len(out)
			out = append(out, readiness.ConnectorHealth{ID: h.Connector})
			byID[h.Connector] = i
		}
		c := &out[i]
		switch {
		case h.Health == "paused" || h.Health == "failing":
			why := h.LastError
			if why == "" {
				why = "sync " + h.Sync + " is " + h.Health
			}
			c.Checked, c.Err = true, errors.New(why)
		case h.LastSuccess != nil && c.Err == nil:
			c.Checked = true
		}
	}
	return out
}

// riskRow is a risk with its priority score (nil when unscored).
type riskRow struct {
	model.Risk
	Score *float64
	rank  priority.Rank
}

// riskQuery is a risk list's filters and page.
type riskQuery struct {
	Filter store.RiskFilter
	Owner  string
	Page   int // from 1
	Limit  int
}

// pageSize is how many risks a page of the risk list shows.
const pageSize = 50

// parseRiskQuery reads the filters of GET /risks and /v1/risks. Unknown
// values are errors the page shows.
func parseRiskQuery(q url.Values, initiative string) (riskQuery, error) {
	rq := riskQuery{Filter: store.RiskFilter{Initiative: initiative}, Owner: strings.TrimSpace(q.Get("owner")), Page: 1, Limit: pageSize}
	if s := q.Get("status"); s != "" {
		switch s {
		case "open":
			rq.Filter.Statuses = []model.Status{model.Proposed, model.Accepted, model.Planned, model.InProgress}
		default:
			if !slices.Contains(model.Statuses, model.Status(s)) {
				return rq, fmt.Errorf("status %q is not one of open, %s", s, joinStrings(model.Statuses))
			}
			rq.Filter.Statuses = []model.Status{model.Status(s)}
		}
	}
	if k := q.Get("kind"); k != "" {
		if !slices.Contains(model.Kinds, model.Kind(k)) {
			return rq, fmt.Errorf("kind %q is not one of %s", k, joinStrings(model.Kinds))
		}
		rq.Filter.Kind = model.Kind(k)
	}
	if p := q.Get("process"); p != "" {
		if !slices.Contains(model.Processes, model.Process(p)) {
			return rq, fmt.Errorf("process %q is not one of %s", p, joinStrings(model.Processes))
		}
		rq.Filter.Process = model.Process(p)
	}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 1000 {
			return rq, fmt.Errorf("page %q is not a number from 1 to 1000", p)
		}
		rq.Page = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			return rq, fmt.Errorf("limit %q is not a number from 1 to 500", l)
		}
		rq.Limit = n
	}
	return rq, nil
}

func joinStrings[T ~string](vs []T) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return strings.Join(out, ", ")
}

// rankRisks streams the matching risks and keeps the best offset+limit of
// them in priority order (priority.Compare), so that memory holds one
// page's worth, not the register. It returns
// the page's rows and how many risks matched.
func rankRisks(rd store.Reader, rq riskQuery, policy *priority.Policy, now time.Time) ([]riskRow, int, error) {
	keep := rq.Page * rq.Limit
	best := make([]riskRow, 0, min(keep, 256))
	total := 0
	err := rd.Risks(rq.Filter, func(risk model.Risk) error {
		if rq.Owner != "" && !strings.EqualFold(risk.Owner, rq.Owner) {
			return nil
		}
		total++
		row := riskRow{Risk: risk}
		row.Description = ""
		if policy != nil {
			if s, err := policy.Score(priority.InputsOf(risk, now)); err == nil {
				row.Score = &s
			}
		}
		row.rank = priority.RankOf(row.Score, risk.CreatedAt, risk.Key, risk.ID)
		if len(best) == keep && compareRows(&row, &best[keep-1]) >= 0 {
			return nil
		}
		i, _ := slices.BinarySearchFunc(best, row, func(a, b riskRow) int { return compareRows(&a, &b) })
		if len(best) == keep {
			best = best[:keep-1]
		}
		best = slices.Insert(best, i, row)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read risks: %w", err)
	}
	from := min((rq.Page-1)*rq.Limit, len(best))
	return best[from:], total, nil
}

func compareRows(a, b *riskRow) int { return priority.Compare(a.rank, b.rank) }

// policyOf returns an initiative's priority policy, or nil.
func (d *Dashboard) policyOf(in *config.Initiative) *priority.Policy {
	if p := d.opts.Config.Policy(in.Key); p != nil {
		return p.Policy
	}
	return nil
}

// risksData is the risk list's content.
type risksData struct {
	Rows      []riskRow
	Total     int
	Page      int
	Pages     int
	Query     url.Values
	Error     string
	Statuses  []model.Status
	Kinds     []model.Kind
	Processes []model.Process
	Policy    string
}

func (d *Dashboard) risks(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rd := &risksData{Query: q, Statuses: model.Statuses, Kinds: model.Kinds, Processes: model.Processes}
	if p := d.opts.Config.Policy(in.Key); p != nil && p.Policy != nil {
		rd.Policy = p.Name
	}
	rq, qerr := parseRiskQuery(q, in.Key)
	code := http.StatusOK
	if qerr != nil {
		rd.Error, code = qerr.Error(), http.StatusBadRequest
	} else {
		err = d.opts.Store.View(r.Context(), func(rdr store.Reader) error {
			var err error
			rd.Rows, rd.Total, err = rankRisks(rdr, rq, d.policyOf(in), d.opts.Now())
			return err
		})
		if err != nil {
			return err
		}
		rd.Page, rd.Pages = rq.Page, max(1, (rd.Total+rq.Limit-1)/rq.Limit)
	}
	d.render(w, code, "risks", &view{Title: "Risks", Nav: "risks", Initiative: in, Data: rd})
	return nil
}

// riskData is one risk's page.
type riskData struct {
	Risk    model.Risk
	Score   *float64
	Votes   []model.Vote
	Links   []remoteLink
	History []model.AuditEntry
	// HistoryLimit is how many of the newest audit entries are shown.
	HistoryLimit int
	Sprints      []int
}

// remoteLink is the risk's record in one sync's tool.
type remoteLink struct {
	Sync, Connector, ExternalID, State, Reason string
}

// historyLimit is how many audit entries a risk's page shows.
const historyLimit = 200

func (d *Dashboard) loadRisk(rd store.Reader, key string, in *config.Initiative) (*riskData, error) {
	risk, err := rd.Risk(key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &notFound{fmt.Sprintf("risk %q", key)}
	}
	if err != nil {
		return nil, fmt.Errorf("read risk %s: %w", key, err)
	}
	data := &riskData{Risk: risk, HistoryLimit: historyLimit}
	if p := d.opts.Config.Policy(risk.Initiative); p != nil && p.Policy != nil {
		if s, err := p.Policy.Score(priority.InputsOf(risk, d.opts.Now())); err == nil {
			data.Score = &s
		}
	}
	if data.Votes, err = rd.Votes(risk.ID); err != nil {
		return nil, fmt.Errorf("read votes of %s: %w", key, err)
	}
	for _, s := range d.opts.Config.Syncs {
		if s.Kind != "risk" {
			continue
		}
		l, err := rd.Link(s.Name, risk.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s's link in %s: %w", key, s.Name, err)
		}
		data.Links = append(data.Links, remoteLink{Sync: s.Name, Connector: s.Connector, ExternalID: l.ExternalID, State: string(l.State), Reason: l.Reason})
	}
	err = rd.Audit(store.AuditFilter{EntityID: risk.ID, Limit: historyLimit}, func(e model.AuditEntry) error {
		data.History = append(data.History, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", key, err)
	}
	slices.Reverse(data.History) // newest first
	sprints, err := rd.Sprints(risk.Initiative)
	if err != nil {
		return nil, fmt.Errorf("read sprints: %w", err)
	}
	for _, s := range sprints {
		for _, it := range s.Items {
			if it.RiskID == risk.ID {
				data.Sprints = append(data.Sprints, s.Number)
			}
		}
	}
	return data, nil
}

func (d *Dashboard) risk(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	var data *riskData
	err = d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		var err error
		data, err = d.loadRisk(rd, r.PathValue("key"), in)
		return err
	})
	if err != nil {
		return err
	}
	d.render(w, http.StatusOK, "risk", &view{Title: data.Risk.Key + ": " + data.Risk.Title, Nav: "risks", Initiative: in, Data: data})
	return nil
}

// sprintsData lists the sprints and shows the chosen one's report.
type sprintsData struct {
	Sprints []model.Sprint
	Report  template.HTML
	Number  int
}

func (d *Dashboard) sprints(w http.ResponseWriter, r *http.Request) error {
	return d.sprintPage(w, r, 0)
}

func (d *Dashboard) sprint(w http.ResponseWriter, r *http.Request) error {
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n < 1 {
		return &notFound{fmt.Sprintf("sprint %q", r.PathValue("number"))}
	}
	return d.sprintPage(w, r, n)
}

func (d *Dashboard) sprintPage(w http.ResponseWriter, r *http.Request, number int) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	var data sprintsData
	err = d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		var err error
		if data.Sprints, err = rd.Sprints(in.Key); err != nil {
			return fmt.Errorf("read sprints: %w", err)
		}
		if number > 0 && !slices.ContainsFunc(data.Sprints, func(s model.Sprint) bool { return s.Number == number }) {
			return &notFound{fmt.Sprintf("sprint %d", number)}
		}
		rep, err := report.Build(report.KindSprint, report.Input{Config: d.opts.Config, Initiative: in, Reader: rd, Now: d.opts.Now()}, report.Options{Sprint: number})
		if err != nil {
			return err
		}
		if rep.Sprint != nil {
			data.Number = rep.Sprint.Number
		}
		data.Report = rep.HTMLBody(report.HTMLOptions{RiskURL: "/risks/{key}"})
		return nil
	})
	if err != nil {
		return err
	}
	slices.Reverse(data.Sprints) // newest first
	title := "Sprints"
	if data.Number > 0 {
		title = fmt.Sprintf("Sprint %d", data.Number)
	}
	d.render(w, http.StatusOK, "sprints", &view{Title: title, Nav: "sprints", Initiative: in, Data: &data})
	return nil
}

// scansData lists the scans and shows the comparison.
type scansData struct {
	Scans  []model.Scan
	Report template.HTML
}

func (d *Dashboard) scans(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	var data scansData
	err = d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		var err error
		if data.Scans, err = rd.Scans(in.Key); err != nil {
			return fmt.Errorf("read scans: %w", err)
		}
		rep, err := report.Build(report.KindScan, report.Input{Config: d.opts.Config, Initiative: in, Reader: rd, Now: d.opts.Now()}, report.Options{})
		if err != nil {
			return err
		}
		data.Report = rep.HTMLBody(report.HTMLOptions{})
		return nil
	})
	if err != nil {
		return err
	}
	d.render(w, http.StatusOK, "scans", &view{Title: "Scans", Nav: "scans", Initiative: in, Data: &data})
	return nil
}

func (d *Dashboard) syncs(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	var hs []SyncHealth
	err = d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		var err error
		hs, err = syncHealth(rd, d.opts.Config, d.opts.Now())
		return err
	})
	if err != nil {
		return err
	}
	d.render(w, http.StatusOK, "syncs", &view{Title: "Syncs", Nav: "syncs", Initiative: in, Data: hs})
	return nil
}

// reportData is a report shown as a page.
type reportData struct {
	Kind  string
	Kinds []string
	Body  template.HTML
}

// report is GET /reports/{kind}: the report as the HTML form renders it.
// The readiness report judges the tools by their syncs (connectorHealth):
// the dashboard does not launch connectors.
func (d *Dashboard) report(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	kind := r.PathValue("kind")
	if !slices.Contains(report.Kinds, kind) {
		return &notFound{fmt.Sprintf("report %q", kind)}
	}
	var rep *report.Report
	err = d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		hs, err := syncHealth(rd, d.opts.Config, d.opts.Now())
		if err != nil {
			return err
		}
		rep, err = report.Build(kind, report.Input{Config: d.opts.Config, Initiative: in, Reader: rd, Now: d.opts.Now(),
			Connectors: connectorHealth(hs)}, report.Options{})
		return err
	})
	if err != nil {
		return err
	}
	d.render(w, http.StatusOK, "report", &view{Title: rep.Title, Nav: "reports", Initiative: in,
		Data: &reportData{Kind: kind, Kinds: report.Kinds, Body: rep.HTMLBody(report.HTMLOptions{RiskURL: "/risks/{key}"})}})
	return nil
}

// errorBody is the body of an API error.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
