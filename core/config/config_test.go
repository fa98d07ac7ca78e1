package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/priority"
)

func abs(t *testing.T, path string) string {
	t.Helper()
	p, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ignore leaves out what is compared apart: bodies (decoded by their own
// consumers), compiled policies and source ranges.
var ignore = cmp.Options{
	cmpopts.IgnoreFields(Connector{}, "Body", "Range"),
	cmpopts.IgnoreFields(Sync{}, "Range", "ConnectorRange"),
	cmpopts.IgnoreFields(Priority{}, "Policy", "Range"),
	cmpopts.IgnoreFields(Initiative{}, "Range"),
	cmpopts.IgnoreFields(Report{}, "Range"),
	cmpopts.IgnoreFields(Hub{}, "Range"),
	cmp.Comparer(func(a, b Secret) bool { return a.Reveal() == b.Reveal() }),
}

func TestLoadFull(t *testing.T) {
	cfg, err := Load("testdata/full.hcl")
	if err != nil {
		t.Fatal(err)
	}
	dir := abs(t, "testdata")
	want := &Config{
		Path: "testdata/full.hcl",
		Dir:  dir,
		Hub: Hub{
			DataDir:   filepath.Join(dir, "var/data"),
			LogLevel:  "debug",
			LogFormat: "json",
			PluginDir: "/opt/usmhub/plugins",
			Strategy:  "best_of_breed",
			Listen:    "0.0.0.0:9000",
			APIToken:  NewSecret("s3cr3t-token"), // file(), relative to testdata/, newline trimmed
		},
		Initiatives: []*Initiative{
			{Initiative: model.Initiative{
				Key:            "servicedesk",
				Name:           "Servicedesk op orde",
				Scope:          "First-line support",
				Rationale:      "Too many calls are handled twice.",
				Approach:       "USM improvement sprints of two weeks",
				Sponsor:        "CIO",
				CommittedOn:    "2025-02-03",
				Lead:           "anna",
				Team:           []string{"bram", "chris"},
				SprintCapacity: 10.5,
				SoundingBoard:  []string{"dewi", "eva"},
				Priority:       "threats-first",
				Training: []model.Training{
					{Person: "anna", Course: "USM Foundation", Date: "2025-01-15"},
					{Person: "bram", Course: "USM Professional", Date: "2025-01-22"},
				},
			}},
			// Two priority blocks, none named: no policy.
			{Initiative: model.Initiative{Key: "cmdb", Name: "One infrastructure register"}},
		},
		Priorities: []*Priority{
			{Name: "weighted", Description: "Risk times votes, per unit of effort"},
			{Name: "threats-first"},
		},
		Connectors: []*Connector{
			{Type: "redmine", Name: "main", PluginSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
			{Type: "file", Name: "local"},
		},
		Syncs: []*Sync{{Name: "risks", Kind: "risk", Connector: "redmine.main", Initiative: "servicedesk", Direction: "both",
			AuthorityDefault: "remote", AuthorityFields: map[string]string{"likelihood": "hub", "impact": "hub"},
			MapStatus: map[string]string{"proposed": "New", "accepted": "Accepted", "realized": "Closed"},
			Filter:    map[string]string{"kind": "threat"}, OnDelete: "orphan", Schedule: "@every 10m",
			Lookback: 2 * time.Minute, FullEvery: 12 * time.Hour, BatchSize: 50, MaxDeletePercent: 10, MaxDeleteMin: 5}},
		Reports: []*Report{{
			Name: "weekly", Kind: "sprint", Initiative: "servicedesk",
			PublishTo: []string{"redmine.main", "file.local"}, Schedule: "0 8 * * MON",
		}},
		// No lock file beside it: an empty lock.
		Lock: &Lock{Path: filepath.Join(dir, LockFileName), Digests: map[string]string{}},
	}
	if diff := cmp.Diff(want, cfg, ignore); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}

	texts := map[string]string{}
	for _, p := range cfg.Priorities {
		texts[p.Name] = p.Policy.Text
	}
	wantTexts := map[string]string{
		"weighted":      "(likelihood * impact + votes) / max(effort, 1)",
		"threats-first": `kind == "threat" ? likelihood * impact * 2 : likelihood * impact`,
	}
	if diff := cmp.Diff(wantTexts, texts); diff != "" {
		t.Errorf("policy texts (-want +got):\n%s", diff)
	}

	ranges := map[string]string{
		"initiative servicedesk": cfg.Initiatives[0].Range.String(),
		"hub":                    cfg.Hub.Range.String(),
		"connector file.local":   cfg.Connectors[1].Range.String(),
	}
	wantRanges := map[string]string{
		"initiative servicedesk": "testdata/full.hcl:21,1-25",
		"hub":                    "testdata/full.hcl:2,1-4",
		"connector file.local":   "testdata/full.hcl:59,1-25",
	}
	if diff := cmp.Diff(wantRanges, ranges); diff != "" {
		t.Errorf("ranges (-want +got):\n%s", diff)
	}
}

func TestLoadDefaults(t *testing.T) {
	for _, path := range []string{"testdata/minimal.hcl", "testdata/minimal.json"} {
		t.Run(path, func(t *testing.T) {
			cfg, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			dir := abs(t, "testdata")
			want := Hub{
				DataDir:   filepath.Join(dir, "data"),
				LogLevel:  "info",
				LogFormat: "text",
				// No implicit <config folder>/plugins: a binary planted
				// there must not shadow the connectors next to usmhub.
				PluginDir: "",
				Listen:    "127.0.0.1:8765",
			}
			if diff := cmp.Diff(want, cfg.Hub, ignore); diff != "" {
				t.Errorf("Hub (-want +got):\n%s", diff)
			}
			if got, want := cfg.DatabasePath(), filepath.Join(dir, "data", "usmhub.db"); got != want {
				t.Errorf("DatabasePath = %q, want %q", got, want)
			}
			// The only priority block is the only initiative's policy.
			p := cfg.Policy("")
			if p == nil || p.Name != "default" {
				t.Fatalf("Policy(\"\") = %+v, want the default priority", p)
			}
			score, err := p.Policy.Score(priority.Inputs{Likelihood: 2, Impact: 4})
			if err != nil || score != 8 {
				t.Errorf("Score = %v, %v; want 8", score, err)
			}
		})
	}
	cfg, err := Load("testdata/minimal.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Reports[0].Initiative; got != "only" {
		t.Errorf("report initiative = %q, want the only initiative", got)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Setenv("USMHUB_TEST_SURELY_UNSET", "")
	os.Unsetenv("USMHUB_TEST_SURELY_UNSET")
	tests := []struct {
		file string
		want string
	}{
		{"unknown_block.hcl", `testdata/unknown_block.hcl:3,1: Unsupported block type: Blocks of type "initiatve" are not expected here. Did you mean "initiative"?`},
		{"unknown_attribute.hcl", `testdata/unknown_attribute.hcl:3,3: Unsupported argument: An argument named "sponser" is not expected here. Did you mean "sponsor"?`},
		// No name is close to these: the message lists what the block takes.
		{"unknown_far.hcl", `testdata/unknown_far.hcl:3,3: Unsupported argument: An argument named "colour" is not expected here. The hub block takes the arguments api_token, data_dir, listen, log_format, log_level, plugin_dir, public_url, read_token, require_plugin_pins, strategy, tls_cert, tls_key.
testdata/unknown_far.hcl:7,3: Unsupported argument: An argument named "start" is not expected here. The initiative block takes the arguments approach, committed_on, lead, name, priority, rationale, scope, sounding_board, sponsor, sprint_capacity, team and the blocks training.
testdata/unknown_far.hcl:9,1: Unsupported block type: Blocks of type "mystery" are not expected here. The config takes the blocks connector, hub, initiative, priority, report, sync.`},
		{"bad_public_url.hcl", `testdata/bad_public_url.hcl:2,16: Invalid public_url: "usm.example.org/hub" is not where people reach the dashboard; write an http or https URL without user, query or fragment, e.g. "https://usm.example.org" or "https://example.org/usmhub".`},
		{"bad_log_format.hcl", `testdata/bad_log_format.hcl:2,16: Invalid log_format: "xml" is not a log format; use one of: text, json.`},
		{"bad_date.hcl", `testdata/bad_date.hcl:3,18: Invalid date: "2025-02-30" is not a date; write committed_on as YYYY-MM-DD, e.g. 2025-03-01.
testdata/bad_date.hcl:8,14: Invalid date: "15-01-2025" is not a date; write date as YYYY-MM-DD, e.g. 2025-03-01.`},
		{"priority_unknown_attribute.hcl", `testdata/priority_unknown_attribute.hcl:2,33: Unknown attribute in priority policy: "urgency" is not an attribute of a risk; use one of: likelihood, impact, effort, votes, kind, process, source, age_days.`},
		{"priority_string.hcl", `testdata/priority_string.hcl:2,11: Priority policy must yield a number: For a sample risk (likelihood=3, impact=3, effort=1, votes=0, kind="threat", process="improve", source="scan", age_days=30) the score expression yields a string; write an expression that yields a number, e.g. likelihood * impact / max(effort, 1).`},
		{"env_unset.hcl", `testdata/env_unset.hcl:2,15: Environment variable not set: Set the environment variable USMHUB_TEST_SURELY_UNSET or remove the reference.`},
		{"file_missing.hcl", `testdata/file_missing.hcl:2,15: Unreadable file: Cannot read "secrets/missing.txt": no such file; file() paths are relative to the config's folder.`},
		{"duplicate_initiative.hcl", `testdata/duplicate_initiative.hcl:5,1: Duplicate initiative "x": Initiative "x" is already defined at testdata/duplicate_initiative.hcl:1,1; give each initiative its own key, or merge the two blocks.`},
		{"unknown_priority.hcl", `testdata/unknown_priority.hcl:7,14: Unknown priority policy: No priority block is named "fast"; use one of: default.`},
		{"sprint_capacity.hcl", `testdata/sprint_capacity.hcl:3,21: Invalid sprint_capacity: sprint_capacity is the effort one sprint can take on and must be more than 0, not 0.
testdata/sprint_capacity.hcl:8,21: Invalid sprint_capacity: sprint_capacity is the effort one sprint can take on and must be more than 0, not -2.5.`},
		{"syntax_error.hcl", `testdata/syntax_error.hcl:2,20: Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \n escape to represent a newline character or use the "heredoc" multi-line template syntax.
testdata/syntax_error.hcl:2,20: Unterminated template string: No closing marker was found for the string.
testdata/syntax_error.hcl:3,2: Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \n escape to represent a newline character or use the "heredoc" multi-line template syntax.`},
		{"bad_api_token.hcl", `testdata/bad_api_token.hcl:2,15: Invalid api_token: The api_token (value not shown) contains whitespace or control characters; check the value, or the file or environment variable it is read from.`},
		{"missing_required.hcl", `testdata/missing_required.hcl:1,16: Missing required argument: The argument "name" is required, but no definition was found.
testdata/missing_required.hcl:5,14: Missing required argument: The argument "score" is required, but no definition was found.
testdata/missing_required.hcl:9,12: Missing required argument: The argument "kind" is required, but no definition was found.`},
		{"many_errors.hcl", `testdata/many_errors.hcl:2,15: Invalid log_level: "verbose" is not a log level; use one of: trace, debug, info, warn, error.
testdata/many_errors.hcl:3,15: Invalid strategy: "mixed" is not a strategy; use one of: erp, best_of_breed.
testdata/many_errors.hcl:4,15: Invalid listen: "8765" is not an address to listen on; write host:port, e.g. 127.0.0.1:8765.
testdata/many_errors.hcl:7,1: Duplicate hub block: Only one hub block is allowed; merge this one into the one at testdata/many_errors.hcl:1,1.
testdata/many_errors.hcl:10,19: Invalid plugin_sha256: "abc" is not a SHA-256 digest; write the 64 hex digits that ` + "`sha256sum`" + ` prints for the plugin binary, optionally after "sha256:".
testdata/many_errors.hcl:14,1: Duplicate connector "jira.main": Connector "jira.main" is already defined at testdata/many_errors.hcl:9,1; give each connector its own type and name, or merge the two blocks.
testdata/many_errors.hcl:17,16: Invalid kind: "daily" is not a report kind; use one of: sprint, scan, register, readiness.
testdata/many_errors.hcl:18,16: Unknown initiative: No initiative block has the key "nope"; use one of: a, b.
testdata/many_errors.hcl:19,30: Unknown connector: No connector block is "github.main" (publish_to names connectors as "<type>.<name>"); use one of: jira.main.
testdata/many_errors.hcl:22,1: Missing initiative: Report "monthly" does not say which initiative it is about; set initiative to one of: a, b.
testdata/many_errors.hcl:31,10: Invalid name: The initiative's name is empty; name the initiative as management committed to it.
testdata/many_errors.hcl:34,12: Invalid initiative key: "bad key" is not a valid initiative key; use letters, digits, "-" and "_", starting with a letter or digit.`},
		{"sync_erp_two_tools.hcl", `testdata/sync_erp_two_tools.hcl:15,15: One tool under erp: With strategy "erp" every sync uses the one integrated tool, but this one uses "file.local" and sync "risks" (testdata/sync_erp_two_tools.hcl:8,1) uses "redmine.main"; use one connector, or set hub.strategy = "best_of_breed".`},
		{"sync_bob_owners.hcl", `testdata/sync_bob_owners.hcl:14,1: Two authoritative tools: With strategy "best_of_breed" each kind has exactly one authoritative binding, but syncs "risks-redmine" (testdata/sync_bob_owners.hcl:8,1) and "risks-sheet" both own risks; set authority { default = "hub" } on the one that mirrors.
testdata/sync_bob_owners.hcl:20,1: No authoritative tool: With strategy "best_of_breed" each kind has exactly one authoritative binding, but no sync of votes says so; add authority { default = "remote" } to the sync of the tool that owns votes (e.g. sync "votes").`},
		{"sync_bad_values.hcl", `testdata/sync_bad_values.hcl:9,16: Unknown connector: No connector block is "redmine.mian" (write "<type>.<name>"); use one of: redmine.main.
testdata/sync_bad_values.hcl:10,16: Invalid direction: "sideways" is not a direction; use one of: push, pull, both.
testdata/sync_bad_values.hcl:11,16: Unknown status: map_status maps hub statuses to the tool's: "done" is not a risk status; use: proposed, accepted, planned, in_progress, realized, rejected.
testdata/sync_bad_values.hcl:12,16: Unknown field: "colour" is not a field of a risk; filter may name: key, title, description, kind, process, source, likelihood, impact, effort, owner, status.
testdata/sync_bad_values.hcl:13,16: Invalid schedule: invalid schedule "every day": expected exactly 5 fields, found 2: [every day]; a schedule is five cron fields "minute hour day-of-month month day-of-week" (e.g. "*/15 * * * *" or "0 6 * * 1-5"), optionally prefixed with "CRON_TZ=Europe/Amsterdam ", or a descriptor: @yearly, @monthly, @weekly, @daily, @hourly or "@every <duration>" (e.g. "@every 5m").
testdata/sync_bad_values.hcl:14,16: Invalid lookback: "5 minutes" is not a duration; write e.g. "5m", "1h" or "24h".`},
		{"does_not_exist.hcl", `Failed to read file: The configuration file "testdata/does_not_exist.hcl" could not be read.`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := Load("testdata/" + tt.file)
			if cfg != nil {
				t.Errorf("Load returned a config along with errors")
			}
			var de *DiagError
			if !errors.As(err, &de) {
				t.Fatalf("Load error = %v (%T), want a *DiagError", err, err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if got, want := len(de.Diags), strings.Count(tt.want, "\n")+1; got != want {
				t.Errorf("%d diagnostics, want %d", got, want)
			}
		})
	}
}

func TestSecretsAreNotPrinted(t *testing.T) {
	cfg, err := Load("testdata/full.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		fmt.Sprintf("%v", cfg.Hub), fmt.Sprintf("%+v", cfg.Hub), fmt.Sprintf("%#v", cfg.Hub),
		fmt.Sprint(cfg.Hub.APIToken),
	} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("printed config shows the api_token: %s", s)
		}
	}
	if got := cfg.Hub.APIToken.String(); got != "(sensitive)" {
		t.Errorf("APIToken.String() = %q", got)
	}
	if _, err := Load("testdata/bad_api_token.hcl"); err == nil || strings.Contains(err.Error(), "two words") {
		t.Errorf("error shows the api_token: %v", err)
	}
}

// A value read with env() or file() may be a secret put into the wrong
// attribute: diagnostics of attributes that are not secret never show it.
func TestFunctionValuesAreNotPrinted(t *testing.T) {
	t.Setenv("USMHUB_TEST_PLANTED_LEVEL", "pw-level-0c8a")
	t.Setenv("USMHUB_TEST_PLANTED_DATE", "pw-date-77f2")
	_, err := Load("testdata/env_in_plain_attributes.hcl")
	want := `testdata/env_in_plain_attributes.hcl:2,15: Invalid log_level: (the value of env() or file()) is not a log level; use one of: trace, debug, info, warn, error.
testdata/env_in_plain_attributes.hcl:3,15: Invalid listen: (the value of env() or file()) is not an address to listen on; write host:port, e.g. 127.0.0.1:8765.
testdata/env_in_plain_attributes.hcl:8,18: Invalid date: (the value of env() or file()) is not a date; write committed_on as YYYY-MM-DD, e.g. 2025-03-01.`
	if err == nil {
		t.Fatal("Load accepted bad values")
	}
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}

func TestHelpers(t *testing.T) {
	cfg, err := Load("testdata/full.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if in, err := cfg.Initiative("cmdb"); err != nil || in.Name != "One infrastructure register" {
		t.Errorf(`Initiative("cmdb") = %v, %v`, in, err)
	}
	for key, want := range map[string]string{
		"":     `testdata/full.hcl has several initiatives; name one of: cmdb, servicedesk`,
		"nope": `no initiative "nope" in testdata/full.hcl; the initiatives are: cmdb, servicedesk`,
	} {
		if _, err := cfg.Initiative(key); err == nil || err.Error() != want {
			t.Errorf("Initiative(%q) error = %v, want %s", key, err, want)
		}
	}
	if p := cfg.Policy("servicedesk"); p == nil || p.Name != "threats-first" {
		t.Errorf(`Policy("servicedesk") = %+v, want threats-first`, p)
	}
	if p := cfg.Policy("cmdb"); p != nil {
		t.Errorf(`Policy("cmdb") = %+v, want nil`, p)
	}
	if p := cfg.Policy("nope"); p != nil {
		t.Errorf(`Policy("nope") = %+v, want nil`, p)
	}
	if c := cfg.Connector("file.local"); c == nil || c.ID() != "file.local" {
		t.Errorf(`Connector("file.local") = %+v`, c)
	}
	if c := cfg.Connector("file.remote"); c != nil {
		t.Errorf(`Connector("file.remote") = %+v, want nil`, c)
	}
	empty := &Config{Path: "x.hcl"}
	if _, err := empty.Initiative(""); err == nil || err.Error() != "x.hcl has no initiative block; add one" {
		t.Errorf("Initiative on an empty config: %v", err)
	}
}

// The plugin host decodes a connector's remaining body with hcldec against
// the schema the plugin describes, using EvalContext for env() and file().
func TestConnectorBodyDecodesWithHCLDec(t *testing.T) {
	cfg, err := Load("testdata/full.hcl")
	if err != nil {
		t.Fatal(err)
	}
	spec := hcldec.ObjectSpec{
		"url":     &hcldec.AttrSpec{Name: "url", Type: cty.String, Required: true},
		"api_key": &hcldec.AttrSpec{Name: "api_key", Type: cty.String},
		"project": &hcldec.BlockMapSpec{
			TypeName:   "project",
			LabelNames: []string{"name"},
			Nested:     hcldec.ObjectSpec{"tracker": &hcldec.AttrSpec{Name: "tracker", Type: cty.String}},
		},
	}
	body := cfg.Connector("redmine.main").Body

	t.Setenv("USMHUB_TEST_REDMINE_KEY", "k3y")
	got, diags := hcldec.Decode(body, spec, EvalContext(cfg.Dir))
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	want := cty.ObjectVal(map[string]cty.Value{
		"url":     cty.StringVal("http://127.0.0.1:3000"),
		"api_key": cty.StringVal("k3y"),
		"project": cty.MapVal(map[string]cty.Value{
			"usm": cty.ObjectVal(map[string]cty.Value{"tracker": cty.StringVal("Bug")}),
		}),
	})
	if !got.RawEquals(want) {
		t.Errorf("decoded body = %#v, want %#v", got, want)
	}

	os.Unsetenv("USMHUB_TEST_REDMINE_KEY")
	_, diags = hcldec.Decode(body, spec, EvalContext(cfg.Dir))
	wantDiag := `testdata/full.hcl:53,19: Error in function call: Call to function "env" failed: set the environment variable USMHUB_TEST_REDMINE_KEY or remove the reference.`
	if diff := cmp.Diff(wantDiag, FormatDiagnostics(diags)); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	// Explain (which the plugin host applies to connector blocks) makes it
	// read as it does anywhere else in the config.
	wantDiag = `testdata/full.hcl:53,19: Environment variable not set: Set the environment variable USMHUB_TEST_REDMINE_KEY or remove the reference.`
	if diff := cmp.Diff(wantDiag, FormatDiagnostics(Explain(diags))); diff != "" {
		t.Errorf("explained diagnostics (-want +got):\n%s", diff)
	}
}

func TestFileFunction(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "crlf.txt"), []byte("line one\nline two\r\n\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "binary"), []byte{0xff, 0xfe}, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := EvalContext(dir)
	tests := []struct {
		arg, want, err string
	}{
		{arg: "crlf.txt", want: "line one\nline two"},
		{arg: filepath.Join(dir, "crlf.txt"), want: "line one\nline two"},
		{arg: "nope.txt", err: `cannot read "nope.txt": no such file; relative paths start at the config's folder`},
		{arg: ".", err: `cannot read ".": is a directory; relative paths start at the config's folder`},
		{arg: "binary", err: `cannot read "binary": it is not UTF-8 text; relative paths start at the config's folder`},
	}
	for _, tt := range tests {
		v, err := ctx.Functions["file"].Call([]cty.Value{cty.StringVal(tt.arg)})
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		} else if v.AsString() != tt.want {
			t.Errorf("file(%q) = %q, want %q", tt.arg, v.AsString(), tt.want)
		}
		if gotErr != tt.err {
			t.Errorf("file(%q) error = %q, want %q", tt.arg, gotErr, tt.err)
		}
	}
}

func TestFormatDiagnostics(t *testing.T) {
	rng := hcl.Range{Filename: "a.hcl", Start: hcl.Pos{Line: 3, Column: 7}, End: hcl.Pos{Line: 3, Column: 9}}
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Bad thing", Detail: "Fix it\nlike this.", Subject: &rng},
		{Severity: hcl.DiagWarning, Summary: "Odd thing", Subject: &rng},
		{Severity: hcl.DiagError, Summary: "No place", Detail: "Nowhere."},
	}
	want := "a.hcl:3,7: Bad thing: Fix it like this.\na.hcl:3,7: warning: Odd thing\nNo place: Nowhere."
	if diff := cmp.Diff(want, FormatDiagnostics(diags)); diff != "" {
		t.Errorf("FormatDiagnostics (-want +got):\n%s", diff)
	}
}

