package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/usmhub/usmhub/core/app"
	"github.com/usmhub/usmhub/core/model"
)

func sprintCommands() map[string]command {
	return map[string]command{
		"plan":  leaf{"Choose the next sprint's risks by the priority policy", runSprintPlan},
		"list":  leaf{"List sprints", runSprintList},
		"show":  leaf{"Show a sprint with its items and their status now", runSprintShow},
		"start": leaf{"Start a planned sprint: its risks go in progress", sprintMove("start")},
		"close": leaf{"Close a sprint: realised risks → realized, the rest back to accepted", sprintMove("close")},
	}
}

func runSprintPlan(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("sprint plan", "sprint plan [-initiative K] -start DATE -end DATE [-capacity N] [-goal TEXT] [-dry-run] [-json]")
	initiative := fs.String("initiative", "", "the initiative (default: the only one)")
	start := fs.String("start", "", "first day, YYYY-MM-DD (required)")
	end := fs.String("end", "", "last day, YYYY-MM-DD (required)")
	capacity := fs.Float64("capacity", 0, "effort the sprint can hold (default: the initiative's sprint_capacity)")
	goal := fs.String("goal", "", "the sprint's goal")
	dryRun := fs.Bool("dry-run", false, "show the choice, store nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if *start == "" || *end == "" {
		return e.usageErr(fs, "-start and -end are required (YYYY-MM-DD)")
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	req, err := app.SprintRequest(cfg, *initiative, *start, *end, *capacity, *goal)
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	out, err := app.PlanSprint(ctx, st, e.actor(), req, *dryRun)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(out)
	}
	head := "planned"
	if *dryRun {
		head = "would plan (dry run)"
	}
	fmt.Fprintf(e.stdout, "%s sprint %d of %s, %s – %s: %g of %g capacity used\n", head, out.Number, req.Initiative, out.Start, out.End, out.Used, out.Capacity)
	fmt.Fprintf(e.stdout, "policy: %s\n", out.Policy)
	if len(out.Items) == 0 {
		fmt.Fprintln(e.stdout, "no accepted risk fits; accept risks with 'usmhub risk update R-n -status accepted'")
		return exitOK
	}
	tw := e.table("KEY\tSCORE\tEFFORT\tTITLE")
	for _, it := range out.Items {
		fmt.Fprintf(tw, "%s\t%.2f\t%g\t%s\n", it.Key, it.Score, it.Effort, it.Title)
	}
	_ = tw.Flush()
	if n := out.SkippedCount; n > 0 {
		fmt.Fprintf(e.stdout, "%d accepted risk(s) did not fit and stay accepted\n", n)
	}
	return exitOK
}

func runSprintList(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("sprint list", "sprint list [-initiative K] [-json]")
	initiative := fs.String("initiative", "", "only this initiative's sprints")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	sprints, err := app.Sprints(ctx, st, *initiative)
	if err != nil {
		return e.fail(fmt.Errorf("list sprints: %w", err))
	}
	if *asJSON {
		return e.printJSON(sprints)
	}
	tw := e.table("INITIATIVE\tNUMBER\tSTATUS\tSTART\tEND\tUSED/CAPACITY\tITEMS\tGOAL")
	for _, s := range sprints {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%g/%g\t%d\t%s\n", s.Initiative, s.Number, s.Status, s.Start, s.End, s.Used, s.Capacity, len(s.Items), s.Goal)
	}
	_ = tw.Flush()
	return exitOK
}

// sprintRef reads "[-initiative K] N": the initiative's key and the
// sprint's number.
func sprintRef(e *env, initiative string, pos []string) (string, int, error) {
	if len(pos) != 1 {
		return "", 0, errors.New("name one sprint by its number")
	}
	n, err := strconv.Atoi(pos[0])
	if err != nil || n < 1 {
		return "", 0, fmt.Errorf("sprint number %q is not a number ≥ 1", pos[0])
	}
	in, err := e.initiative(initiative)
	if err != nil {
		return "", 0, err
	}
	return in.Key, n, nil
}

func runSprintShow(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("sprint show", "sprint show [-initiative K] N [-json]")
	initiative := fs.String("initiative", "", "the initiative (default: the only one)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	key, n, err := sprintRef(e, *initiative, pos)
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	s, items, err := app.ShowSprint(ctx, st, key, n)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(struct {
			model.Sprint
			Items []app.SprintItem `json:"items"`
		}{s, items})
	}
	fmt.Fprintf(e.stdout, "Sprint %d of %s (%s), %s – %s\n", s.Number, s.Initiative, s.Status, s.Start, s.End)
	if s.Goal != "" {
		fmt.Fprintf(e.stdout, "Goal: %s\n", s.Goal)
	}
	fmt.Fprintf(e.stdout, "Capacity: %g used of %g\nPolicy: %s\n\n", s.Used, s.Capacity, s.Policy)
	tw := e.table("KEY\tSCORE WHEN CHOSEN\tEFFORT\tSTATUS NOW\tTITLE")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%.2f\t%g\t%s\t%s\n", it.Key, it.Score, it.Effort, it.Status, it.Title)
	}
	_ = tw.Flush()
	return exitOK
}

// sprintMove is sprint start or sprint close (verb).
func sprintMove(verb string) func(ctx context.Context, e *env, args []string) int {
	return func(ctx context.Context, e *env, args []string) int { return runSprintMove(ctx, e, args, verb) }
}

func runSprintMove(ctx context.Context, e *env, args []string, verb string) int {
	usage := "sprint start [-initiative K] [-json] N"
	if verb == "close" {
		usage = "sprint close [-initiative K] [-realized R-1,R-2] [-json] N"
	}
	fs := e.newFlags("sprint "+verb, usage)
	initiative := fs.String("initiative", "", "the initiative (default: the only one)")
	asJSON := fs.Bool("json", false, "print the sprint as JSON (as sprint list -json)")
	var realized *string
	if verb == "close" {
		realized = fs.String("realized", "", "keys of the items realised in this sprint, comma-separated")
	}
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	key, n, err := sprintRef(e, *initiative, pos)
	if err != nil {
		return e.fail(err)
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	var s model.Sprint
	if verb == "start" {
		s, err = app.StartSprint(ctx, st, e.actor(), key, n)
	} else {
		s, err = app.CloseSprint(ctx, st, e.actor(), key, n, commaList(*realized))
	}
	if err != nil {
		return e.fail(fmt.Errorf("%s sprint %d: %w", verb, n, err))
	}
	if *asJSON {
		return e.printJSON(s)
	}
	fmt.Fprintf(e.stdout, "sprint %d of %s is %s\n", s.Number, s.Initiative, s.Status)
	return exitOK
}
