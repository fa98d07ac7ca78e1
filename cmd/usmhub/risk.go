package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/ingest"
	inv "github.com/usmhub/usmhub/core/inventory"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/priority"
	"github.com/usmhub/usmhub/core/store"
)

func riskCommands() map[string]command {
	return map[string]command{
		"add":    riskAddCmd{},
		"list":   riskListCmd{},
		"show":   riskShowCmd{},
		"update": riskUpdateCmd{},
		"import": riskImportCmd{},
		"export": riskExportCmd{},
	}
}

// riskFlags are the editable fields of a risk as flags.
type riskFlags struct {
	key, title, description, kind, process, source, owner, status *string
	likelihood, impact                                            *int
	effort                                                        *float64
}

func addRiskFlags(fs *flag.FlagSet) *riskFlags {
	return &riskFlags{
		key:         fs.String("key", "", "the human key (default: the next R-n)"),
		title:       fs.String("title", "", "what the improvement is (required)"),
		description: fs.String("description", "", "more detail"),
		kind:        fs.String("kind", string(ingest.DefaultKind), "threat or opportunity"),
		process:     fs.String("process", "", "the USM process it improves: agree, change, recover, operate or improve"),
		source:      fs.String("source", "", "where it came from (a scan, an incident, the sounding board …)"),
		owner:       fs.String("owner", "", "who owns it"),
		status:      fs.String("status", string(ingest.DefaultStatus), "proposed, accepted, planned, in_progress, realized or rejected"),
		likelihood:  fs.Int("likelihood", ingest.DefaultLikelihood, "likelihood 1–5"),
		impact:      fs.Int("impact", ingest.DefaultImpact, "impact 1–5"),
		effort:      fs.Float64("effort", ingest.DefaultEffort, "effort in the unit of sprint capacity (≥ 0)"),
	}
}

// updateRiskFlags are the flags of risk update: the same fields, without
// add's defaults (a flag not given leaves its field as it is) and without
// the key, which never changes.
func updateRiskFlags(fs *flag.FlagSet) *riskFlags {
	return &riskFlags{
		key:         new(string),
		title:       fs.String("title", "", "a new title"),
		description: fs.String("description", "", "a new description"),
		kind:        fs.String("kind", "", "threat or opportunity"),
		process:     fs.String("process", "", "the USM process it improves: agree, change, recover, operate or improve"),
		source:      fs.String("source", "", "where it came from"),
		owner:       fs.String("owner", "", "who owns it"),
		status:      fs.String("status", "", "move it to proposed, accepted, planned, in_progress, realized or rejected (along the status flow)"),
		likelihood:  fs.Int("likelihood", 0, "likelihood 1–5"),
		impact:      fs.Int("impact", 0, "impact 1–5"),
		effort:      fs.Float64("effort", 0, "effort in the unit of sprint capacity (≥ 0)"),
	}
}

// apply copies the flags that were set onto r.
func (f *riskFlags) apply(r *model.Risk, set map[string]bool) {
	if set["title"] {
		r.Title = *f.title
	}
	if set["description"] {
		r.Description = *f.description
	}
	if set["kind"] {
		r.Kind = model.Kind(*f.kind)
	}
	if set["process"] {
		r.Process = model.Process(*f.process)
	}
	if set["source"] {
		r.Source = *f.source
	}
	if set["owner"] {
		r.Owner = *f.owner
	}
	if set["status"] {
		r.Status = model.Status(*f.status)
	}
	if set["likelihood"] {
		r.Likelihood = *f.likelihood
	}
	if set["impact"] {
		r.Impact = *f.impact
	}
	if set["effort"] {
		r.Effort = *f.effort
	}
}

type riskAddCmd struct{}

func (riskAddCmd) Synopsis() string { return "Register a risk (threat or opportunity)" }

