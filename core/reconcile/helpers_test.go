package reconcile

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
	"github.com/usmhub/usmhub/internal/testconnectors/fault"
	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/host"
)

// pluginDir holds the connector binaries TestMain builds: the real file
// connector and the fault connector, run as the hub runs them.
var pluginDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "usmhub-sync-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = dir
	for typ, pkg := range map[string]string{
		"file":  "github.com/usmhub/usmhub/connectors/file",
		"fault": "github.com/usmhub/usmhub/internal/testconnectors/fault/cmd/usmhub-connector-fault",
	} {
		if _, err := connectortest.BuildBinary(pkg, typ, dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hub is a real SQLite store in a temporary folder and an engine on it.
type hub struct {
	t    *testing.T
	st   *store.SQLite
	path string
	eng  *Engine
}

func newHub(t *testing.T) *hub {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hub.db")
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &hub{t: t, st: st, path: path, eng: &Engine{Store: st, RetryBase: time.Millisecond}}
}

const initiative = "INI"

// addRisk stores a risk of the test initiative with title and defaults.
func (h *hub) addRisk(title string, mod ...func(*model.Risk)) model.Risk {
	h.t.Helper()
	r := model.Risk{Initiative: initiative, Kind: model.Threat, Title: title, Likelihood: 3, Impact: 3, Effort: 1, Status: model.Proposed}
	for _, m := range mod {
		m(&r)
	}
	if err := h.st.Update(context.Background(), store.Actor{Name: "cli:test"}, func(tx store.Tx) error { return tx.CreateRisk(&r) }); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// editRisk changes a risk as a person using the hub would.
func (h *hub) editRisk(ref string, fn func(*model.Risk)) model.Risk {
	h.t.Helper()
	var r model.Risk
	err := h.st.Update(context.Background(), store.Actor{Name: "cli:test"}, func(tx store.Tx) error {
		var err error
		if r, err = tx.Risk(ref); err != nil {
			return err
		}
		fn(&r)
		return tx.UpdateRisk(&r)
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *hub) view(fn func(store.Reader) error) {
	h.t.Helper()
	if err := h.st.View(context.Background(), fn); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hub) risk(ref string) model.Risk {
	h.t.Helper()
	var r model.Risk
	h.view(func(rd store.Reader) (err error) { r, err = rd.Risk(ref); return err })
	return r
}

// risks returns every risk, oldest first.
func (h *hub) risks() []model.Risk {
	h.t.Helper()
	var out []model.Risk
	h.view(func(rd store.Reader) error {
		return rd.Risks(store.RiskFilter{}, func(r model.Risk) error { out = append(out, r); return nil })
	})
	return out
}

func (h *hub) riskByTitle(title string) model.Risk {
	h.t.Helper()
	var r model.Risk
	h.view(func(rd store.Reader) (err error) { r, err = rd.RiskByTitle(initiative, title); return err })
	return r
}

// links returns the binding's links (all states when state is "").
func (h *hub) links(binding string, state store.LinkState) []store.Link {
	h.t.Helper()
	var out []store.Link
	h.view(func(rd store.Reader) error {
		return rd.Links(binding, state, func(l store.Link) error { out = append(out, l); return nil })
	})
	return out
}

func (h *hub) link(binding, hubID string) store.Link {
	h.t.Helper()
	var l store.Link
	h.view(func(rd store.Reader) (err error) { l, err = rd.Link(binding, hubID); return err })
	return l
}

func (h *hub) bindingState(binding string) store.BindingState {
	h.t.Helper()
	var s store.BindingState
	h.view(func(rd store.Reader) (err error) { s, err = rd.BindingState(binding); return err })
	return s
}

func (h *hub) quarantine(binding string) []store.Quarantined {
	h.t.Helper()
	var out []store.Quarantined
	h.view(func(rd store.Reader) error {
		return rd.Quarantine(binding, func(q store.Quarantined) error { out = append(out, q); return nil })
	})
	return out
}

func (h *hub) audit(f store.AuditFilter) []model.AuditEntry {
	h.t.Helper()
	var out []model.AuditEntry
	h.view(func(rd store.Reader) error {
		return rd.Audit(f, func(e model.AuditEntry) error { out = append(out, e); return nil })
	})
	return out
}

// sync runs b and fails the test on error.
func (h *hub) sync(b Binding, conn connector.Connector, opts ...Options) *Result {
	h.t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	res, err := h.eng.Run(context.Background(), b, conn, o)
	if err != nil {
		h.t.Fatalf("run %s (plan %v): %v", b.Name, o.Plan, err)
	}
	if res == nil {
		h.t.Fatalf("run %s: nil result", b.Name)
	}
	return res
}

// incomplete runs b expecting a run that did its work but left records
// failed or waiting (ErrIncomplete), as a quarantine does.
func (h *hub) incomplete(b Binding, conn connector.Connector, opts ...Options) *Result {
	h.t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	res, err := h.eng.Run(context.Background(), b, conn, o)
	if o.Plan && err == nil {
		return res // a plan lists what waits; it does not fail
	}
	if !errors.Is(err, ErrIncomplete) {
		h.t.Fatalf("run %s (plan %v): err = %v, want ErrIncomplete", b.Name, o.Plan, err)
	}
	return res
}

func (h *hub) plan(b Binding, conn connector.Connector) *Result {
	h.t.Helper()
	return h.sync(b, conn, Options{Plan: true})
}

// raw opens the database file on a connection of its own, for what the
// store does not show (leases, PRAGMA data_version, a dump of every table).
func (h *hub) raw() *sql.DB {
	h.t.Helper()
	db, err := sql.Open("sqlite3", "file:"+h.path+"?_busy_timeout=10000")
	if err != nil {
		h.t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	h.t.Cleanup(func() { db.Close() })
	return db
}

// dump renders every row of the tables (all when none are named), for
// comparing the store before and after.
func (h *hub) dump(db *sql.DB, tables ...string) string {
	h.t.Helper()
	if len(tables) == 0 {
		rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
		if err != nil {
			h.t.Fatal(err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				h.t.Fatal(err)
			}
			tables = append(tables, n)
		}
		rows.Close()
	}
	var b strings.Builder
	for _, tb := range tables {
		rows, err := db.Query(`SELECT * FROM "` + tb + `"`)
		if err != nil {
			h.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				h.t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%v", vals))
		}
		rows.Close()
		sort.Strings(lines)
		fmt.Fprintf(&b, "%s (%d rows)\n%s\n", tb, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

func dataVersion(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var v int64
	if err := db.QueryRow(`PRAGMA data_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// leaseOwnerOf reads the binding's lease holder.
func leaseOwnerOf(t *testing.T, db *sql.DB, binding string) string {
	t.Helper()
	var owner string
	err := db.QueryRow(`SELECT lease_owner FROM bindings WHERE binding = ?`, binding).Scan(&owner)
	if err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return owner
}

// Connectors.

func config(t *testing.T, m map[string]any) connector.Config {
	t.Helper()
	cfg, err := connector.ConfigFromMap(m)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// faultInProcess serves a fault connector in this process over real gRPC,
// configured with dir and extra attributes; it returns it and the remote's
// folder.
func faultInProcess(t *testing.T, extra map[string]any) (connector.Connector, string) {
	t.Helper()
	conn, stop, err := host.InProcess(fault.New)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dir := t.TempDir()
	return configure(t, conn, dir, extra), dir
}

// launch starts the plugin binary of type typ through plugins/host, as the
// hub does (pinned, AutoMTLS, relaunched after a crash), and configures it.
func launch(t *testing.T, typ string, dir string, extra map[string]any) *host.Instance {
	t.Helper()
	pin, err := host.FileSHA256(filepath.Join(pluginDir, host.BinaryPrefix+typ))
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(host.Options{Dirs: []string{pluginDir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	inst, err := h.Launch(context.Background(), typ, "test", pin)
	if err != nil {
		t.Fatal(err)
	}
	configure(t, inst, dir, extra)
	return inst
}

func configure(t *testing.T, conn connector.Connector, dir string, extra map[string]any) connector.Connector {
	t.Helper()
	m := map[string]any{"dir": dir}
	for k, v := range extra {
		m[k] = v
	}
	if err := conn.Configure(context.Background(), config(t, m)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// faultBinary launches the fault connector's plugin binary on a new remote.
func faultBinary(t *testing.T, extra map[string]any) (*host.Instance, string) {
	t.Helper()
	dir := t.TempDir()
	return launch(t, "fault", dir, extra), dir
}

// fileBinary launches the file connector's plugin binary on a new folder
// of JSON files.
func fileBinary(t *testing.T) (*host.Instance, string) {
	t.Helper()
	dir := t.TempDir()
	return launch(t, "file", dir, map[string]any{"format": "json"}), dir
}

// remote reads the fault connector's remote.
func remote(t *testing.T, dir string) *fault.State {
	t.Helper()
	s, err := fault.ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func editRemote(t *testing.T, dir string, fn func(*fault.State) error) {
	t.Helper()
	if err := fault.EditRemote(dir, fn); err != nil {
		t.Fatal(err)
	}
}

func setFaults(t *testing.T, dir string, f fault.Faults) {
	t.Helper()
	if err := fault.SetFaults(dir, f); err != nil {
		t.Fatal(err)
	}
}

// fileRows reads the file connector's risks.json as rows of cells.
func fileRows(t *testing.T, dir string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "risks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw []map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]string, len(raw))
	for i, r := range raw {
		out[i] = map[string]string{}
		for k, v := range r {
			if v != nil {
				out[i][k] = fmt.Sprint(v)
			}
		}
	}
	return out
}

// writeFileRows replaces risks.json, as a person editing the file would.
func writeFileRows(t *testing.T, dir string, rows []map[string]string) {
	t.Helper()
	writeJSON(t, filepath.Join(dir, "risks.json"), rows)
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// riskBinding is a risk binding of the test initiative.
func riskBinding(name string, mod ...func(*Binding)) Binding {
	b := Binding{Name: name, Kind: connector.KindRisk, Connector: "fault.test", Initiative: initiative, Direction: Both}
	for _, m := range mod {
		m(&b)
	}
	return b
}

// noChanges fails unless res holds no change to either side.
func noChanges(t *testing.T, res *Result) {
	t.Helper()
	if res.Counts.Changes() || len(res.Changes) > 0 {
		t.Fatalf("want no changes, got %+v: %+v", res.Counts, res.Changes)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fileExists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}
