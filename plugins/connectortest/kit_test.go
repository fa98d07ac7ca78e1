package connectortest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// memoryFixture is the fixture of the example connector (example_test.go).
var memoryFixture = connectortest.Fixture{
	Config:       map[string]any{"project": "demo"},
	BadConfig:    map[string]any{"project": ""},
	BadAttribute: "project",

	OptimisticConcurrency: true,
	PullsDeletes:          true,
}

// The example connector passes the kit over real gRPC too.
func TestMemoryConnectorOverGRPC(t *testing.T) {
	connectortest.Run(t, connectortest.InProcess(newMemory), memoryFixture)
}

// The fixture's defaults for other kinds than risk are the caller's job.
func TestRunRefusesAnIncompleteFixture(t *testing.T) {
	if os.Getenv(brokenEnv) == "incomplete_fixture" {
		connectortest.Run(t, func(*testing.T) sdk.Connector { return newMemory() }, connectortest.Fixture{Config: map[string]any{"project": "x"}})
		return
	}
	out, failed := runHelper(t, "TestRunRefusesAnIncompleteFixture", "incomplete_fixture")
	if !failed || !strings.Contains(out, "fixture: BadConfig and BadAttribute are required") {
		t.Errorf("Run with a fixture lacking BadConfig: want a fixture failure, got:\n%s", out)
	}
}

// brokenEnv names, in the helper process, the broken connector to test.
const brokenEnv = "CONNECTORTEST_BROKEN"

// brokenConnector is a wrong connector: it breaks one promise of the
// contract, and the kit must fail the check that guards it, saying why.
type brokenConnector = struct {
	name  string
	wrap  func(sdk.Connector) sdk.Connector
	fails string // the check (subtest) that must fail
	says  string // in its failure message
}

// broken is the catalogue of wrong connectors built on the example
// connector (memory); brokenHTTP (http_example_test.go) has those built on
// the HTTP one.
var broken = []brokenConnector{
	{"wrong_protocol_version", func(c sdk.Connector) sdk.Connector { return wrongProtocol{c} },
		"describe", fmt.Sprintf("ProtocolVersion = 99, want %d", sdk.ProtocolVersion)},
	{"config_error_on_other_attribute", func(c sdk.Connector) sdk.Connector { return configProblemOn{c, "name"} },
		"bad_config", `its problems name ["name"], want "project"`},
	{"config_error_untyped", func(c sdk.Connector) sdk.Connector { return configProblemOn{c, ""} },
		"bad_config", "want a *sdk.ConfigError naming \"project\""},
	{"duplicates_on_repush", func(c sdk.Connector) sdk.Connector { return &duplicator{Connector: c} },
		"push_idempotent_create", "a retried push duplicates"},
	{"bad_cursor_means_full_pull", func(c sdk.Connector) sdk.Connector { return lenientCursor{c} },
		"pull_invalid_cursor", `Pull(cursor "garbage!!") succeeded`},
	{"panics_on_bad_cursor", func(c sdk.Connector) sdk.Connector { return panicOnCursor{c} },
		"pull_invalid_cursor", "panicked"},
	{"cursor_runs_ahead", func(c sdk.Connector) sdk.Connector { return cursorAhead{c} },
		"pull_incremental", "the update would be lost"},
	{"results_out_of_order", func(c sdk.Connector) sdk.Connector { return reversedResults{c} },
		"push_create_update_delete", "results are not in request order"},
	{"one_bad_record_fails_batch", func(c sdk.Connector) sdk.Connector { return wholeBatchFails{c} },
		"push_one_bad_record", "a bad change never fails the batch"},
	{"accepts_invalid_values", func(c sdk.Connector) sdk.Connector { return dropsLikelihood{c} },
		"push_one_bad_record", "want class invalid"},
	{"pads_text_on_pull", func(c sdk.Connector) sdk.Connector { return padsText{c} },
		"push_round_trip", "fields differ from what was pushed"},
	{"normalisation_not_fixed", func(c sdk.Connector) sdk.Connector { return padsText{c} },
		"push_normalises_text", "ends in blanks"},
	{"publish_always_creates", func(c sdk.Connector) sdk.Connector { return &alwaysCreates{Connector: c} },
		"publish", "want an update of"},
	{"find_unknown_is_error", func(c sdk.Connector) sdk.Connector { return findErrs{c} },
		"find_lost_link", "want nil, nil"},
	{"ignores_send_error", func(c sdk.Connector) sdk.Connector { return ignoresSend{c} },
		"pull_stops_when_send_fails", "Pull returned nil although send failed"},
	{"unstable_versions", func(c sdk.Connector) sdk.Connector { return &unstableVersions{Connector: c} },
		"pull_full", "in the second, with nothing changed"},
	{"ignores_stale_version", func(c sdk.Connector) sdk.Connector { return dropsVersion{c} },
		"push_stale_version", "want class conflict"},
	{"loses_concurrent_creates", func(c sdk.Connector) sdk.Connector { return &racyCreates{Connector: c} },
		"push_concurrent", "got the same ExternalID"},
}