func (riskAddCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("risk add", "risk add -title TEXT [-initiative K] [-kind threat|opportunity] [-likelihood N] [-impact N] [-effort N] …")
	initiative := fs.String("initiative", "", "the initiative's key (default: the only one)")
	asJSON := fs.Bool("json", false, "print the risk as JSON")
	rf := addRiskFlags(fs)
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if strings.TrimSpace(*rf.title) == "" {
		return e.usageErr(fs, "-title is required")
	}
	if *rf.key != "" && !ingest.ValidKey(*rf.key) {
		return e.usageErr(fs, "-key %q: use letters, digits, '-', '_' or '.'", *rf.key)
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	in, err := cfg.Initiative(*initiative)
	if err != nil {
		return e.fail(err)
	}
	r := model.Risk{Key: *rf.key, Initiative: in.Key, Kind: model.Kind(*rf.kind), Title: *rf.title, Description: *rf.description,
		Process: model.Process(*rf.process), Source: *rf.source, Likelihood: *rf.likelihood, Impact: *rf.impact,
		Effort: *rf.effort, Owner: *rf.owner, Status: model.Status(*rf.status)}
	if err := r.Validate(); err != nil {
		return e.fail(fmt.Errorf("risk not added: %w", flattenErr(err)))
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	err = st.Update(ctx, e.actor(), func(tx store.Tx) error { return tx.CreateRisk(&r) })
	if err != nil {
		return e.fail(fmt.Errorf("add risk: %w", err))
	}
	if *asJSON {
		return e.printJSON(listItem(r, scorer(cfg, time.Now())))
	}
	fmt.Fprintf(e.stdout, "added %s: %s\n", r.Key, r.Title)
	return exitOK
}

// flattenErr joins a multi-error into one line.
func flattenErr(err error) error {
	return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
}

// riskItem is the one JSON shape of a risk (docs/JSON.md): risk list,
// show, add, update and vote all print it; show adds its context as
// sibling keys.
type riskItem struct {
	Key         string    `json:"key"`
	ID          string    `json:"id"`
	Initiative  string    `json:"initiative"`
	Title       string    `json:"title"`
	Kind        string    `json:"kind"`
	Process     string    `json:"process"`
	Source      string    `json:"source"`
	Likelihood  int       `json:"likelihood"`
	Impact      int       `json:"impact"`
	Effort      float64   `json:"effort"`
	Votes       int       `json:"votes"`
	Priority    *float64  `json:"priority"`
	Status      string    `json:"status"`
	Owner       string    `json:"owner"`
	Description string    `json:"description"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	seq         int
}

// scorer returns a function scoring a risk under its initiative's policy
// (nil when the initiative has none, or the score fails).
func scorer(cfg *config.Config, now time.Time) func(model.Risk) *float64 {
	policies := map[string]*priority.Policy{}
	return func(r model.Risk) *float64 {
		p, ok := policies[r.Initiative]
		if !ok {
			if pr := cfg.Policy(r.Initiative); pr != nil {
				p = pr.Policy
			}
			policies[r.Initiative] = p
		}
		if p == nil {
			return nil
		}
		s, err := p.Score(priority.InputsOf(r, now))
		if err != nil {
			return nil
		}
		return &s
	}
}

func listItem(r model.Risk, score func(model.Risk) *float64) riskItem {
	return riskItem{Key: r.Key, ID: r.ID, Initiative: r.Initiative, Title: r.Title, Kind: string(r.Kind),
		Process: string(r.Process), Source: r.Source, Likelihood: r.Likelihood, Impact: r.Impact, Effort: r.Effort,
		Votes: r.Votes, Priority: score(r), Status: string(r.Status), Owner: r.Owner, Description: r.Description,
		Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, seq: keySeq(r.Key)}
}

// keySeq is n of a key R-n (0 for other keys), to order keys naturally.
func keySeq(key string) int {
	if i := strings.LastIndexByte(key, '-'); i >= 0 {
		if n, err := strconv.Atoi(key[i+1:]); err == nil {
			return n
		}
	}
	return 0
}

// sortByPriority orders by descending priority (unscored last), then older
// first, then by key.
func sortByPriority(items []riskItem) {
	slices.SortStableFunc(items, func(a, b riskItem) int {
		switch {
		case a.Priority != nil && b.Priority == nil:
			return -1
		case a.Priority == nil && b.Priority != nil:
			return 1
		case a.Priority != nil && *a.Priority != *b.Priority:
			if *a.Priority > *b.Priority {
				return -1
			}
			return 1
		case !a.CreatedAt.Equal(b.CreatedAt):
			return a.CreatedAt.Compare(b.CreatedAt)
		}
		return a.seq - b.seq
	})
}

type riskListCmd struct{}

func (riskListCmd) Synopsis() string { return "List risks by priority" }

func (riskListCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("risk list", "risk list [-initiative K] [-status S,…] [-kind K] [-process P] [-sort priority|key] [-limit N] [-json]")
	initiative := fs.String("initiative", "", "only this initiative's risks")
	statuses := fs.String("status", "", "only these statuses, comma-separated")
	kind := fs.String("kind", "", "only threats or opportunities")
	process := fs.String("process", "", "only risks of this USM process")
	sortBy := fs.String("sort", "priority", "priority (highest first) or key")
	limit := fs.Int("limit", 0, "show at most N risks (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if *sortBy != "priority" && *sortBy != "key" {
		return e.usageErr(fs, "-sort must be priority or key, not %q", *sortBy)
	}
	f := store.RiskFilter{Initiative: *initiative, Kind: model.Kind(*kind), Process: model.Process(*process)}
	if *statuses != "" {
		for _, s := range strings.Split(*statuses, ",") {
			st := model.Status(strings.TrimSpace(s))
			if !st.Valid() {
				return e.usageErr(fs, "-status %q is not a status (one of proposed, accepted, planned, in_progress, realized, rejected)", s)
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return e.usageErr(fs, "-kind must be threat or opportunity, not %q", *kind)
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	items, err := listRisks(ctx, e, cfg, f, *sortBy)
	if err != nil {
		return e.fail(err)
	}
	if *limit > 0 && len(items) > *limit {
		items = items[:*limit]
	}
	if *asJSON {
		return e.printJSON(items)
	}
	tw := e.table()
	fmt.Fprintln(tw, "KEY\tPRIORITY\tSTATUS\tKIND\tL\tI\tEFFORT\tVOTES\tPROCESS\tOWNER\tTITLE")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%g\t%d\t%s\t%s\t%s\n", it.Key, fmtScore(it.Priority), it.Status, it.Kind,
			it.Likelihood, it.Impact, it.Effort, it.Votes, dash(it.Process), dash(it.Owner), it.Title)
	}
	if err := tw.Flush(); err != nil {
		return e.fail(err)
	}
	if len(items) == 0 {
		fmt.Fprintln(e.stderr, "no risks match; add some with 'usmhub risk add' or 'usmhub risk import FILE'")
	}
	return exitOK
}

// listRisks reads the matching risks with their priority, sorted.
func listRisks(ctx context.Context, e *env, cfg *config.Config, f store.RiskFilter, sortBy string) ([]riskItem, error) {
	st, err := e.store(ctx)
	if err != nil {
		return nil, err
	}
	score := scorer(cfg, time.Now())
	var items []riskItem
	err = st.View(ctx, func(r store.Reader) error {
		return r.Risks(f, func(risk model.Risk) error {
			items = append(items, listItem(risk, score))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list risks: %w", err)
	}
	if sortBy == "key" {
		slices.SortStableFunc(items, func(a, b riskItem) int { return a.seq - b.seq })
	} else {
		sortByPriority(items)
	}
	return items, nil
}

func fmtScore(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 2, 64)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type riskShowCmd struct{}

func (riskShowCmd) Synopsis() string { return "Show one risk with its votes and history" }

func (riskShowCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("risk show", "risk show R-n [-json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one risk, e.g. usmhub risk show R-12")
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	var out struct {
		Risk    model.Risk         `json:"risk"`
		Votes   []model.Vote       `json:"votes"`
		Affects []affectedItem     `json:"affects"`
		History []model.AuditEntry `json:"history"`
	}
	out.Affects = []affectedItem{}
	err = st.View(ctx, func(r store.Reader) error {
		var err error
		if out.Risk, err = store.FindRisk(r, pos[0]); err != nil {
			return err
		}
		if out.Votes, err = r.Votes(out.Risk.ID); err != nil {
			return err
		}
		if out.Affects, err = affectedItems(r, out.Risk.ID); err != nil {
			return err
		}
		return r.Audit(store.AuditFilter{EntityID: out.Risk.ID}, func(a model.AuditEntry) error {
			out.History = append(out.History, a)
			return nil
		})
	})
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		// The risk is the object risk list prints; its context sits beside it.
		return e.printJSON(struct {
			Risk    riskItem           `json:"risk"`
			Votes   []model.Vote       `json:"votes"`
			Affects []affectedItem     `json:"affects"`
			History []model.AuditEntry `json:"history"`
		}{listItem(out.Risk, scorer(cfg, time.Now())), out.Votes, out.Affects, out.History})
	}
	r := out.Risk
	tw := e.table()
	fmt.Fprintf(tw, "Key:\t%s (%s)\n", r.Key, r.ID)
	fmt.Fprintf(tw, "Title:\t%s\n", r.Title)
	fmt.Fprintf(tw, "Initiative:\t%s\n", r.Initiative)
	fmt.Fprintf(tw, "Kind:\t%s\n", r.Kind)
	fmt.Fprintf(tw, "Status:\t%s\n", r.Status)
	fmt.Fprintf(tw, "Priority:\t%s\n", fmtScore(scorer(cfg, time.Now())(r)))
	fmt.Fprintf(tw, "Likelihood × impact:\t%d × %d\n", r.Likelihood, r.Impact)
	fmt.Fprintf(tw, "Effort:\t%g\n", r.Effort)
	fmt.Fprintf(tw, "Process:\t%s\n", dash(string(r.Process)))
	fmt.Fprintf(tw, "Source:\t%s\n", dash(r.Source))
	fmt.Fprintf(tw, "Owner:\t%s\n", dash(r.Owner))
	fmt.Fprintf(tw, "Votes:\t%d\n", r.Votes)
	for _, v := range out.Votes {
		fmt.Fprintf(tw, "\t%s ×%d (%s)\n", v.Voter, v.Weight, v.CastAt.Format(time.DateOnly))
	}
	for i, a := range out.Affects {
		label := ""
		if i == 0 {
			label = "Affects:"
		}
		if a.Missing {
			fmt.Fprintf(tw, "%s\t%s (not in the BIR)\n", label, a.Key)
		} else {
			fmt.Fprintf(tw, "%s\t%s %s (%s)\n", label, a.Key, a.Name, a.Status)
		}
	}
	if r.Description != "" {
		fmt.Fprintf(tw, "Description:\t%s\n", strings.ReplaceAll(r.Description, "\n", "\n\t"))
	}
	if err := tw.Flush(); err != nil {
		return e.fail(err)
	}
	if len(out.History) > 0 {
		fmt.Fprintln(e.stdout, "\nHistory:")
		printAudit(e, out.History)
	}
	return exitOK
}

func printAudit(e *env, entries []model.AuditEntry) {
	tw := e.table()
	for _, a := range entries {
		change := fmt.Sprintf("%s: %q → %q", a.Field, a.Old, a.New)
		if a.Field == "created" {
			change = "created"
		}
		run := ""
		if a.RunID != "" {
			run = " run " + a.RunID
		}
		fmt.Fprintf(tw, "  %s\t%s%s\t%s\t%s\n", a.At.Local().Format("2006-01-02 15:04:05"), a.Actor, run, a.Entity, change)
	}
	_ = tw.Flush()
}

type riskUpdateCmd struct{}

func (riskUpdateCmd) Synopsis() string { return "Change a risk's fields or status" }

func (riskUpdateCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("risk update", "risk update R-n [-status S] [-likelihood N] [-impact N] [-effort N] [-title T] [-affects CI-1,CI-2] …")
	asJSON := fs.Bool("json", false, "print the risk as JSON")
	affects := fs.String("affects", "", "the keys of the configuration items the risk affects, comma-separated (replaces the list; \"\" clears it)")
	rf := updateRiskFlags(fs)
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one risk, e.g. usmhub risk update R-12 -status accepted")
	}
	set := given(fs)
	delete(set, "json")
	if len(set) == 0 {
		return e.usageErr(fs, "nothing to change: give at least one field flag")
	}
	var affected []string
	if set["affects"] {
		var err error
		if affected, err = model.ParseAffects(*affects); err != nil {
			return e.usageErr(fs, "-affects: %v", err)
		}
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	var r model.Risk
	var changed bool
	err = st.Update(ctx, e.actor(), func(tx store.Tx) error {
		var err error
		if r, err = store.FindRisk(tx, pos[0]); err != nil {
			return err
		}
		before := r
		if set["affects"] {
			old, err := tx.Affects(r.ID)
			if err != nil {
				return err
			}
			if strings.Join(old, ",") != strings.Join(affected, ",") {
				changed = true
				if err := tx.SetAffects(r.ID, affected); err != nil {
					return err
				}
			}
		}
		rf.apply(&r, set)
		if r == before {
			return nil
		}
		changed = true
		return tx.UpdateRisk(&r)
	})
	if err != nil {
		return e.fail(fmt.Errorf("update %s: %w", pos[0], flattenErr(err)))
	}
	if *asJSON {
		return e.printJSON(listItem(r, scorer(cfg, time.Now())))
	}
	if changed {
		fmt.Fprintf(e.stdout, "updated %s (version %d)\n", r.Key, r.Version)
	} else {
		fmt.Fprintf(e.stdout, "%s unchanged\n", r.Key)
	}
	return exitOK
}

type riskImportCmd struct{}

func (riskImportCmd) Synopsis() string { return "Import risks from CSV or JSON, all or nothing" }

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

func (riskImportCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("risk import", "risk import [-initiative K] [-dry-run] [-force] [-json] FILE (CSV with a header row, or a JSON array)")
	initiative := fs.String("initiative", "", "the initiative the risks belong to (default: the only one)")
	dryRun := fs.Bool("dry-run", false, "list what would change and what would be kept, store nothing")
	force := fs.Bool("force", false, "overwrite fields changed since the last import (by a sync, by hand, by a sprint) and fields of risks never imported; a status still never moves backwards")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one file to import")
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	in, err := cfg.Initiative(*initiative)
	if err != nil {
		return e.fail(err)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return e.fail(fmt.Errorf("import: %w", err))
	}
	defer f.Close()
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	m := e.meter("import " + filepath.Base(pos[0]))
	res, err := inv.ImportRisks(ctx, st, pos[0], f, inv.RiskOptions{Initiative: in.Key, Actor: e.actor().Name,
		DryRun: *dryRun, Force: *force, Progress: func(rows int, done float64) { m.Update("", rows, done) }})
	m.Finish()
	if err != nil {
		return e.failImport(err, pos[0])
	}
	if *asJSON {
		return e.printJSON(res)
	}
	printImport(e, res)
	return exitOK
}

// failImport prints why nothing was imported: every bad row of the file,
// then what to do, or the one error.
func (e *env) failImport(err error, file string) int {
	var rowErrs ingest.Errors
	if errors.As(err, &rowErrs) {
		fmt.Fprintln(e.stderr, rowErrs.Error())
		fmt.Fprintf(e.stderr, "usmhub: nothing imported: %d problem(s) in %s; fix them and import again\n", len(rowErrs), file)
		return exitError
	}
	return e.fail(err)
}

// printImport writes an import's result for people: on stdout the risks a
// dry run would create, the field changes and the summary; on stderr a line
// per row matched by its title and per kept field. Each list is in file
// order, every line at FILE:LINE.
func printImport(e *env, res *inv.RiskResult) {
	type line struct {
		n    int
		text string
	}
	var notes, changes []line
	for _, m := range res.MatchedByTitle {
		notes = append(notes, line{m.Line, fmt.Sprintf("note: row matched %s by its title %q (the row has no key)", m.Key, m.Title)})
	}
	for _, k := range res.KeptFields {
		notes = append(notes, line{k.Line, fmt.Sprintf("warning: %s %s: keeps %s, the file says %s: %s", k.Key, k.Field,
			ingest.Quote(k.Field, k.Hub), ingest.Quote(k.Field, k.File), k.Message)})
	}
	if res.DryRun {
		for _, c := range res.Creates {
			changes = append(changes, line{c.Line, fmt.Sprintf("would create %s %q", c.Key, c.Title)})
		}
	}
	for _, c := range res.Changes {
		changes = append(changes, line{c.Line, fmt.Sprintf("%s %s: %s → %s", c.Key, c.Field,
			ingest.Quote(c.Field, c.Old), ingest.Quote(c.Field, c.New))})
	}
	for _, out := range []struct {
		w     io.Writer
		lines []line
	}{{e.stderr, notes}, {e.stdout, changes}} {
		slices.SortStableFunc(out.lines, func(a, b line) int { return a.n - b.n })
		for _, l := range out.lines {
			fmt.Fprintf(out.w, "%s:%d: %s\n", res.File, l.n, l.text)
		}
	}
	verb := "imported"
	if res.DryRun {
		verb = "would import (dry run, nothing stored)"
	}
	fmt.Fprintf(e.stdout, "%s %s: %d created, %d updated, %d unchanged, %d kept (changed since last import)\n",
		verb, res.File, res.Created, res.Updated, res.Unchanged, res.Kept)
}

type riskExportCmd struct{}

func (riskExportCmd) Synopsis() string { return "Export risks as CSV or JSON (importable again)" }

func (riskExportCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("risk export", "risk export [-initiative K] [-format csv|json|xlsx] [-json] [-o FILE]")
	initiative := fs.String("initiative", "", "only this initiative's risks")
	format := fs.String("format", "", "csv, json or xlsx (default: xlsx for -o FILE.xlsx, else csv)")
	asJSON := fs.Bool("json", false, "the same as -format json")
	out := fs.String("o", "", "write to FILE instead of standard output")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if *asJSON {
		*format = inv.JSON
	}
	fmtName, err := inv.Format(*format, *out)
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	err = inv.WriteFile(*out, e.stdout, func(w io.Writer) error {
		return inv.ExportRisks(ctx, st, store.RiskFilter{Initiative: *initiative}, fmtName, w)
	})
	if err != nil {
		return e.fail(fmt.Errorf("export: %w", err))
	}
	return exitOK
}
