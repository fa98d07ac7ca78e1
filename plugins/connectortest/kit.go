// Package connectortest is the conformance kit every usmhub connector must
// pass: one call to Run drives the standard battery against a connector and
// reports each property as its own subtest.
//
//	func TestConformance(t *testing.T) {
//		connectortest.Run(t, func(*testing.T) sdk.Connector { return New() }, connectortest.Fixture{
//			Config:       map[string]any{"project": "demo"},
//			BadConfig:    map[string]any{"project": ""},
//			BadAttribute: "project",
//		})
//	}
//
// The battery: describe (names, protocol version, schema, consistent
// capabilities); a bad config names the right attribute; Configure and Check
// succeed; a full pull returns what was pushed and an incremental pull from
// its cursor returns what changed since (records may repeat, never go
// missing); an invalid cursor is a clear error; creates, updates and deletes
// get one result each, in request order; values round-trip exactly and
// text normalisation is a fixed point; a re-pushed create does not
// duplicate; Find locates a record whose link was lost; a create whose
// answer fails after the tool stored it (HTTP connectors, through a proxy:
// see Fixture.URLAttribute) is not sent again, and Find resolves it; one
// bad record does not fail its batch; a stale version is a conflict;
// concurrent pushes lose nothing; Publish creates and then, by the same
// key, updates.
//
// A check that needs a capability the connector does not declare skips,
// naming the capability. The kit changes only records it created itself
// (identified by fresh hub markers), so it may run against a shared remote;
// Fixture.Reset gives each check a clean one where that is possible.
//
// The connector may be anything that implements sdk.Connector: the value
// itself, InProcess(New) over real gRPC, or Binary(path), a plugin binary
// launched through plugins/host as the hub launches it (see launch.go). The
// kit owns none of them: the factory given to Run registers any cleanup with
// the *testing.T it receives.
//
// The kit must not know any particular connector, and never touches the
// hub's store or sync engine: it talks to the connector only through the
// sdk.Connector contract.
package connectortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// Fixture describes the connector under test and the data the battery uses.
// Only Config, BadConfig and BadAttribute are required for a risk connector;
// other kinds need NewFields, UpdateField and InvalidFields too.
type Fixture struct {
	// Config is a working config block (attribute → value, as the hub would
	// decode it). Every check but describe and the bad-config ones runs on
	// a connector configured with it.
	Config map[string]any

	// BadConfig is a config with one mistake, on BadAttribute: Configure
	// must return a *sdk.ConfigError with a problem naming exactly that
	// attribute.
	BadConfig    map[string]any
	BadAttribute string

	// Kind is the entity kind the battery syncs: sdk.KindRisk when empty.
	Kind sdk.EntityKind

	// NewFields returns the canonical fields of the i-th record the kit
	// creates (i grows with every call). Values must already be canonical:
	// the kit expects to pull back exactly what it pushed. Default for
	// risks: RiskFields.
	NewFields func(i int) map[string]string

	// UpdateField is the field the kit changes in an update, to UpdateValue.
	// Default for risks: the title, to a new title on every update.
	UpdateField string
	UpdateValue string

	// InvalidFields, laid over NewFields, make a record the connector must
	// refuse with class invalid. Default for risks: likelihood "high".
	InvalidFields map[string]string

	// TextField is a free-text field the kit fills with carriage returns and
	// trailing spaces to check that the connector normalises text to a fixed
	// point (push the pulled value back, pull the same). Default for risks:
	// the description; empty skips that check for other kinds.
	TextField string

	// OptimisticConcurrency says the connector refuses an update whose
	// Change.Version is stale, with class conflict. The kit checks it.
	OptimisticConcurrency bool

	// PullsDeletes says an incremental pull after a delete reports the
	// deleted record with Deleted set (connectors without it rely on the
	// hub's full reconcile). The kit checks it.
	PullsDeletes bool

	// MinRecords is how many records a full pull must at least return on a
	// fresh remote (after Reset); for kinds the connector only pulls,
	// Reset seeds them.
	MinRecords int

	// URLAttribute names the config attribute holding the base URL of the
	// tool, for connectors that reach it over HTTP(S) (Config must set it).
	// It opts the connector into the check push_create_fails_after_commit:
	// the kit points the attribute at a proxy in the test process that
	// forwards every request to the tool, but fails the answer of each POST
	// or PATCH after the tool took it (an HTTP 503, a dropped connection,
	// an answer cut off). The failed create must be a transient error, Find
	// must then find exactly one record carrying its marker, and a full pull
	// must show no second one: a create is retried only through Find, never
	// blindly (see the sdk package doc; sdk.NewHTTPClient does it right).
	// The proxy reaches an https tool with Go's default TLS settings, so
	// its certificate must be one the test process trusts. Empty skips the
	// check, as for connectors without HTTP.
	URLAttribute string

	// Reset, when set, runs before each check and gives it a clean remote.
	Reset func(t *testing.T)

	// Timeout bounds each check; two minutes when zero.
	Timeout time.Duration
}

// RiskFields returns valid, canonical risk fields, different for every i.
// It is the default Fixture.NewFields for risks.
func RiskFields(i int) map[string]string {
	kinds := []string{"threat", "opportunity"}
	processes := []string{"agree", "change", "recover", "operate", "improve"}
	return map[string]string{
		sdk.FieldKey:         "CT-" + strconv.Itoa(i),
		sdk.FieldTitle:       fmt.Sprintf("Conformance risk %d", i),
		sdk.FieldDescription: fmt.Sprintf("Created by the usmhub conformance kit.\nRecord %d, second line.", i),
		sdk.FieldKind:        kinds[i%len(kinds)],
		sdk.FieldProcess:     processes[i%len(processes)],
		sdk.FieldSource:      "connectortest",
		sdk.FieldLikelihood:  strconv.Itoa(1 + i%5),
		sdk.FieldImpact:      strconv.Itoa(1 + (i+2)%5),
		sdk.FieldEffort:      "2",
		sdk.FieldOwner:       "conformance",
		sdk.FieldStatus:      "proposed",
	}
}

