// Package readiness turns USM's ten preconditions for an improvement
// initiative into a checklist evaluated on the live config and store: each
// precondition passes, warns or fails, with the reason and the next step.
//
// It only reads: the config, the store (through a Reader) and the health of
// the configured connectors as the caller found it.
package readiness

import (
	"fmt"
	"sort"
	"strings"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// Status is a check's outcome.
type Status string

// Outcomes, from good to bad.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Check is one precondition's outcome.
type Check struct {
	Precondition int    `json:"precondition"`
	Name         string `json:"name"`
	Status       Status `json:"status"`
	Reason       string `json:"reason"`
	Next         string `json:"next"`
}

// Passed counts the checks that pass.
func Passed(checks []Check) int {
	n := 0
	for _, c := range checks {
		if c.Status == Pass {
			n++
		}
	}
	return n
}

// ConnectorHealth is what the caller learnt of one configured connector:
// Err is nil when it launched and passed Check; Checked is false when it
// was not tried (offline).
type ConnectorHealth struct {
	ID      string
	Checked bool
	Err     error
}

// Input is what the checks look at.
type Input struct {
	Config     *config.Config
	Initiative *config.Initiative
	Reader     store.Reader
	Connectors []ConnectorHealth
}

// Evaluate runs the ten checks, in the seed text's order.
func Evaluate(in Input) ([]Check, error) {
	in2 := &evaluation{Input: in, key: in.Initiative.Key}
	checks := []func() (Check, error){
		in2.commitment, in2.baseline, in2.training, in2.structure, in2.tools,
		in2.riskDatabase, in2.inventory, in2.priority, in2.communication, in2.soundingBoard,
	}
	out := make([]Check, 0, len(checks))
	for i, f := range checks {
		c, err := f()
		if err != nil {
			return nil, fmt.Errorf("readiness check %d: %w", i+1, err)
		}
		c.Precondition = i + 1
		out = append(out, c)
	}
	return out, nil
}

type evaluation struct {
	Input
	key string
}

func (e *evaluation) commitment() (Check, error) {
	c := Check{Name: "management commitment"}
	in := e.Initiative.Initiative
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"scope", in.Scope}, {"rationale", in.Rationale}, {"approach", in.Approach},
		{"sponsor", in.Sponsor}, {"committed_on", in.CommittedOn},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) == 0 {
		c.Status, c.Reason = Pass, fmt.Sprintf("%s committed on %s to scope, rationale and approach", in.Sponsor, in.CommittedOn)
		return c, nil
	}
	c.Status = Fail
	c.Reason = "the initiative's commitment lacks " + strings.Join(missing, ", ")
	c.Next = fmt.Sprintf("have management state it, then fill %s in initiative %q (%s)", strings.Join(missing, ", "), e.key, e.Initiative.Range)
	return c, nil
}

func (e *evaluation) baseline() (Check, error) {
	c := Check{Name: "baseline scan"}
	scans, err := e.Reader.Scans(e.key)
	if err != nil {
		return c, err
	}
	var base *model.Scan
	progress := 0
	for i := range scans {
		if scans[i].Kind == model.Baseline && base == nil {
			base = &scans[i]
		}
		if scans[i].Kind == model.Progress {
			progress++
		}
	}
	if base == nil {
		c.Status, c.Reason = Fail, "no baseline scan of the current situation"
		c.Next = fmt.Sprintf("run a scan and import it: usmhub scan import -initiative %s -kind baseline -method NAME -method-version V -date YYYY-MM-DD FILE.csv", e.key)
		return c, nil
	}
	c.Status = Pass
	c.Reason = fmt.Sprintf("baseline %s %s of %s (%d dimensions), %d progress scan(s) since", base.Method, base.MethodVersion, base.TakenOn, len(base.Scores), progress)
	if progress == 0 {
		c.Next = "measure progress later with the same method: usmhub scan import -kind progress …"
	}
	return c, nil
}

