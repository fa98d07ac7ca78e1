package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	inv "github.com/usmhub/usmhub/core/inventory"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/register"
	"github.com/usmhub/usmhub/core/store"
)

func itemCommands() map[string]command {
	return map[string]command{
		"list":   leaf{"List the configuration items of the BIR", runItemList},
		"show":   leaf{"Show one configuration item with the risks that affect it and its history", runItemShow},
		"import": leaf{"Import configuration items from CSV or JSON, all or nothing", runItemImport},
		"export": leaf{"Export configuration items as CSV, JSON or .xlsx (importable again)", runItemExport},
	}
}

func runItemList(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("item list", "item list [-status S] [-type T] [-source S] [-json]")
	status := fs.String("status", "", "only items with this status: planned, in_use, in_repair or retired")
	typ := fs.String("type", "", "only items of this type")
	source := fs.String("source", "", "only items from this source (a connector such as rt.main, or import:FILE)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	f := store.ItemFilter{Type: *typ, Source: *source}
	if *status != "" {
		f.Status = model.ParseItemStatus(*status)
		if !f.Status.Valid() {
			return e.usageErr(fs, "-status %q: use planned, in_use, in_repair or retired", *status)
		}
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	items, err := register.ListItems(ctx, st, f)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(items)
	}
	tw := e.table("KEY\tNAME\tTYPE\tSTATUS\tOWNER\tSOURCE\tRISKS")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Key, it.Name, dash(it.Type), it.Status, dash(it.Owner),
			dash(it.Source), dash(strings.Join(it.AffectedBy, ",")))
	}
	if err := tw.Flush(); err != nil {
		return e.fail(err)
	}
	return exitOK
}

func runItemShow(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("item show", "item show CI-n [-json]")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one item, e.g. usmhub item show CI-12")
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	out, err := register.ShowItem(ctx, st, pos[0])
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(out)
	}
	it := out.Item
	tw := e.table("")
	fmt.Fprintf(tw, "Key:\t%s (%s)\n", it.Key, it.ID)
	fmt.Fprintf(tw, "Name:\t%s\n", it.Name)
	fmt.Fprintf(tw, "Type:\t%s\n", dash(it.Type))
	fmt.Fprintf(tw, "Status:\t%s\n", it.Status)
	fmt.Fprintf(tw, "Owner:\t%s\n", dash(it.Owner))
	fmt.Fprintf(tw, "Source:\t%s\n", dash(it.Source))
	if len(out.AffectedBy) == 0 {
		fmt.Fprintf(tw, "Affected by:\t-\n")
	}
	for i, r := range out.AffectedBy {
		label := ""
		if i == 0 {
			label = "Affected by:"
		}
		fmt.Fprintf(tw, "%s\t%s %s (%s)\n", label, r.Key, r.Title, r.Status)
	}
	if it.Description != "" {
		fmt.Fprintf(tw, "Description:\t%s\n", strings.ReplaceAll(it.Description, "\n", "\n\t"))
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

func runItemImport(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("item import", "item import [-dry-run] [-json] FILE (CSV with a header row, or a JSON array)")
	dryRun := fs.Bool("dry-run", false, "list what would change, store nothing")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one file to import")
	}
	rows, err := inv.ReadItemFile(pos[0])
	if err != nil {
		return e.failRows(err, pos[0], "nothing imported: %d problem(s) in %s; fix them and import again")
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	res, err := inv.ImportItems(ctx, st, pos[0], rows, e.actor().Name, *dryRun)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(res)
	}
	for _, l := range res.Lines() {
		fmt.Fprintln(e.stdout, l)
	}
	fmt.Fprintln(e.stdout, res.Summary())
	return exitOK
}

func runItemExport(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("item export", "item export [-format csv|json|xlsx] [-o FILE]")
	format := fs.String("format", "", "csv, json or xlsx (default: xlsx for -o FILE.xlsx, else csv)")
	out := fs.String("o", "", "write to FILE instead of standard output")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	fmtName, err := inv.Format(*format, *out)
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	err = inv.WriteFile(*out, e.stdout, func(w io.Writer) error { return inv.ExportItems(ctx, st, fmtName, w) })
	if err != nil {
		return e.fail(fmt.Errorf("export: %w", err))
	}
	return exitOK
}