// TestLoadWithoutHubSecrets: a command that does not serve loads a config
// whose hub tokens cannot be read (unset env(), missing file()) as if they
// were not set; every other mistake, a malformed token included, still
// fails; Load itself still refuses.
func TestLoadWithoutHubSecrets(t *testing.T) {
	os.Unsetenv("USMHUB_TEST_SURELY_UNSET")
	for _, f := range []string{"env_unset.hcl", "file_missing.hcl"} {
		cfg, err := LoadWith("testdata/"+f, Options{WithoutHubSecrets: true})
		if err != nil {
			t.Errorf("%s without hub secrets: %v", f, err)
			continue
		}
		if cfg.Hub.APIToken.Reveal() != "" {
			t.Errorf("%s: the unread api_token is not empty", f)
		}
		if _, err := Load("testdata/" + f); err == nil {
			t.Errorf("Load of %s succeeded; the daemon must refuse it", f)
		}
	}
	for _, f := range []string{"bad_api_token.hcl", "unknown_attribute.hcl"} {
		if _, err := LoadWith("testdata/"+f, Options{WithoutHubSecrets: true}); err == nil {
			t.Errorf("%s without hub secrets loaded; its mistake is not a missing secret", f)
		}
	}
}

// TestPublicURL proves hub.public_url is kept without its trailing slash,
// and refused (at its place) when it is not an http(s) URL people can open.
func TestPublicURL(t *testing.T) {
	for v, want := range map[string]string{
		"https://usm.example.org/":      "https://usm.example.org",
		"http://10.0.0.5:8765/usmhub//": "http://10.0.0.5:8765/usmhub",
		"ftp://usm.example.org":         "",
		"https://usm.example.org/?a=1":  "",
		"https://user:pw@example.org":   "",
	} {
		path := filepath.Join(t.TempDir(), "usmhub.hcl")
		if err := os.WriteFile(path, []byte("hub {\n  public_url = \""+v+"\"\n}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		switch {
		case want == "" && (err == nil || !strings.Contains(err.Error(), "usmhub.hcl:2,16: Invalid public_url")):
			t.Errorf("public_url %q: error %v, want Invalid public_url at 2,16", v, err)
		case want != "" && err != nil:
			t.Errorf("public_url %q: %v", v, err)
		case want != "" && cfg.Hub.PublicURL != want:
			t.Errorf("public_url %q loads as %q, want %q", v, cfg.Hub.PublicURL, want)
		}
	}
}
