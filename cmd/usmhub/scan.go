package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/usmhub/usmhub/core/app"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/progress"
)

func scanCommands() map[string]command {
	return map[string]command{
		"import":  leaf{"Import a baseline or progress scan (CSV or .xlsx: dimension,score)", runScanImport},
		"list":    leaf{"List scans", runScanList},
		"compare": leaf{"Compare the latest scan with the baseline per dimension", runScanCompare},
	}
}

func runScanImport(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("scan import", "scan import [-initiative K] -kind baseline|progress -method NAME -method-version V -date YYYY-MM-DD [-finding TEXT]… FILE")
	initiative := fs.String("initiative", "", "the initiative (default: the only one)")
	kind := fs.String("kind", "", "baseline or progress (required)")
	method := fs.String("method", "", "the scan technique (required)")
	methodVersion := fs.String("method-version", "", "the technique's version (required)")
	date := fs.String("date", "", "the day the scan was taken, YYYY-MM-DD (required)")
	var findings multiFlag
	fs.Var(&findings, "finding", "a finding of the scan (repeatable)")
	asJSON := fs.Bool("json", false, "print the stored scan as JSON")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one CSV or .xlsx file with the columns dimension,score (and optionally respondents,note)")
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"-kind", *kind}, {"-method", *method}, {"-method-version", *methodVersion}, {"-date", *date}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return e.usageErr(fs, "%s required", strings.Join(missing, ", "))
	}
	in, err := e.initiative(*initiative)
	if err != nil {
		return e.fail(err)
	}
	scan, err := app.ReadScan(pos[0], model.Scan{Initiative: in.Key, Kind: model.ScanKind(*kind), Method: *method,
		MethodVersion: *methodVersion, TakenOn: *date, Findings: findings})
	if err != nil {
		return e.failRows(err, pos[0], "scan not imported: %d problem(s) in %s")
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	scan, already, err := app.ImportScan(ctx, st, e.actor(), scan)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(scan)
	}
	if already {
		fmt.Fprintf(e.stdout, "%s scan %s %s of %s was already imported; nothing changed\n", scan.Kind, scan.Method, scan.MethodVersion, scan.TakenOn)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "imported %s scan %s %s of %s: %d dimension(s)\n", scan.Kind, scan.Method, scan.MethodVersion, scan.TakenOn, len(scan.Scores))
	return exitOK
}

func runScanList(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("scan list", "scan list [-initiative K] [-json]")
	initiative := fs.String("initiative", "", "the initiative (default: the only one)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	in, err := e.initiative(*initiative)
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	scans, err := app.Scans(ctx, st, in.Key)
	if err != nil {
		return e.fail(fmt.Errorf("list scans: %w", err))
	}
	if *asJSON {
		if scans == nil {
			scans = []model.Scan{}
		}
		return e.printJSON(scans)
	}
	tw := e.table("DATE\tKIND\tMETHOD\tVERSION\tDIMENSIONS")
	for _, s := range scans {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", s.TakenOn, s.Kind, s.Method, s.MethodVersion, len(s.Scores))
	}
	_ = tw.Flush()
	return exitOK
}

func runScanCompare(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("scan compare", "scan compare [-initiative K] [-json]")
	initiative := fs.String("initiative", "", "the initiative (default: the only one)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	in, err := e.initiative(*initiative)
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	cmp, err := app.CompareScans(ctx, st, in.Key)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		rows := cmp.Rows
		if rows == nil {
			rows = []progress.Row{}
		}
		return e.printJSON(rows)
	}
	fmt.Fprintf(e.stdout, "baseline %s (%s %s) → latest %s (%s)\n", cmp.Baseline.TakenOn, cmp.Baseline.Method, cmp.Baseline.MethodVersion, cmp.Latest.TakenOn, cmp.Latest.Kind)
	tw := e.table("DIMENSION\tBASELINE\tLATEST\tDELTA")
	for _, r := range cmp.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Dimension, fmtNum(r.Baseline), fmtNum(r.Latest), fmtDelta(r.Delta))
	}
	_ = tw.Flush()
	return exitOK
}

func fmtNum(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%g", *p)
}

func fmtDelta(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%+g", *p)
}