func (e *evaluation) training() (Check, error) {
	c := Check{Name: "training"}
	in := e.Initiative.Initiative
	people := members(in)
	if len(people) == 0 {
		c.Status, c.Reason = Fail, "no lead or team is named, so nobody's training can be checked"
		c.Next = fmt.Sprintf("name lead and team in initiative %q", e.key)
		return c, nil
	}
	trained := map[string]bool{}
	for _, t := range in.Training {
		trained[strings.ToLower(t.Person)] = true
	}
	var untrained []string
	for _, p := range people {
		if !trained[strings.ToLower(p)] {
			untrained = append(untrained, p)
		}
	}
	switch {
	case len(untrained) == 0:
		c.Status, c.Reason = Pass, fmt.Sprintf("all %d people of lead and team are trained", len(people))
	case len(untrained) == len(people):
		c.Status, c.Reason = Fail, fmt.Sprintf("none of the %d people of lead and team has a training record", len(people))
		c.Next = "train them (USM Foundation or an internal training) and add training blocks to the initiative"
	default:
		c.Status = Warn
		c.Reason = fmt.Sprintf("%d of %d trained; not yet: %s", len(people)-len(untrained), len(people), strings.Join(untrained, ", "))
		c.Next = "train " + strings.Join(untrained, ", ") + " and add their training blocks"
	}
	return c, nil
}

func members(in model.Initiative) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range append([]string{in.Lead}, in.Team...) {
		if p = strings.TrimSpace(p); p != "" && !seen[strings.ToLower(p)] {
			seen[strings.ToLower(p)] = true
			out = append(out, p)
		}
	}
	return out
}

func (e *evaluation) structure() (Check, error) {
	c := Check{Name: "structure with resources"}
	in := e.Initiative.Initiative
	var missing []string
	if strings.TrimSpace(in.Lead) == "" {
		missing = append(missing, "lead")
	}
	if len(in.Team) == 0 {
		missing = append(missing, "team")
	}
	if in.SprintCapacity <= 0 {
		missing = append(missing, "sprint_capacity")
	}
	if len(missing) > 0 {
		c.Status, c.Reason = Fail, "the initiative has no "+strings.Join(missing, ", ")
		c.Next = fmt.Sprintf("set %s in initiative %q", strings.Join(missing, ", "), e.key)
		return c, nil
	}
	c.Status, c.Reason = Pass, fmt.Sprintf("led by %s with a team of %d and a sprint capacity of %g", in.Lead, len(in.Team), in.SprintCapacity)
	return c, nil
}

func (e *evaluation) tools() (Check, error) {
	c := Check{Name: "coordination tools"}
	strategy := e.Config.Hub.Strategy
	if len(e.Config.Connectors) == 0 {
		c.Status, c.Reason = Warn, "no connector is configured: the hub's own store is the only tool"
		c.Next = "add a connector block for the tool that coordinates the work (file, redmine, …) and choose hub.strategy"
		return c, nil
	}
	// A configured connector the caller said nothing about was not checked.
	health := map[string]ConnectorHealth{}
	for _, h := range e.Connectors {
		health[h.ID] = h
	}
	var bad, unchecked []string
	for _, c := range e.Config.Connectors {
		h, ok := health[c.ID()]
		switch {
		case !ok || !h.Checked:
			unchecked = append(unchecked, c.ID())
		case h.Err != nil:
			bad = append(bad, fmt.Sprintf("%s (%v)", h.ID, h.Err))
		}
	}
	ids := make([]string, 0, len(e.Config.Connectors))
	for _, cn := range e.Config.Connectors {
		ids = append(ids, cn.ID())
	}
	switch {
	case len(bad) > 0:
		c.Status, c.Reason = Fail, "connector(s) failing: "+strings.Join(bad, "; ")
		c.Next = "fix the connector config or the tool, then run usmhub validate"
	case strategy == "":
		c.Status, c.Reason = Warn, "connectors "+strings.Join(ids, ", ")+" are configured but no strategy is chosen"
		c.Next = `set hub.strategy = "erp" (one integrated tool) or "best_of_breed" (several cooperating tools)`
	case len(unchecked) > 0:
		c.Status, c.Reason = Warn, fmt.Sprintf("strategy %s with %s; not checked: %s", strategy, strings.Join(ids, ", "), strings.Join(unchecked, ", "))
		c.Next = "run usmhub readiness without -offline to reach the tools"
	default:
		c.Status, c.Reason = Pass, fmt.Sprintf("strategy %s with healthy connectors %s", strategy, strings.Join(ids, ", "))
	}
	if c.Status != Pass {
		return c, nil // the connectors first
	}
	// The tools must do both things USM asks of them: coordinate the
	// workflows (risks synced) and keep the managed infrastructure
	// register (configuration items synced or imported).
	workflow, bir, err := e.halves()
	if err != nil {
		return c, err
	}
	var missing []string
	var next []string
	if workflow == "" {
		missing = append(missing, "no workflow tool: no risk is linked by a sync of kind \"risk\"")
		next = append(next, "add a sync block of kind \"risk\" for the tool that coordinates the work and run usmhub sync")
	}
	if bir == "" {
		missing = append(missing, "no BIR: no configuration item was synced or imported")
		next = append(next, "add a sync block of kind \"item\" for the tool that keeps the infrastructure register (e.g. Request Tracker's assets), or usmhub item import FILE")
	}
	if len(missing) == 0 {
		c.Reason += "; " + workflow + "; " + bir
		return c, nil
	}
	c.Reason += "; " + strings.Join(missing, "; ")
	if workflow != "" {
		c.Reason += " (" + workflow + ")"
	}
	if bir != "" {
		c.Reason += " (" + bir + ")"
	}
	c.Status, c.Next = Warn, strings.Join(next, "; ")
	return c, nil
}

