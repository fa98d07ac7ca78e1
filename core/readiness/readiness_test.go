package readiness

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

const policyText = "(likelihood * impact + 2 * votes) / max(effort, 1)"

// evaluate loads the config fixture, opens a fresh store on disk, applies
// setup to it and evaluates initiative sd.
func evaluate(t *testing.T, fixture string, setup func(store.Tx) error, health []ConnectorHealth) []Check {
	t.Helper()
	cfg, err := config.Load(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatalf("load %s: %v", fixture, err)
	}
	in, err := cfg.Initiative("sd")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if setup != nil {
		if err := st.Update(ctx, store.Actor{Name: "test:readiness"}, setup); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	var checks []Check
	err = st.View(ctx, func(r store.Reader) error {
		var err error
		checks, err = Evaluate(Input{Config: cfg, Initiative: in, Reader: r, Connectors: health})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return checks
}

// Store set-ups, combined with all().

func all(fns ...func(store.Tx) error) func(store.Tx) error {
	return func(tx store.Tx) error {
		for _, fn := range fns {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return nil
	}
}

func scanOf(initiative string, kind model.ScanKind, date string) func(store.Tx) error {
	return func(tx store.Tx) error {
		return tx.CreateScan(&model.Scan{Initiative: initiative, Kind: kind, Method: "USM-scan", MethodVersion: "2", TakenOn: date,
			Scores: []model.ScanScore{{Dimension: "agree", Score: 2.1}, {Dimension: "change", Score: 1.8}, {Dimension: "recover", Score: 2.6}}})
	}
}

var (
	baseline     = scanOf("sd", model.Baseline, "2025-01-10")
	progressScan = scanOf("sd", model.Progress, "2025-05-01")
)

func risk(initiative, title string, kind model.Kind, status model.Status) func(store.Tx) error {
	return func(tx store.Tx) error {
		return tx.CreateRisk(&model.Risk{Initiative: initiative, Title: title, Kind: kind, Status: status,
			Likelihood: 3, Impact: 3, Effort: 1})
	}
}

func vote(key, voter string) func(store.Tx) error {
	return func(tx store.Tx) error { return tx.CastVote(model.Vote{RiskID: key, Voter: voter, Weight: 1}) }
}

// published records that a report of the initiative went to file.local;
// created false is the same ticket updated.
func published(initiative, key string, created bool) func(store.Tx) error {
	return func(tx store.Tx) error {
		return RecordPublication(tx, initiative, key, "file.local", "file:///reports/"+key+".md", created)
	}
}

func sprintWith(policy string) func(store.Tx) error {
	return func(tx store.Tx) error {
		return tx.CreateSprint(&model.Sprint{Initiative: "sd", Start: "2025-03-03", End: "2025-03-14", Capacity: 5, Policy: policy})
	}
}

var healthy = []ConnectorHealth{{ID: "file.local", Checked: true}}

// linked links a risk in a binding, as a sync that pushed or pulled it does.
func linked(binding, key string) func(store.Tx) error {
	return func(tx store.Tx) error {
		r, err := tx.Risk(key)
		if err != nil {
			return err
		}
		return tx.PutLink(store.Link{Binding: binding, HubID: r.ID, ExternalID: "x-" + key, State: store.LinkLinked})
	}
}

// item stores a configuration item from a source.
func item(source string) func(store.Tx) error {
	return func(tx store.Tx) error {
		return tx.CreateItem(&model.Item{Name: "server of " + source, Source: source})
	}
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		setup   func(store.Tx) error
		health  []ConnectorHealth
		want    Check
	}{
		// 1. Management commitment.
		{
			name: "commitment pass", fixture: "ready.hcl",
			want: Check{Precondition: 1, Name: "management commitment", Status: Pass,
				Reason: "CIO committed on 2025-02-03 to scope, rationale and approach"},
		},
		{
			name: "commitment fail, nothing filled", fixture: "bare.hcl",
			want: Check{Precondition: 1, Name: "management commitment", Status: Fail,
				Reason: "the initiative's commitment lacks scope, rationale, approach, sponsor, committed_on",
				Next:   `have management state it, then fill scope, rationale, approach, sponsor, committed_on in initiative "sd" (testdata/bare.hcl:1,1-16)`},
		},
		{
			name: "commitment fail, partly filled", fixture: "partial.hcl",
			want: Check{Precondition: 1, Name: "management commitment", Status: Fail,
				Reason: "the initiative's commitment lacks approach, sponsor, committed_on",
				Next:   `have management state it, then fill approach, sponsor, committed_on in initiative "sd" (testdata/partial.hcl:15,1-16)`},
		},

		// 2. Baseline scan.
		{
			name: "baseline fail", fixture: "ready.hcl",
			setup: all(scanOf("cmdb", model.Baseline, "2025-01-10"), scanOf("sd", model.Progress, "2025-01-10")),
			want: Check{Precondition: 2, Name: "baseline scan", Status: Fail,
				Reason: "no baseline scan of the current situation",
				Next:   "run a scan and import it: usmhub scan import -initiative sd -kind baseline -method NAME -method-version V -date YYYY-MM-DD FILE.csv"},
		},
		{
			name: "baseline pass, no progress yet", fixture: "ready.hcl", setup: baseline,
			want: Check{Precondition: 2, Name: "baseline scan", Status: Pass,
				Reason: "baseline USM-scan 2 of 2025-01-10 (3 dimensions), 0 progress scan(s) since",
				Next:   "measure progress later with the same method: usmhub scan import -kind progress …"},
		},
		{
			name: "baseline pass with progress", fixture: "ready.hcl", setup: all(baseline, progressScan),
			want: Check{Precondition: 2, Name: "baseline scan", Status: Pass,
				Reason: "baseline USM-scan 2 of 2025-01-10 (3 dimensions), 1 progress scan(s) since"},
		},

		// 3. Training.
		{
			name: "training pass, names in any case", fixture: "ready.hcl",
			want: Check{Precondition: 3, Name: "training", Status: Pass, Reason: "all 3 people of lead and team are trained"},
		},
		{
			name: "training warn, the lead also in the team counts once", fixture: "partial.hcl",
			want: Check{Precondition: 3, Name: "training", Status: Warn,
				Reason: "1 of 3 trained; not yet: bram, chris",
				Next:   "train bram, chris and add their training blocks"},
		},
		{
			name: "training fail, nobody trained", fixture: "two.hcl",
			want: Check{Precondition: 3, Name: "training", Status: Fail,
				Reason: "none of the 2 people of lead and team has a training record",
				Next:   "train them (USM Foundation or an internal training) and add training blocks to the initiative"},
		},
		{
			name: "training fail, nobody named", fixture: "bare.hcl",
			want: Check{Precondition: 3, Name: "training", Status: Fail,
				Reason: "no lead or team is named, so nobody's training can be checked",
				Next:   `name lead and team in initiative "sd"`},
		},

		// 4. Structure with resources.
		{
			name: "structure pass", fixture: "ready.hcl",
			want: Check{Precondition: 4, Name: "structure with resources", Status: Pass,
				Reason: "led by anna with a team of 2 and a sprint capacity of 10"},
		},
		{
			name: "structure fail, no capacity", fixture: "partial.hcl",
			want: Check{Precondition: 4, Name: "structure with resources", Status: Fail,
				Reason: "the initiative has no sprint_capacity", Next: `set sprint_capacity in initiative "sd"`},
		},
		{
			name: "structure fail, nothing", fixture: "bare.hcl",
			want: Check{Precondition: 4, Name: "structure with resources", Status: Fail,
				Reason: "the initiative has no lead, team, sprint_capacity", Next: `set lead, team, sprint_capacity in initiative "sd"`},
		},

		// 5. Coordination tools.
		{
			name: "tools warn, no connector", fixture: "bare.hcl",
			want: Check{Precondition: 5, Name: "coordination tools", Status: Warn,
				Reason: "no connector is configured: the hub's own store is the only tool",
				Next:   "add a connector block for the tool that coordinates the work (file, redmine, …) and choose hub.strategy"},
		},
		{
			name: "tools warn, no strategy", fixture: "partial.hcl",
			health: []ConnectorHealth{{ID: "file.local", Checked: true}, {ID: "file.archive", Checked: true}},
			want: Check{Precondition: 5, Name: "coordination tools", Status: Warn,
				Reason: "connectors file.local, file.archive are configured but no strategy is chosen",
				Next:   `set hub.strategy = "erp" (one integrated tool) or "best_of_breed" (several cooperating tools)`},
		},
		{
			name: "tools fail, a connector failing", fixture: "ready.hcl",
			health: []ConnectorHealth{{ID: "file.local", Checked: true, Err: errors.New(`folder "sheet" does not exist`)}},
			want: Check{Precondition: 5, Name: "coordination tools", Status: Fail,
				Reason: `connector(s) failing: file.local (folder "sheet" does not exist)`,
				Next:   "fix the connector config or the tool, then run usmhub validate"},
		},
		{
			name: "tools fail beats no strategy", fixture: "partial.hcl",
			health: []ConnectorHealth{{ID: "file.local", Checked: true}, {ID: "file.archive", Checked: true, Err: errors.New("cannot launch")}},
			want: Check{Precondition: 5, Name: "coordination tools", Status: Fail,
				Reason: "connector(s) failing: file.archive (cannot launch)",
				Next:   "fix the connector config or the tool, then run usmhub validate"},
		},
		{
			name: "tools warn, not checked (offline)", fixture: "ready.hcl",
			health: []ConnectorHealth{{ID: "file.local"}},
			want: Check{Precondition: 5, Name: "coordination tools", Status: Warn,
				Reason: "strategy erp with file.local; not checked: file.local",
				Next:   "run usmhub readiness without -offline to reach the tools"},
		},
		{
			name: "tools warn, healthy but neither half in use", fixture: "ready.hcl", health: healthy,
			want: Check{Precondition: 5, Name: "coordination tools", Status: Warn,
				Reason: `strategy erp with healthy connectors file.local; no workflow tool: no risk is linked by a sync of kind "risk"; no BIR: no configuration item was synced or imported`,
				Next:   `add a sync block of kind "risk" for the tool that coordinates the work and run usmhub sync; add a sync block of kind "item" for the tool that keeps the infrastructure register (e.g. Request Tracker's assets), or usmhub item import FILE`},
		},
		{
			name: "tools warn, workflow without a BIR", fixture: "ready.hcl", health: healthy,
			setup: all(risk("sd", "A", model.Threat, model.Accepted), linked("risks", "R-1")),
			want: Check{Precondition: 5, Name: "coordination tools", Status: Warn,
				Reason: `strategy erp with healthy connectors file.local; no BIR: no configuration item was synced or imported (risks synced: 1 with file.local (sync "risks"))`,
				Next:   `add a sync block of kind "item" for the tool that keeps the infrastructure register (e.g. Request Tracker's assets), or usmhub item import FILE`},
		},
		{
			name: "tools warn, a BIR without workflow", fixture: "ready.hcl", health: healthy,
			setup: all(item("import:cmdb.csv"), item("rt.main")),
			want: Check{Precondition: 5, Name: "coordination tools", Status: Warn,
				Reason: `strategy erp with healthy connectors file.local; no workflow tool: no risk is linked by a sync of kind "risk" (BIR of 2 configuration item(s): 1 from import:cmdb.csv, 1 from rt.main)`,
				Next:   `add a sync block of kind "risk" for the tool that coordinates the work and run usmhub sync`},
		},
		{
			name: "tools pass, healthy, both halves", fixture: "ready.hcl", health: healthy,
			setup: all(risk("sd", "A", model.Threat, model.Accepted), linked("risks", "R-1"), item("rt.main")),
			want: Check{Precondition: 5, Name: "coordination tools", Status: Pass,
				Reason: `strategy erp with healthy connectors file.local; risks synced: 1 with file.local (sync "risks"); BIR of 1 configuration item(s): 1 from rt.main`},
		},

		// 6. Risk database.
		{
			name: "risk database fail", fixture: "ready.hcl", setup: risk("cmdb", "elsewhere", model.Threat, model.Accepted),
			want: Check{Precondition: 6, Name: "risk database", Status: Fail,
				Reason: "the risk database holds no risk of this initiative",
				Next:   "register improvements as risks: usmhub risk add -initiative sd … or usmhub risk import FILE"},
		},
		{
			name: "risk database pass", fixture: "ready.hcl",
			setup: all(risk("sd", "A", model.Threat, model.Proposed), risk("sd", "B", model.Threat, model.Rejected),
				risk("cmdb", "elsewhere", model.Threat, model.Accepted)),
			want: Check{Precondition: 6, Name: "risk database", Status: Pass,
				Reason: "the risk database holds 2 risk(s) of this initiative"},
		},

		// 7. Inventory of improvements.
		{
			name: "inventory fail", fixture: "ready.hcl",
			want: Check{Precondition: 7, Name: "inventory of improvements", Status: Fail,
				Reason: "no improvements are inventoried",
				Next:   "inventory threats and opportunities with the team and import them: usmhub risk import FILE"},
		},
		{
			name: "inventory warn, none accepted", fixture: "ready.hcl",
			setup: all(risk("sd", "A", model.Threat, model.Proposed), risk("sd", "B", model.Opportunity, model.Proposed),
				risk("sd", "C", model.Threat, model.Rejected), risk("cmdb", "elsewhere", model.Opportunity, model.Accepted)),
			want: Check{Precondition: 7, Name: "inventory of improvements", Status: Warn,
				Reason: "3 risk(s) inventoried, none accepted yet",
				Next:   "review the proposed risks and accept the ones to work on: usmhub risk update R-n -status accepted"},
		},
		{
			name: "inventory warn, only threats", fixture: "ready.hcl",
			setup: all(risk("sd", "A", model.Threat, model.Accepted), risk("sd", "B", model.Threat, model.Proposed)),
			want: Check{Precondition: 7, Name: "inventory of improvements", Status: Warn,
				Reason: "2 risk(s): 2 threat(s), 0 opportunit(ies); 1 accepted or further",
				Next:   "USM counts opportunities as risks too: inventory improvements to take, not only threats to reduce"},
		},
		{
			name: "inventory pass", fixture: "ready.hcl",
			setup: all(risk("sd", "A", model.Threat, model.Accepted), risk("sd", "B", model.Opportunity, model.Realized),
				risk("sd", "C", model.Threat, model.InProgress), risk("sd", "D", model.Threat, model.Proposed)),
			want: Check{Precondition: 7, Name: "inventory of improvements", Status: Pass,
				Reason: "4 risk(s): 3 threat(s), 1 opportunit(ies); 3 accepted or further"},
		},

		// 8. Priority mechanism.
		{
			name: "priority fail", fixture: "bare.hcl",
			want: Check{Precondition: 8, Name: "priority mechanism", Status: Fail,
				Reason: "no priority policy is fixed for this initiative",
				Next:   `add a priority block, e.g. priority "default" { score = (likelihood * impact + 2 * votes) / max(effort, 1) }, before the first sprint`},
		},
		{
			name: "priority fail, two initiatives and no priority block", fixture: "two.hcl",
			want: Check{Precondition: 8, Name: "priority mechanism", Status: Fail,
				Reason: "no priority policy is fixed for this initiative",
				Next:   `add a priority block, e.g. priority "default" { score = (likelihood * impact + 2 * votes) / max(effort, 1) }, before the first sprint`},
		},
		{
			name: "priority pass before the first sprint", fixture: "ready.hcl",
			want: Check{Precondition: 8, Name: "priority mechanism", Status: Pass, Reason: `policy "default": ` + policyText},
		},
		{
			name: "priority pass, sprint 1 used the policy", fixture: "ready.hcl",
			setup: all(sprintWith(policyText), sprintWith("likelihood * impact")),
			want:  Check{Precondition: 8, Name: "priority mechanism", Status: Pass, Reason: `policy "default": ` + policyText},
		},
		{
			name: "priority warn, changed after sprint 1", fixture: "ready.hcl",
			setup: all(sprintWith("likelihood * impact"), sprintWith(policyText)),
			want: Check{Precondition: 8, Name: "priority mechanism", Status: Warn,
				Reason: `policy "default" changed after the first sprint (sprint 1 used "likelihood * impact", now "` + policyText + `")`,
				Next:   "the mechanism is meant to be fixed before the first sprint: agree the change with the sounding board and say so in the next report"},
		},

		// 9. Communication.
		{
			name: "communication fail", fixture: "bare.hcl",
			want: Check{Precondition: 9, Name: "communication", Status: Fail,
				Reason: "no report informs the stakeholders",
				Next:   "add a report block, e.g. report \"sprints\" {\n  kind       = \"sprint\"\n  initiative = \"sd\"\n  schedule   = \"@weekly\"\n}"},
		},
		{
			name: "communication fail, the only report is about another initiative", fixture: "two.hcl",
			want: Check{Precondition: 9, Name: "communication", Status: Fail,
				Reason: "no report informs the stakeholders",
				Next:   "add a report block, e.g. report \"sprints\" {\n  kind       = \"sprint\"\n  initiative = \"sd\"\n  publish_to = [\"file.local\"]\n  schedule   = \"@weekly\"\n}"},
		},
		{
			name: "communication warn, published nowhere", fixture: "partial.hcl",
			want: Check{Precondition: 9, Name: "communication", Status: Warn,
				Reason: "1 report(s) configured but published nowhere",
				Next:   "set publish_to on the report blocks to the connectors whose tickets people read"},
		},
		{
			name: "communication warn, configured but never published", fixture: "ready.hcl",
			want: Check{Precondition: 9, Name: "communication", Status: Warn,
				Reason: "1 report(s) configured to publish to file.local, none published yet",
				Next:   "usmhub serve publishes them on their schedules; to publish one now: usmhub report KIND -publish file.local"},
		},
		{
			name: "communication pass, published", fixture: "ready.hcl",
			setup: all(published("sd", "register-2026-W48", true), published("sd", "register-2026-W49", true),
				published("sd", "register-2026-W49", false), published("cmdb", "register-2026-W50", true)),
			want: Check{Precondition: 9, Name: "communication", Status: Pass,
				Reason: "2 report(s) published to file.local; the latest, register-2026-W49, to file.local on " + time.Now().UTC().Format("2006-01-02")},
		},

		// 10. Sounding board.
		{
			name: "sounding board fail", fixture: "bare.hcl",
			want: Check{Precondition: 10, Name: "sounding board", Status: Fail,
				Reason: "no sounding board of employees is named",
				Next:   `form a sounding board of employees (not their managers) and list them in sounding_board of initiative "sd"`},
		},
		{
			name: "sounding board warn, only others voted", fixture: "ready.hcl",
			setup: all(risk("sd", "A", model.Threat, model.Accepted), risk("cmdb", "B", model.Threat, model.Accepted),
				vote("R-1", "anna"), vote("R-2", "dewi")),
			want: Check{Precondition: 10, Name: "sounding board", Status: Warn,
				Reason: "the sounding board has 2 member(s) but none has voted",
				Next:   "ask the sounding board to vote on the risks: usmhub vote R-n -voter NAME"},
		},
		{
			name: "sounding board pass, names in any case", fixture: "ready.hcl",
			setup: all(risk("sd", "A", model.Threat, model.Accepted), risk("sd", "B", model.Threat, model.Accepted),
				vote("R-1", "eva"), vote("R-2", "eva"), vote("R-2", "anna")),
			want: Check{Precondition: 10, Name: "sounding board", Status: Pass, Reason: "1 of 2 sounding-board member(s) voted"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := evaluate(t, tt.fixture, tt.setup, tt.health)
			if len(checks) != 10 {
				t.Fatalf("%d checks, want 10", len(checks))
			}
			if diff := cmp.Diff(tt.want, checks[tt.want.Precondition-1]); diff != "" {
				t.Errorf("check %d (-want +got):\n%s", tt.want.Precondition, diff)
			}
		})
	}
}

// TestAllPass: with the config and the data complete, the ten checks pass
// in the seed text's order, with nothing left to do.
func TestAllPass(t *testing.T) {
	checks := evaluate(t, "ready.hcl", all(
		baseline, progressScan,
		risk("sd", "A", model.Threat, model.Accepted), risk("sd", "B", model.Opportunity, model.Proposed),
		vote("R-1", "Dewi"),
		sprintWith(policyText),
		published("sd", "sprint-1", true),
		linked("risks", "R-1"), item("rt.main"),
	), healthy)
	want := []Check{
		{1, "management commitment", Pass, "CIO committed on 2025-02-03 to scope, rationale and approach", ""},
		{2, "baseline scan", Pass, "baseline USM-scan 2 of 2025-01-10 (3 dimensions), 1 progress scan(s) since", ""},
		{3, "training", Pass, "all 3 people of lead and team are trained", ""},
		{4, "structure with resources", Pass, "led by anna with a team of 2 and a sprint capacity of 10", ""},
		{5, "coordination tools", Pass, `strategy erp with healthy connectors file.local; risks synced: 1 with file.local (sync "risks"); BIR of 1 configuration item(s): 1 from rt.main`, ""},
		{6, "risk database", Pass, "the risk database holds 2 risk(s) of this initiative", ""},
		{7, "inventory of improvements", Pass, "2 risk(s): 1 threat(s), 1 opportunit(ies); 1 accepted or further", ""},
		{8, "priority mechanism", Pass, `policy "default": ` + policyText, ""},
		{9, "communication", Pass, "1 report(s) published to file.local; the latest, sprint-1, to file.local on " + time.Now().UTC().Format("2006-01-02"), ""},
		{10, "sounding board", Pass, "1 of 2 sounding-board member(s) voted", ""},
	}
	if diff := cmp.Diff(want, checks); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := Passed(checks); n != 10 {
		t.Errorf("Passed: %d of 10", n)
	}
	if n := Passed(append(checks[:2:2], Check{Status: Warn}, Check{Status: Fail})); n != 2 {
		t.Errorf("Passed of 2 passes, a warning and a failure: %d", n)
	}
}

// TestCheckJSON: readiness -json gives objects {precondition, name, status,
// reason, next}.
func TestCheckJSON(t *testing.T) {
	b, err := json.Marshal(Check{Precondition: 3, Name: "training", Status: Warn, Reason: "r", Next: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"precondition":3,"name":"training","status":"warn","reason":"r","next":"n"}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
}
