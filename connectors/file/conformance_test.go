package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/host"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// fixture is the kit's fixture for a data folder in format: each check
// starts on an empty folder.
func fixture(t *testing.T, format string) connectortest.Fixture {
	dir := t.TempDir()
	return connectortest.Fixture{
		Config:                map[string]any{"dir": dir, "format": format},
		BadConfig:             map[string]any{"dir": dir, "format": "xml"},
		BadAttribute:          "format",
		OptimisticConcurrency: true,
		PullsDeletes:          true,
		Reset:                 func(t *testing.T) { emptyDir(t, dir) },
	}
}

// emptyDir removes everything in dir.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

// direct hands the kit the connector value itself.
func direct(*testing.T) sdk.Connector { return New() }

func TestConformanceCSV(t *testing.T) {
	connectortest.Run(t, direct, fixture(t, formatCSV))
}

func TestConformanceJSON(t *testing.T) {
	connectortest.Run(t, direct, fixture(t, formatJSON))
}

func TestConformanceXLSX(t *testing.T) {
	connectortest.Run(t, direct, fixture(t, formatXLSX))
}

func TestConformanceOverGRPC(t *testing.T) {
	connectortest.Run(t, connectortest.InProcess(New), fixture(t, formatCSV))
}

// The connector as the hub runs it: a built binary, launched through
// plugins/host (pinned, AutoMTLS, handshake).
func TestConformanceBinary(t *testing.T) {
	connectortest.Run(t, connectortest.Binary(pluginPath), fixture(t, formatCSV))
}

// Votes and scans are pull-only: the kit checks pulls of a seeded file.
func TestConformanceVotes(t *testing.T) {
	fx := fixture(t, formatCSV)
	dir := fx.Config["dir"].(string)
	fx.Kind, fx.MinRecords = sdk.KindVote, 3
	fx.Reset = func(t *testing.T) {
		emptyDir(t, dir)
		writeFile(t, filepath.Join(dir, "votes.csv"), "risk,voter,weight,cast_at\nR-1,anna,2,2026-03-01\nR-1,bram,1,2026-03-02T10:00:00Z\nR-2,anna,3,\n")
	}
	connectortest.Run(t, connectortest.InProcess(New), fx)
}

func TestConformanceScans(t *testing.T) {
	fx := fixture(t, formatJSON)
	dir := fx.Config["dir"].(string)
	fx.Kind, fx.MinRecords = sdk.KindScan, 2
	fx.Reset = func(t *testing.T) {
		emptyDir(t, dir)
		writeFile(t, filepath.Join(dir, "scans.json"), `[
  {"kind": "baseline", "method": "USM-scan", "method_version": "2", "date": "2026-01-15", "dimension": "agree", "score": 2.5, "respondents": 14},
  {"kind": "baseline", "method": "USM-scan", "method_version": "2", "date": "2026-01-15", "dimension": "change", "score": 3, "respondents": 14, "note": "Changes are planned ad hoc."}
]
`)
	}
	connectortest.Run(t, connectortest.InProcess(New), fx)
}

// writeFile writes a test file.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The hub runs connectors in its config file's folder (host.Options.WorkDir),
// so a relative dir is relative to the config file, as a user expects.
func TestRelativeDirIsRelativeToTheConfigFolder(t *testing.T) {
	configDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(configDir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	h, err := host.New(host.Options{Dirs: []string{filepath.Dir(pluginPath)}, WorkDir: configDir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx := t.Context()
	inst, err := h.Launch(ctx, "file", "local", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := sdk.ConfigFromMap(map[string]any{"dir": "data"})
	if err := inst.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := inst.Check(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := inst.Push(ctx, sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create("relatief")}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("push: %v %v", err, res)
	}
	if got := readFile(t, filepath.Join(configDir, "data", "risks.csv")); !strings.Contains(got, "relatief") {
		t.Errorf("data/risks.csv under the config folder = %q, want the pushed risk", got)
	}
}