// halves describes what the store shows of the tools' two jobs: the
// workflow half (risks linked by a risk sync) and the BIR (configuration
// items, with where they came from); "" for a half that is missing.
func (e *evaluation) halves() (workflow, bir string, err error) {
	var synced []string
	for _, s := range e.Config.Syncs {
		if s.Kind != "risk" {
			continue
		}
		n, err := e.Reader.CountLinks(s.Name, store.LinkLinked)
		if err != nil {
			return "", "", err
		}
		if n > 0 {
			synced = append(synced, fmt.Sprintf("%d with %s (sync %q)", n, s.Connector, s.Name))
		}
	}
	if len(synced) > 0 {
		workflow = "risks synced: " + strings.Join(synced, ", ")
	}
	sources := map[string]int{}
	total := 0
	if err := e.Reader.Items(store.ItemFilter{}, func(it model.Item) error {
		total++
		src := it.Source
		if src == "" {
			src = "the hub"
		}
		sources[src]++
		return nil
	}); err != nil {
		return "", "", err
	}
	if total > 0 {
		names := make([]string, 0, len(sources))
		for src, n := range sources {
			names = append(names, fmt.Sprintf("%d from %s", n, src))
		}
		sort.Strings(names)
		bir = fmt.Sprintf("BIR of %d configuration item(s): %s", total, strings.Join(names, ", "))
	}
	return workflow, bir, nil
}

func (e *evaluation) riskDatabase() (Check, error) {
	c := Check{Name: "risk database"}
	n, err := e.Reader.CountRisks(store.RiskFilter{Initiative: e.key})
	if err != nil {
		return c, err
	}
	if n == 0 {
		c.Status, c.Reason = Fail, "the risk database holds no risk of this initiative"
		c.Next = fmt.Sprintf("register improvements as risks: usmhub risk add -initiative %s … or usmhub risk import FILE", e.key)
		return c, nil
	}
	c.Status, c.Reason = Pass, fmt.Sprintf("the risk database holds %d risk(s) of this initiative", n)
	return c, nil
}

