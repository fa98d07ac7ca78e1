package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/ingest"
	inv "github.com/usmhub/usmhub/core/inventory"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/register"
	"github.com/usmhub/usmhub/core/store"
)

func riskCommands() map[string]command {
	return map[string]command{
		"add":    leaf{"Register a risk (threat or opportunity)", runRiskAdd},
		"list":   leaf{"List risks by priority", runRiskList},
		"show":   leaf{"Show one risk with its votes and history", runRiskShow},
		"update": leaf{"Change a risk's fields or status", runRiskUpdate},
		"import": leaf{"Import risks from CSV or JSON, all or nothing", runRiskImport},
		"export": leaf{"Export risks as CSV or JSON (importable again)", runRiskExport},
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
		kind:        fs.String("kind", string(model.DefaultKind), "threat or opportunity"),
		process:     fs.String("process", "", "the USM process it improves: agree, change, recover, operate or improve"),
		source:      fs.String("source", "", "where it came from (a scan, an incident, the sounding board …)"),
		owner:       fs.String("owner", "", "who owns it"),
		status:      fs.String("status", string(model.DefaultStatus), "proposed, accepted, planned, in_progress, realized or rejected"),
		likelihood:  fs.Int("likelihood", model.DefaultLikelihood, "likelihood 1–5"),
		impact:      fs.Int("impact", model.DefaultImpact, "impact 1–5"),
		effort:      fs.Float64("effort", model.DefaultEffort, "effort in the unit of sprint capacity (≥ 0)"),
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

// risk is the risk the flags give.
func (f *riskFlags) risk() model.Risk {
	return model.Risk{Key: *f.key, Title: *f.title, Description: *f.description, Kind: model.Kind(*f.kind),
		Process: model.Process(*f.process), Source: *f.source, Owner: *f.owner, Status: model.Status(*f.status),
		Likelihood: *f.likelihood, Impact: *f.impact, Effort: *f.effort}
}

// edit is the change the flags that were set ask for.
func (f *riskFlags) edit(set map[string]bool) register.Edit {
	ed := register.Edit{Values: f.risk()}
	for _, name := range ingest.RiskColumns {
		if set[name] {
			ed.Fields = append(ed.Fields, name)
		}
	}
	return ed
}

func runRiskAdd(ctx context.Context, e *env, args []string) int {
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
	if *rf.key != "" && !model.ValidKey(*rf.key) {
		return e.usageErr(fs, "-key %q: use letters, digits, '-', '_' or '.'", *rf.key)
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	draft, err := register.Draft(cfg, *initiative, rf.risk())
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	r, err := register.Add(ctx, st, cfg, e.actor(), draft)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(r)
	}
	fmt.Fprintf(e.stdout, "added %s: %s\n", r.Key, r.Title)
	return exitOK
}

func runRiskList(ctx context.Context, e *env, args []string) int {
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
	if *sortBy != register.ByPriority && *sortBy != register.ByKey {
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
	cfg, st, err := e.open(ctx)
	if err != nil {
		return e.fail(err)
	}
	items, err := register.ListRisks(ctx, st, cfg, f, *sortBy, *limit)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(items)
	}
	tw := e.table("KEY\tPRIORITY\tSTATUS\tKIND\tL\tI\tEFFORT\tVOTES\tPROCESS\tOWNER\tTITLE")
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

func runRiskShow(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("risk show", "risk show R-n [-json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one risk, e.g. usmhub risk show R-12")
	}
	cfg, st, err := e.open(ctx)
	if err != nil {
		return e.fail(err)
	}
	out, err := register.ShowRisk(ctx, st, cfg, pos[0])
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(out)
	}
	r := out.Risk
	tw := e.table("")
	fmt.Fprintf(tw, "Key:\t%s (%s)\n", r.Key, r.ID)
	fmt.Fprintf(tw, "Title:\t%s\n", r.Title)
	fmt.Fprintf(tw, "Initiative:\t%s\n", r.Initiative)
	fmt.Fprintf(tw, "Kind:\t%s\n", r.Kind)
	fmt.Fprintf(tw, "Status:\t%s\n", r.Status)
	fmt.Fprintf(tw, "Priority:\t%s\n", fmtScore(r.Priority))
	fmt.Fprintf(tw, "Likelihood × impact:\t%d × %d\n", r.Likelihood, r.Impact)
	fmt.Fprintf(tw, "Effort:\t%g\n", r.Effort)
	fmt.Fprintf(tw, "Process:\t%s\n", dash(r.Process))
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
	tw := e.table("")
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

func runRiskUpdate(ctx context.Context, e *env, args []string) int {
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
	cfg, st, err := e.open(ctx)
	if err != nil {
		return e.fail(err)
	}
	ed := rf.edit(set)
	ed.SetAffects, ed.Affects = set["affects"], affected
	r, changed, err := register.Update(ctx, st, cfg, e.actor(), pos[0], ed)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(r)
	}
	if changed {
		fmt.Fprintf(e.stdout, "updated %s (version %d)\n", r.Key, r.Version)
	} else {
		fmt.Fprintf(e.stdout, "%s unchanged\n", r.Key)
	}
	return exitOK
}

func runRiskImport(ctx context.Context, e *env, args []string) int {
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
		return e.failRows(err, pos[0], "nothing imported: %d problem(s) in %s; fix them and import again")
	}
	if *asJSON {
		return e.printJSON(res)
	}
	printImport(e, res)
	return exitOK
}

// printImport writes an import's account: its notes on stderr, its
// changes and summary on stdout.
func printImport(e *env, res *inv.RiskResult) {
	for _, l := range res.Notes() {
		fmt.Fprintln(e.stderr, l)
	}
	for _, l := range res.Lines() {
		fmt.Fprintln(e.stdout, l)
	}
	fmt.Fprintln(e.stdout, res.Summary())
}

func runRiskExport(ctx context.Context, e *env, args []string) int {
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
