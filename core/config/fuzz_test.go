package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/core/priority"
)

// FuzzLoad loads any bytes as a config, in HCL or JSON, with priority
// policies scored on a few risks. Loading must not panic or exhaust the
// stack (the guard of guard.go stands before the parser), a refusal is a
// *DiagError whose every diagnostic is placed in the file, and a policy
// that loaded scores without panicking: a number or an error, never NaN
// without one.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.hcl")
	json, _ := filepath.Glob("testdata/*.json")
	for _, name := range append(files, json...) {
		if b, err := os.ReadFile(name); err == nil && len(b) <= 4096 {
			f.Add(strings.HasSuffix(name, ".json"), b)
		}
	}
	for _, s := range []string{
		"priority \"p\" {\n  score = likelihood * impact / effort + votes\n}\n",
		"priority \"p\" {\n  score = kind == \"threat\" ? likelihood * 2 : (impact - age_days) % 3\n}\n",
		"priority \"p\" {\n  score = max(1, min(votes, 10)) / effort\n}\n",
		"priority \"p\" {\n  score = \"${likelihood}\"\n}\n",
		"priority \"p\" {\n  score = ((((((((likelihood))))))))\n}\n",
		"priority \"p\" {\n  score = - - - - - - - - 1\n}\n",
		"initiative \"a\" {\n  name = <<EOT\nline ${env(\"HOME\")}\nEOT\n}\n",
		"# caf\xe9\ninitiative \"a\" {}\n",
	} {
		f.Add(false, []byte(s))
	}
	f.Add(true, []byte(`{"priority": {"p": {"score": "${likelihood * impact}"}}}`))
	f.Fuzz(func(t *testing.T, isJSON bool, src []byte) {
		name := "c.hcl"
		if isJSON {
			name = "c.json"
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		if err != nil {
			var de *DiagError
			if !errors.As(err, &de) {
				return // not a diagnostic: a refusal of another kind (the folder, a secret's file)
			}
			for _, d := range de.Diags {
				if d.Subject != nil && (d.Subject.Start.Line < 1 || d.Subject.Start.Column < 1) {
					t.Fatalf("diagnostic %q at %v", d.Summary, d.Subject.Start)
				}
			}
			return
		}
		for _, p := range cfg.Priorities {
			for _, in := range []priority.Inputs{
				{Likelihood: 3, Impact: 4, Effort: 1, Votes: 2, Kind: "threat", Process: "agree", AgeDays: 10},
				{Likelihood: 1, Impact: 1, Effort: 0, Votes: -1, Kind: "", AgeDays: math.MaxInt32},
			} {
				if s, err := p.Policy.Score(in); err == nil && math.IsNaN(s) {
					t.Fatalf("policy %s scored NaN without an error", p.Name)
				}
			}
		}
	})
}