func (e *evaluation) inventory() (Check, error) {
	c := Check{Name: "inventory of improvements"}
	counts := map[model.Status]int{}
	kinds := map[model.Kind]int{}
	err := e.Reader.Risks(store.RiskFilter{Initiative: e.key}, func(r model.Risk) error {
		counts[r.Status]++
		kinds[r.Kind]++
		return nil
	})
	if err != nil {
		return c, err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	open := total - counts[model.Proposed] - counts[model.Rejected]
	switch {
	case total == 0:
		c.Status, c.Reason = Fail, "no improvements are inventoried"
		c.Next = "inventory threats and opportunities with the team and import them: usmhub risk import FILE"
	case open == 0:
		c.Status, c.Reason = Warn, fmt.Sprintf("%d risk(s) inventoried, none accepted yet", total)
		c.Next = "review the proposed risks and accept the ones to work on: usmhub risk update R-n -status accepted"
	default:
		c.Status = Pass
		c.Reason = fmt.Sprintf("%d risk(s): %d threat(s), %d opportunit(ies); %d accepted or further", total, kinds[model.Threat], kinds[model.Opportunity], open)
		if kinds[model.Opportunity] == 0 {
			c.Status, c.Next = Warn, "USM counts opportunities as risks too: inventory improvements to take, not only threats to reduce"
		}
	}
	return c, nil
}

func (e *evaluation) priority() (Check, error) {
	c := Check{Name: "priority mechanism"}
	p := e.Config.Policy(e.key)
	if p == nil {
		c.Status, c.Reason = Fail, "no priority policy is fixed for this initiative"
		c.Next = `add a priority block, e.g. priority "default" { score = (likelihood * impact + 2 * votes) / max(effort, 1) }, before the first sprint`
		return c, nil
	}
	sprints, err := e.Reader.Sprints(e.key)
	if err != nil {
		return c, err
	}
	sort.Slice(sprints, func(i, j int) bool { return sprints[i].Number < sprints[j].Number })
	if len(sprints) > 0 && sprints[0].Policy != p.Policy.Text {
		c.Status = Warn
		c.Reason = fmt.Sprintf("policy %q changed after the first sprint (sprint 1 used %q, now %q)", p.Name, sprints[0].Policy, p.Policy.Text)
		c.Next = "the mechanism is meant to be fixed before the first sprint: agree the change with the sounding board and say so in the next report"
		return c, nil
	}
	c.Status, c.Reason = Pass, fmt.Sprintf("policy %q: %s", p.Name, p.Policy.Text)
	return c, nil
}

func (e *evaluation) communication() (Check, error) {
	c := Check{Name: "communication"}
	var targets []string
	reports := 0
	for _, r := range e.Config.Reports {
		if r.Initiative != "" && r.Initiative != e.key {
			continue
		}
		reports++
		targets = append(targets, r.PublishTo...)
	}
	switch {
	case reports == 0:
		c.Status, c.Reason = Fail, "no report informs the stakeholders"
		target := ""
		for _, cn := range e.Config.Connectors {
			target = fmt.Sprintf("\n  publish_to = [%q]", cn.ID())
			break
		}
		c.Next = fmt.Sprintf("add a report block, e.g. report \"sprints\" {\n  kind       = \"sprint\"\n  initiative = %q%s\n  schedule   = \"@weekly\"\n}", e.key, target)
	case len(targets) == 0:
		c.Status, c.Reason = Warn, fmt.Sprintf("%d report(s) configured but published nowhere", reports)
		c.Next = "set publish_to on the report blocks to the connectors whose tickets people read"
	default:
		// What happened, not what is configured: a report block counts
		// once a report was published.
		pubs, err := Publications(e.Reader, e.key)
		if err != nil {
			return c, err
		}
		if len(pubs) == 0 {
			c.Status = Warn
			c.Reason = fmt.Sprintf("%d report(s) configured to publish to %s, none published yet", reports, strings.Join(dedupe(targets), ", "))
			c.Next = "usmhub serve publishes them on their schedules; to publish one now: usmhub report KIND -publish " + targets[0]
			return c, nil
		}
		last := pubs[len(pubs)-1]
		var where []string
		for _, p := range pubs {
			where = append(where, p.Connector)
		}
		c.Status = Pass
		c.Reason = fmt.Sprintf("%d report(s) published to %s; the latest, %s, to %s on %s",
			len(pubs), strings.Join(dedupe(where), ", "), last.Key, last.Connector, last.At.UTC().Format("2006-01-02"))
	}
	return c, nil
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (e *evaluation) soundingBoard() (Check, error) {
	c := Check{Name: "sounding board"}
	board := e.Initiative.SoundingBoard
	if len(board) == 0 {
		c.Status, c.Reason = Fail, "no sounding board of employees is named"
		c.Next = fmt.Sprintf("form a sounding board of employees (not their managers) and list them in sounding_board of initiative %q", e.key)
		return c, nil
	}
	voters, err := e.Reader.Voters(e.key)
	if err != nil {
		return c, err
	}
	onBoard := map[string]bool{}
	for _, m := range board {
		onBoard[strings.ToLower(m)] = true
	}
	active := 0
	for _, v := range voters {
		if onBoard[strings.ToLower(v)] {
			active++
		}
	}
	if active == 0 {
		c.Status, c.Reason = Warn, fmt.Sprintf("the sounding board has %d member(s) but none has voted", len(board))
		c.Next = "ask the sounding board to vote on the risks: usmhub vote R-n -voter NAME"
		return c, nil
	}
	c.Status, c.Reason = Pass, fmt.Sprintf("%d of %d sounding-board member(s) voted", active, len(board))
	return c, nil
}