// TestKitCatchesBrokenConnectors runs the kit against each broken
// connector in a child test process and checks that it fails there, in the
// right check, for the right reason, while the checks the breakage does not
// touch still pass.
func TestKitCatchesBrokenConnectors(t *testing.T) {
	for _, b := range append(broken[:len(broken):len(broken)], brokenHTTP...) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			out, failed := runHelper(t, "TestBrokenConnectorHelper", b.name)
			if !failed {
				t.Fatalf("the kit passed a connector that breaks the contract (%s); output:\n%s", b.name, out)
			}
			if !strings.Contains(out, "--- FAIL: TestBrokenConnectorHelper/"+b.fails+" ") {
				t.Errorf("check %s did not fail; output:\n%s", b.fails, out)
			}
			if !strings.Contains(out, b.says) {
				t.Errorf("the failure does not say %q; output:\n%s", b.says, out)
			}
			if b.fails != "configure_check" && !strings.Contains(out, "--- PASS: TestBrokenConnectorHelper/configure_check ") {
				t.Errorf("check configure_check failed too: a breakage must fail only the checks it concerns; output:\n%s", out)
			}
		})
	}
}

// TestBrokenConnectorHelper is the child process of
// TestKitCatchesBrokenConnectors; it runs only there.
func TestBrokenConnectorHelper(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("requires " + brokenEnv + ": it runs only as the child process of TestKitCatchesBrokenConnectors")
	}
	for _, b := range broken {
		if b.name == name {
			connectortest.Run(t, func(*testing.T) sdk.Connector { return b.wrap(newMemory()) }, memoryFixture)
			return
		}
	}
	for _, b := range brokenHTTP {
		if b.name == name {
			connectortest.Run(t, func(*testing.T) sdk.Connector { return b.wrap(newHTTPRisks()) }, httpFixture(newRiskTool(t)))
			return
		}
	}
	t.Fatalf("unknown broken connector %q", name)
}

// runHelper runs test in a child process of this test binary with
// brokenEnv set to variant; it returns the output and whether it failed.
func runHelper(t *testing.T, test, variant string) (string, bool) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+regexp.QuoteMeta(test)+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), brokenEnv+"="+variant)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run the test binary: %v", err)
	}
	return string(out), err != nil
}

// The broken connectors: each wraps the correct example and breaks one
// thing.

type wrongProtocol struct{ sdk.Connector }

func (w wrongProtocol) Describe(ctx context.Context) (sdk.Description, error) {
	d, err := w.Connector.Describe(ctx)
	d.ProtocolVersion = 99
	return d, err
}

// configProblemOn reports a bad config on attr, or as a plain error when
// attr is empty.
type configProblemOn struct {
	sdk.Connector
	attr string
}

func (w configProblemOn) Configure(ctx context.Context, cfg sdk.Config) error {
	err := w.Connector.Configure(ctx, cfg)
	if err == nil {
		return nil
	}
	if w.attr == "" {
		return errors.New("bad config")
	}
	return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: w.attr, Summary: "is wrong"}}}
}

// duplicator forgets the marker of a create it has seen, as a connector
// that does not look before it creates.
type duplicator struct {
	sdk.Connector
	mu   sync.Mutex
	seen map[string]int
}

func (w *duplicator) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	w.mu.Lock()
	if w.seen == nil {
		w.seen = map[string]int{}
	}
	for i, c := range req.Changes {
		if c.Op == sdk.OpCreate {
			w.seen[c.Marker]++
			if n := w.seen[c.Marker]; n > 1 {
				req.Changes[i].Marker = c.Marker + "-again-" + strconv.Itoa(n)
			}
		}
	}
	w.mu.Unlock()
	return w.Connector.Push(ctx, req)
}

type lenientCursor struct{ sdk.Connector }

