package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/usmhub/usmhub/core/app"
	"github.com/usmhub/usmhub/core/readiness"
	"github.com/usmhub/usmhub/core/report"
)

func runReport(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("report", "report sprint|scan|register|readiness [-initiative K] [-sprint N] [-top N] [-format markdown|json|html] [-o FILE] [-publish TYPE.NAME]… [-json]")
	initiative := fs.String("initiative", "", "the initiative (default: the only one)")
	sprintN := fs.Int("sprint", 0, "sprint report: the sprint's number (default: the active, else the latest)")
	top := fs.Int("top", 0, "register report: how many top risks (default 10)")
	var publish multiFlag
	fs.Var(&publish, "publish", "publish to this connector (type.name; repeatable)")
	offline := fs.Bool("offline", false, "readiness report: do not check the tools")
	asJSON := fs.Bool("json", false, "print JSON instead of Markdown (-format json)")
	format := fs.String("format", "markdown", "markdown, json or html (one self-contained file: inline SVG charts and CSS)")
	outFile := fs.String("o", "", "write the report to FILE instead of stdout")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one report kind: %s", strings.Join(report.Kinds, ", "))
	}
	switch *format {
	case "markdown", "md", "json", "html":
	default:
		return e.usageErr(fs, "-format %q: use markdown, json or html", *format)
	}
	if *asJSON {
		*format = "json"
	}
	if *outFile != "" && len(publish) > 0 {
		return e.usageErr(fs, "-o writes a file and -publish sends the report to a connector: use one of them")
	}
	rep, code := buildReport(ctx, e, pos[0], *initiative, report.Options{Sprint: *sprintN, Top: *top}, *offline)
	if code != exitOK {
		return code
	}
	if len(publish) == 0 {
		return writeReport(e, rep, *format, *outFile)
	}
	var results []app.Published
	failed := 0
	for _, target := range publish {
		res := publishReport(ctx, e, rep, target)
		if res.Error != "" {
			failed++
			fmt.Fprintf(e.stderr, "usmhub: publish %s to %s: %s\n", rep.Key, target, res.Error)
		} else if !*asJSON {
			verb := "updated"
			if res.Created {
				verb = "created"
			}
			fmt.Fprintf(e.stdout, "%s %s in %s: %s\n", verb, rep.Key, target, res.URL)
		}
		results = append(results, res)
	}
	if *asJSON {
		e.printJSON(results)
	}
	if failed > 0 {
		return exitError
	}
	return exitOK
}

// publishReport sends the report to one connector and records it
// (app.Publish).
func publishReport(ctx context.Context, e *env, rep *report.Report, target string) app.Published {
	cs, err := e.connectors()
	if err != nil {
		return app.Published{Connector: target, Key: rep.Key, Error: err.Error()}
	}
	st, err := e.store(ctx)
	if err != nil {
		return app.Published{Connector: target, Key: rep.Key, Error: err.Error()}
	}
	return app.Publish(ctx, st, cs, e.actor(), rep, target)
}

// buildReport builds a report on the live config and store.
func buildReport(ctx context.Context, e *env, kind, initiative string, opts report.Options, offline bool) (*report.Report, int) {
	cfg, st, err := e.open(ctx)
	if err != nil {
		return nil, e.fail(err)
	}
	health := func() []readiness.ConnectorHealth { return connectorHealth(ctx, e, cfg, offline) }
	rep, err := app.MakeReport(ctx, cfg, st, kind, initiative, opts, health)
	if err != nil {
		return nil, e.fail(err)
	}
	return rep, exitOK
}

// writeReport prints a report in a format, or writes it to path
// (app.WriteReport: whole or not at all).
func writeReport(e *env, rep *report.Report, format, path string) int {
	if err := app.WriteReport(rep, format, path, e.stdout); err != nil {
		return e.fail(err)
	}
	if path != "" {
		fmt.Fprintf(e.stderr, "usmhub: wrote the %s report %s to %s\n", rep.Kind, rep.Key, path)
	}
	return exitOK
}
