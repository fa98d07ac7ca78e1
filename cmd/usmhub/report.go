package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/readiness"
	"github.com/usmhub/usmhub/core/report"
	"github.com/usmhub/usmhub/core/store"
	"github.com/usmhub/usmhub/plugins/sdk"
)

type reportCmd struct{}

func (reportCmd) Synopsis() string {
	return "Build a sprint, scan, register or readiness report; print or publish it"
}

func (reportCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("report", "report sprint|scan|register|readiness [-initiative K] [-sprint N] [-top N] [-publish TYPE.NAME]… [-json]")
	initiative := fs.String("initiative", "", "the initiative (default: the only one)")
	sprintN := fs.Int("sprint", 0, "sprint report: the sprint's number (default: the active, else the latest)")
	top := fs.Int("top", 0, "register report: how many top risks (default 10)")
	var publish multiFlag
	fs.Var(&publish, "publish", "publish to this connector (type.name; repeatable)")
	offline := fs.Bool("offline", false, "readiness report: do not check the tools")
	asJSON := fs.Bool("json", false, "print JSON instead of Markdown")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one report kind: %s", strings.Join(report.Kinds, ", "))
	}
	rep, code := buildReport(ctx, e, pos[0], *initiative, report.Options{Sprint: *sprintN, Top: *top}, *offline)
	if code != exitOK {
		return code
	}
	if len(publish) == 0 {
		if *asJSON {
			return e.printJSON(rep)
		}
		fmt.Fprintf(e.stdout, "# %s\n\n%s", rep.Title, rep.Markdown())
		return exitOK
	}
	var results []publishResult
	failed := 0
	for _, target := range publish {
		res := publishReport(ctx, e, target, rep.SDK())
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

// publishResult is where one report went.
type publishResult struct {
	Connector string `json:"connector"`
	Key       string `json:"key"`
	URL       string `json:"url,omitempty"`
	Created   bool   `json:"created"`
	Error     string `json:"error,omitempty"`
}

func publishReport(ctx context.Context, e *env, target string, r sdk.Report) publishResult {
	res := publishResult{Connector: target, Key: r.Key}
	cs, err := e.connectors()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	inst, err := cs.get(ctx, target)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	p, err := inst.Publish(ctx, r)
	if err != nil {
		res.Error = cs.scrub(err.Error())
		return res
	}
	res.URL, res.Created = p.URL, p.Created
	return res
}

// buildReport builds a report on the live config and store.
func buildReport(ctx context.Context, e *env, kind, initiative string, opts report.Options, offline bool) (*report.Report, int) {
	cfg, err := e.config()
	if err != nil {
		return nil, e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return nil, e.fail(err)
	}
	var health []readiness.ConnectorHealth
	if kind == report.KindReadiness {
		health = connectorHealth(ctx, e, cfg, offline)
	}
	rep, err := makeReport(ctx, cfg, st, kind, initiative, opts, health)
	if err != nil {
		return nil, e.fail(err)
	}
	return rep, exitOK
}

// makeReport builds a report of an initiative from one consistent read.
func makeReport(ctx context.Context, cfg *config.Config, st store.Store, kind, initiative string, opts report.Options, health []readiness.ConnectorHealth) (*report.Report, error) {
	in, err := cfg.Initiative(initiative)
	if err != nil {
		return nil, err
	}
	input := report.Input{Config: cfg, Initiative: in, Now: time.Now(), Connectors: health}
	var rep *report.Report
	err = st.View(ctx, func(r store.Reader) error {
		input.Reader = r
		rep, err = report.Build(kind, input, opts)
		return err
	})
	return rep, err
}
