package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/usmhub/usmhub/plugins/sdk"
)

func TestConfigureNamesTheAttribute(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		config map[string]any
		want   []sdk.AttributeProblem
	}{
		{"no dir", map[string]any{}, []sdk.AttributeProblem{{Attribute: "dir", Summary: "a folder is required",
			Detail: `Set dir to the folder that holds the data files, e.g. dir = "/srv/usm/data".`}}},
		{"unknown format", map[string]any{"dir": dir, "format": "ods"}, []sdk.AttributeProblem{{Attribute: "format",
			Summary: `unknown format "ods"`, Detail: `Use "csv", "json" or "xlsx".`}}},
		{"file is a folder", map[string]any{"dir": dir, "risks_file": "data/"}, []sdk.AttributeProblem{{Attribute: "risks_file",
			Summary: "must name a file, not a folder", Detail: `E.g. risks_file = "risks.csv".`}}},
		{"two kinds, one file", map[string]any{"dir": dir, "votes_file": "risks.csv"}, []sdk.AttributeProblem{{Attribute: "votes_file",
			Summary: "is the same file as risks_file", Detail: "Each kind needs a file of its own."}}},
		{"dir not a string", map[string]any{"dir": 42}, []sdk.AttributeProblem{{Attribute: "dir",
			Summary: "must be a string", Detail: "Give dir a quoted value."}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := sdk.ConfigFromMap(tt.config)
			if err != nil {
				t.Fatal(err)
			}
			err = New().Configure(context.Background(), cfg)
			var ce *sdk.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Configure = %v, want a *sdk.ConfigError", err)
			}
			if d := cmp.Diff(tt.want, ce.Problems); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
		})
	}
}

func TestConfigureDefaultsAndRelativeDir(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	c := New().(*Connector)
	cfg, _ := sdk.ConfigFromMap(map[string]any{"dir": "data", "format": "JSON"})
	if err := c.Configure(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	want := config{Dir: filepath.Join(wd, "data"), Format: "json", RisksFile: "risks.json", VotesFile: "votes.json",
		ScansFile: "scans.json", ReportsDir: "reports"}
	if d := cmp.Diff(want, *c.cfg); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	writeFile(t, file, "x")
	for _, tt := range []struct{ dir, want string }{
		{filepath.Join(dir, "missing"), "dir: folder " + filepath.Join(dir, "missing") + " does not exist"},
		{file, "dir: " + file + " is not a folder"},
	} {
		err := configured(t, tt.dir, formatCSV).Check(context.Background())
		var ce *sdk.ConfigError
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Check(dir %s) = %v, want a config error starting %q", tt.dir, err, tt.want)
		}
	}

	writeFile(t, filepath.Join(dir, "risks.csv"), "id,title,Title\n")
	err := configured(t, dir, formatCSV).Check(context.Background())
	if want := filepath.Join(dir, "risks.csv") + `:1: column "Title" appears twice (columns 2 and 3)`; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Check with a bad header = %v, want it to end %q", err, want)
	}
	if err := New().Check(context.Background()); sdk.ClassOf(err) != sdk.ClassPermanent {
		t.Errorf("Check before Configure = %v, want a permanent error", err)
	}
}