func (w lenientCursor) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	if _, err := strconv.Atoi(req.Cursor); err != nil {
		req.Cursor = ""
	}
	return w.Connector.Pull(ctx, req, send)
}

type panicOnCursor struct{ sdk.Connector }

func (w panicOnCursor) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	if _, err := strconv.Atoi(req.Cursor); err != nil && req.Cursor != "" {
		panic("cannot parse cursor")
	}
	return w.Connector.Pull(ctx, req, send)
}

// cursorAhead hands out cursors past what it delivered.
type cursorAhead struct{ sdk.Connector }

func (w cursorAhead) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	return w.Connector.Pull(ctx, req, func(b sdk.Batch) error {
		n, _ := strconv.Atoi(b.Cursor)
		b.Cursor = strconv.Itoa(n + 1000)
		return send(b)
	})
}

type reversedResults struct{ sdk.Connector }

func (w reversedResults) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	res, err := w.Connector.Push(ctx, req)
	for i, j := 0, len(res)-1; i < j; i, j = i+1, j-1 {
		res[i], res[j] = res[j], res[i]
	}
	return res, err
}

type wholeBatchFails struct{ sdk.Connector }

func (w wholeBatchFails) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	res, err := w.Connector.Push(ctx, req)
	for _, r := range res {
		if r.Err != nil {
			return nil, fmt.Errorf("batch refused: %w", r.Err)
		}
	}
	return res, err
}

// dropsLikelihood stores what it cannot parse as nothing, and says nothing.
type dropsLikelihood struct{ sdk.Connector }

func (w dropsLikelihood) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	for _, c := range req.Changes {
		if _, err := strconv.Atoi(c.Fields[sdk.FieldLikelihood]); err != nil {
			delete(c.Fields, sdk.FieldLikelihood)
		}
	}
	return w.Connector.Push(ctx, req)
}

// padsText pulls text back with a trailing space, as a tool that pads.
type padsText struct{ sdk.Connector }

func (w padsText) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	return w.Connector.Pull(ctx, req, func(b sdk.Batch) error {
		for i, r := range b.Records {
			f := map[string]string{}
			for k, v := range r.Fields {
				f[k] = v
			}
			f[sdk.FieldDescription] += " "
			b.Records[i].Fields = f
		}
		return send(b)
	})
}

type alwaysCreates struct {
	sdk.Connector
	n int
}

func (w *alwaysCreates) Publish(ctx context.Context, r sdk.Report) (sdk.Published, error) {
	w.n++
	r.Key += "-" + strconv.Itoa(w.n)
	p, err := w.Connector.Publish(ctx, r)
	return p, err
}

type findErrs struct{ sdk.Connector }

func (w findErrs) Find(ctx context.Context, kind sdk.EntityKind, marker string) (*sdk.Record, error) {
	r, err := w.Connector.Find(ctx, kind, marker)
	if r == nil && err == nil {
		return nil, errors.New("not found")
	}
	return r, err
}

type ignoresSend struct{ sdk.Connector }

func (w ignoresSend) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	return w.Connector.Pull(ctx, req, func(b sdk.Batch) error {
		_ = send(b)
		return nil
	})
}

// unstableVersions reports a new version on every pull.
type unstableVersions struct {
	sdk.Connector
	mu sync.Mutex
	n  int
}

func (w *unstableVersions) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	return w.Connector.Pull(ctx, req, func(b sdk.Batch) error {
		w.mu.Lock()
		w.n++
		for i := range b.Records {
			b.Records[i].Version += "." + strconv.Itoa(w.n)
		}
		w.mu.Unlock()
		return send(b)
	})
}

type dropsVersion struct{ sdk.Connector }

func (w dropsVersion) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	for i := range req.Changes {
		req.Changes[i].Version = ""
	}
	return w.Connector.Push(ctx, req)
}

// racyCreates answers creates that overlap in time with the id of
// another one, as a connector that numbers records outside its lock.
type racyCreates struct {
	sdk.Connector
	mu       sync.Mutex
	inFlight int
	last     string
}

func (w *racyCreates) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	w.mu.Lock()
	w.inFlight++
	w.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // let concurrent pushes overlap
	res, err := w.Connector.Push(ctx, req)
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range res {
		if req.Changes[i].Op != sdk.OpCreate || res[i].Err != nil {
			continue
		}
		if w.inFlight > 1 && w.last != "" {
			res[i].ExternalID = w.last
		}
		w.last = res[i].ExternalID
	}
	w.inFlight--
	return res, err
}
