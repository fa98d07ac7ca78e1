package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
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
	"github.com/usmhub/usmhub/core/meter"
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

// importResult is what an import did (or, in a dry run, would do).
type importResult struct {
	File      string `json:"file"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	// Kept counts the rows of which at least one field kept the hub's value.
	Kept   int  `json:"kept"`
	DryRun bool `json:"dry_run,omitempty"`
	Force  bool `json:"force,omitempty"`
	// Creates lists the risks created, Changes every field changed.
	Creates []importCreate `json:"creates"`
	Changes []importChange `json:"changes"`
	// KeptFields lists every field where a row differs from the hub and
	// the hub's value stayed, with the reason and who set it last.
	KeptFields []importKept `json:"kept_fields"`
	// MatchedByTitle lists the rows without a key matched by their title.
	MatchedByTitle []importTitleMatch `json:"matched_by_title"`
}

type importCreate struct {
	Line  int    `json:"line"`
	Key   string `json:"key"`
	Title string `json:"title"`
}

type importChange struct {
	Line int    `json:"line"`
	Key  string `json:"key"`
	ingest.FieldChange
}

type importKept struct {
	Line      int               `json:"line"`
	Key       string            `json:"key"`
	Field     string            `json:"field"`
	Hub       string            `json:"hub"`
	File      string            `json:"file"`
	Reason    ingest.KeepReason `json:"reason"`
	ChangedBy string            `json:"changed_by,omitempty"`
	RunID     string            `json:"run_id,omitempty"`
	ChangedAt *time.Time        `json:"changed_at,omitempty"`
	Message   string            `json:"message"`
}

type importTitleMatch struct {
	Line  int    `json:"line"`
	Key   string `json:"key"`
	Title string `json:"title"`
}

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
	res := importResult{File: pos[0], DryRun: *dryRun, Force: *force, Creates: []importCreate{},
		Changes: []importChange{}, KeptFields: []importKept{}, MatchedByTitle: []importTitleMatch{}}
	// The import's own actor tells its changes from everybody else's in the
	// audit trail: the next import reads it to keep what others changed.
	actor := store.Actor{Name: ingest.ImportActor(pos[0], e.actor().Name)}
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	counted := meter.NewReader(f, size)
	m := e.meter("import " + filepath.Base(pos[0]))
	tick := func(rows int) { m.Update("", rows, counted.Fraction()) }
	err = st.Update(ctx, actor, func(tx store.Tx) error {
		defer m.Finish()
		if err := importRisks(tx, in.Key, pos[0], counted, *force, &res, tick); err != nil {
			return err
		}
		if *dryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		var rowErrs ingest.Errors
		if errors.As(err, &rowErrs) {
			fmt.Fprintln(e.stderr, rowErrs.Error())
			fmt.Fprintf(e.stderr, "usmhub: nothing imported: %d problem(s) in %s; fix them and import again\n", len(rowErrs), pos[0])
			return exitError
		}
		return e.fail(fmt.Errorf("nothing imported: %w", err))
	}
	if *asJSON {
		return e.printJSON(res)
	}
	printImport(e, &res)
	return exitOK
}

// printImport writes an import's result for people: on stdout the risks a
// dry run would create, the field changes and the summary; on stderr a line
// per row matched by its title and per kept field. Each list is in file
// order, every line at FILE:LINE.
func printImport(e *env, res *importResult) {
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

// importRisks applies every row of an inventory in tx, matching existing
// risks by key when given, else by title within the initiative. A matched
// risk takes the row's fields as ingest.PlanRow decides from its audit
// trail: never a status backwards, and a field changed since the last
// import (or of a risk never imported) only with force. Any bad row makes it
// return ingest.Errors listing all of them (the caller rolls back).
func importRisks(tx store.Tx, initiative, name string, r io.Reader, force bool, res *importResult, tick func(rows int)) error {
	rd, err := ingest.NewRiskReader(name, r)
	if err != nil {
		return err
	}
	var errs ingest.Errors
	seenKey := map[string]int{}
	seenTitle := map[string]int{}
	for rows := 0; ; rows++ {
		if tick != nil {
			tick(rows)
		}
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		var one *ingest.RowError
		var many ingest.Errors
		switch {
		case errors.As(err, &many):
			errs = append(errs, many...)
			continue
		case errors.As(err, &one):
			errs = append(errs, one)
			continue
		case err != nil:
			return err
		}
		in := row.Risk
		if in.Key != "" {
			if l, dup := seenKey[in.Key]; dup {
				errs = append(errs, row.Err(name, "key", fmt.Sprintf("%s is already on line %d", in.Key, l)))
				continue
			}
			seenKey[in.Key] = row.Pos.Line
		}
		tkey := strings.ToLower(in.Title)
		if l, dup := seenTitle[tkey]; dup && in.Key == "" {
			errs = append(errs, row.Err(name, "title", fmt.Sprintf("%q is already on line %d; give the rows keys to import both", in.Title, l)))
			continue
		}
		seenTitle[tkey] = row.Pos.Line
		line := row.Pos.Line
		existing, err := match(tx, initiative, in)
		switch {
		case errors.Is(err, store.ErrNotFound):
			in.Initiative = initiative
			if err := tx.CreateRisk(&in); err != nil {
				errs = append(errs, row.Err(name, "", err.Error()))
				continue
			}
			res.Created++
			res.Creates = append(res.Creates, importCreate{Line: line, Key: in.Key, Title: in.Title})
		case err != nil:
			errs = append(errs, row.Err(name, "key", err.Error()))
		default:
			if in.Key == "" {
				res.MatchedByTitle = append(res.MatchedByTitle, importTitleMatch{Line: line, Key: existing.Key, Title: existing.Title})
			}
			var h ingest.History
			if err := tx.Audit(store.AuditFilter{EntityID: existing.ID}, func(a model.AuditEntry) error {
				h.Add(a)
				return nil
			}); err != nil {
				return fmt.Errorf("%s:%d: read the history of %s: %w", name, line, existing.Key, err)
			}
			plan := ingest.PlanRow(existing, row, h, force)
			for _, k := range plan.Kept {
				res.KeptFields = append(res.KeptFields, keptOf(line, existing.Key, k))
			}
			if len(plan.Kept) > 0 {
				res.Kept++
			}
			if len(plan.Changes) == 0 {
				res.Unchanged++
				continue
			}
			if err := tx.UpdateRisk(&plan.Risk); err != nil {
				col := ""
				if errors.Is(err, model.ErrTransition) {
					col = "status"
				}
				errs = append(errs, row.Err(name, col, fmt.Sprintf("%s: %v", existing.Key, err)))
				continue
			}
			res.Updated++
			for _, c := range plan.Changes {
				res.Changes = append(res.Changes, importChange{Line: line, Key: existing.Key, FieldChange: c})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// keptOf is a kept field as the result reports it.
func keptOf(line int, key string, k ingest.KeptField) importKept {
	out := importKept{Line: line, Key: key, Field: k.Field, Hub: k.Hub, File: k.File, Reason: k.Reason,
		ChangedBy: k.By.Actor, RunID: k.By.RunID, Message: k.Why()}
	if !k.By.At.IsZero() {
		at := k.By.At
		out.ChangedAt = &at
	}
	return out
}

// match finds the stored risk a row refers to.
func match(tx store.Tx, initiative string, in model.Risk) (model.Risk, error) {
	if in.Key != "" {
		r, err := tx.Risk(in.Key)
		if err == nil && r.Initiative != initiative {
			return r, fmt.Errorf("%s belongs to initiative %q, not %q", in.Key, r.Initiative, initiative)
		}
		return r, err
	}
	return tx.RiskByTitle(initiative, in.Title)
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
		*format = "json"
	}
	if *format == "" && strings.HasSuffix(strings.ToLower(*out), ".xlsx") {
		*format = "xlsx"
	}
	if *format == "" {
		*format = "csv"
	}
	if *format != "csv" && *format != "json" && *format != "xlsx" {
		return e.usageErr(fs, "-format must be csv, json or xlsx, not %q", *format)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	w := e.stdout
	var file *os.File
	if *out != "" {
		file, err = os.CreateTemp(dirOf(*out), ".usmhub-export-*")
		if err != nil {
			return e.fail(fmt.Errorf("export: %w", err))
		}
		defer os.Remove(file.Name())
		w = file
	}
	err = st.View(ctx, func(r store.Reader) error {
		return exportRisks(r, store.RiskFilter{Initiative: *initiative}, *format, w)
	})
	if err == nil && file != nil {
		if err = file.Close(); err == nil {
			err = os.Rename(file.Name(), *out)
		}
	}
	if err != nil {
		return e.fail(fmt.Errorf("export: %w", err))
	}
	return exitOK
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i+1]
	}
	return "."
}

// exportRisks streams risks in the import format.
func exportRisks(r store.Reader, f store.RiskFilter, format string, w io.Writer) error {
	if format == "json" {
		if _, err := io.WriteString(w, "["); err != nil {
			return err
		}
		n := 0
		err := r.Risks(f, func(risk model.Risk) error {
			b, err := json.Marshal(exportRow(risk))
			if err != nil {
				return err
			}
			sep := ",\n "
			if n == 0 {
				sep = "\n "
			}
			n++
			_, err = fmt.Fprintf(w, "%s%s", sep, b)
			return err
		})
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, "\n]\n")
		return err
	}
	if format == "xlsx" {
		x, err := ingest.NewXLSXWriter("risks", ingest.RiskColumns)
		if err != nil {
			return err
		}
		if err := r.Risks(f, func(risk model.Risk) error { return x.Write(exportRow(risk)) }); err != nil {
			return err
		}
		return x.Close(w)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(ingest.RiskColumns); err != nil {
		return err
	}
	err := r.Risks(f, func(risk model.Risk) error {
		row := exportRow(risk)
		rec := make([]string, len(ingest.RiskColumns))
		for i, c := range ingest.RiskColumns {
			rec[i] = ingest.NeutraliseFormula(fmt.Sprint(row[c])) // no cell runs in a spreadsheet
		}
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func exportRow(r model.Risk) map[string]any {
	return map[string]any{"key": r.Key, "title": r.Title, "description": r.Description, "kind": string(r.Kind),
		"process": string(r.Process), "source": r.Source, "likelihood": r.Likelihood, "impact": r.Impact,
		"effort": r.Effort, "owner": r.Owner, "status": string(r.Status)}
}