// Run runs the conformance battery against the connector newConn returns.
// newConn is called once per check, so each check starts from a fresh,
// unconfigured connector (after Fixture.Reset, when set). Each property is a
// subtest of t, named after it (describe, bad_config, pull_full, …), so
// `go test -run 'TestX/pull_'` runs a part of it.
func Run(t *testing.T, newConn func(t *testing.T) sdk.Connector, fx Fixture) {
	t.Helper()
	k := &kit{newConn: newConn, fx: withDefaults(fx), runID: randomHex(4)}
	if msg := k.fx.problem(); msg != "" {
		t.Fatalf("connectortest: fixture: %s", msg)
	}
	for _, c := range battery {
		t.Run(c.name, func(t *testing.T) { k.run(t, c) })
	}
}

// kit is one Run: the fixture, the connector factory and the counters that
// keep the records of its checks apart.
type kit struct {
	newConn func(t *testing.T) sdk.Connector
	fx      Fixture
	runID   string
	seq     atomic.Int64
}

// withDefaults fills the fixture's defaults for its kind.
func withDefaults(fx Fixture) Fixture {
	if fx.Kind == "" {
		fx.Kind = sdk.KindRisk
	}
	if fx.Timeout == 0 {
		fx.Timeout = 2 * time.Minute
	}
	if fx.Kind == sdk.KindRisk {
		if fx.NewFields == nil {
			fx.NewFields = RiskFields
		}
		if fx.UpdateField == "" {
			fx.UpdateField = sdk.FieldTitle
		}
		if fx.InvalidFields == nil {
			fx.InvalidFields = map[string]string{sdk.FieldLikelihood: "high"}
		}
		if fx.TextField == "" {
			fx.TextField = sdk.FieldDescription
		}
	}
	return fx
}

// problem says what is missing from the fixture, "" when nothing.
func (fx Fixture) problem() string {
	switch {
	case fx.Config == nil:
		return "Config is required (a working config block)"
	case fx.BadConfig == nil || fx.BadAttribute == "":
		return "BadConfig and BadAttribute are required (a config with one mistake, and the attribute it is on)"
	case fx.URLAttribute != "":
		if _, err := fx.toolURL(); err != nil {
			return err.Error()
		}
	}
	return ""
}

// check is one property of the battery and what it needs to run.
type check struct {
	name string
	// configure: the check gets a connector configured with Fixture.Config
	// (Configure and Check succeeded); otherwise a fresh one.
	configure bool
	needs     needs
	run       func(e *env)
}

// needs lists the capabilities a check requires.
type needs struct {
	pull, push, delete, publish bool
}

// battery is every check, in the order Run runs them.
var battery = []check{
	{name: "describe", run: checkDescribe},
	{name: "bad_config", run: checkBadConfig},
	{name: "missing_required", run: checkMissingRequired},
	{name: "configure_check", run: checkConfigure},
	{name: "pull_full", configure: true, needs: needs{pull: true}, run: checkPullFull},
	{name: "pull_incremental", configure: true, needs: needs{pull: true, push: true}, run: checkPullIncremental},
	{name: "pull_invalid_cursor", configure: true, needs: needs{pull: true}, run: checkPullInvalidCursor},
	{name: "pull_stops_when_send_fails", configure: true, needs: needs{pull: true}, run: checkPullStops},
	{name: "push_create_update_delete", configure: true, needs: needs{push: true}, run: checkPushCRUD},
	{name: "push_round_trip", configure: true, needs: needs{pull: true, push: true}, run: checkRoundTrip},
	{name: "push_normalises_text", configure: true, needs: needs{pull: true, push: true}, run: checkNormalisation},
	{name: "push_idempotent_create", configure: true, needs: needs{push: true}, run: checkIdempotentCreate},
	{name: "find_lost_link", configure: true, needs: needs{push: true}, run: checkFind},
	{name: "push_create_fails_after_commit", needs: needs{push: true}, run: checkCreateFailsAfterCommit},
	{name: "push_one_bad_record", configure: true, needs: needs{push: true}, run: checkOneBadRecord},
	{name: "push_stale_version", configure: true, needs: needs{push: true}, run: checkStaleVersion},
	{name: "push_concurrent", configure: true, needs: needs{push: true}, run: checkConcurrentPush},
	{name: "publish", configure: true, needs: needs{publish: true}, run: checkPublish},
}

// run runs one check on a fresh connector.
func (k *kit) run(t *testing.T, c check) {
	t.Helper()
	if k.fx.Reset != nil {
		k.fx.Reset(t)
	}
	ctx, cancel := context.WithTimeout(t.Context(), k.fx.Timeout)
	defer cancel()
	conn := k.newConn(t)
	if conn == nil {
		t.Fatal("connectortest: the connector factory returned nil")
	}
	desc, err := conn.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	e := &env{t: t, ctx: ctx, conn: conn, desc: desc, fx: &k.fx, k: k}
	e.skipUnlessCapable(c.needs)
	if c.configure {
		e.configure()
	}
	c.run(e)
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("connectortest: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// newHubID returns a random UUID (version 4), as the hub would give an
// entity.
func newHubID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("connectortest: crypto/rand: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
