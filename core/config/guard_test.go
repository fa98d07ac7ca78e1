package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadWithin loads src (written to a file named name) in a goroutine and
// fails the test if Load has not returned within hangBound (5 s, wider
// under the race detector): a bound against a hang, not a speed
// requirement.
//
//lint:ignore ST1008 the load's error and the timing note are both results to check; the order reads as the call's
func loadWithin(t *testing.T, name, src string) (*Config, error, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		cfg *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		cfg, err := Load(path)
		done <- result{cfg, err}
	}()
	select {
	case r := <-done:
		return r.cfg, r.err, path
	case <-time.After(hangBound):
		t.Fatalf("Load did not return within %s", hangBound)
		return nil, nil, ""
	}
}

const guardInitiative = "initiative \"t\" {\n  name = \"x\"\n}\n"

// TestLoadRefusesParserBombs: configs that crashed the process with a
// stack overflow (which recover cannot catch) or kept Load busy for
// minutes are refused before parsing, at the token that crosses the limit;
// the same constructs at the limit still load.
func TestLoadRefusesParserBombs(t *testing.T) {
	rep := strings.Repeat
	nested := func(open, inner, close string, n int) string { return rep(open, n) + inner + rep(close, n) }
	for _, tt := range []struct {
		name, file, src string
		want            string // "" for a config that loads
	}{
		// Over the limits. Lines 1-3 are the initiative; the hub or
		// priority block's brace is nesting level 1.
		{"100 000 nested parentheses", "c.hcl",
			guardInitiative + "hub {\n  listen = " + nested("(", `"127.0.0.1:1"`, ")", 100000) + "\n}\n",
			"c.hcl:5,43: Nested too deeply: This opens level 33 of nesting"},
		{"200 000 unary minus signs", "c.hcl",
			guardInitiative + "priority \"p\" {\n  score = " + rep("-", 200000) + "1\n}\n",
			"c.hcl:5,111: Expression too complex: This is operator number 101 of one expression"},
		{"200 000 negations", "c.hcl",
			guardInitiative + "priority \"p\" {\n  score = " + rep("!", 200000) + "true ? 1 : 2\n}\n",
			"c.hcl:5,111: Expression too complex"},
		{"50 000 additions", "c.hcl",
			guardInitiative + "priority \"p\" {\n  score = 1" + rep(" + 1", 50000) + "\n}\n",
			"c.hcl:5,413: Expression too complex"},
		{"a chain of conditionals", "c.hcl",
			guardInitiative + "priority \"p\" {\n  score = " + rep("votes > 1 ? 1 : ", 51) + "1\n}\n",
			"c.hcl:5,817: Expression too complex"},
		{"a chain of indexes", "c.hcl",
			guardInitiative + "hub {\n  listen = [\"a\"]" + rep("[0]", 100) + "\n}\n",
			"c.hcl:5,316: Expression too complex"},
		{"100 000 nested lists", "c.hcl",
			guardInitiative + "hub {\n  listen = " + nested("[", "1", "]", 100000) + "\n}\n",
			"c.hcl:5,43: Nested too deeply"},
		{"10 000 nested blocks", "c.hcl",
			guardInitiative + "hub {\n" + rep("a {\n", 10000) + rep("}\n", 10000) + "}\n",
			"c.hcl:36,3: Nested too deeply"},
		{"20 000 nested template interpolations", "c.hcl",
			guardInitiative + "hub {\n  listen = " + nested(`"${`, `"x"`, `}"`, 20000) + "\n}\n",
			"c.hcl:5,58: Nested too deeply"},
		{"nested template ifs", "c.hcl",
			guardInitiative + "hub {\n  listen = \"" + nested("%{if true}", "x", "%{endif}", 40) + "\"\n}\n",
			"c.hcl:5,303: Nested too deeply"},
		{"100 000 nested JSON arrays", "c.json",
			`{"hub": {"listen": ` + nested("[", "1", "]", 100000) + `}}`,
			"c.json:1,50: Nested too deeply"},
		{"a template bomb in a JSON string", "c.json",
			`{"hub": {"listen": "${` + rep("-", 200000) + `1}"}}`,
			"c.json:1,123: Expression too complex"},
		{"a file over 256 KiB", "c.hcl",
			guardInitiative + rep("# a comment line to make the file large\n", 7000),
			"c.hcl:1,1: Config file too large: The file is larger than 262144 bytes"},

		// At the limits, and what only looks like it is over them.
		{"32 levels of nesting", "c.hcl", // the block, 30 parentheses, the string
			guardInitiative + "hub {\n  listen = " + nested("(", `"127.0.0.1:1"`, ")", 30) + "\n}\n", ""},
		{"100 operators", "c.hcl",
			guardInitiative + "priority \"p\" {\n  score = 1" + rep(" + 1", 99) + " - likelihood\n}\n", ""},
		{"many items with an operator each", "c.hcl",
			guardInitiative + "priority \"p\" {\n  score = max(" + rep("-1 * likelihood, ", 300) + "1) + min(\n" + rep("  -impact,\n", 300) + "  1)\n}\n" +
				"hub {\n" + rep("  # -\n", 300) + "}\n", ""},
		{"brackets in strings, comments and heredocs", "c.hcl",
			"initiative \"t\" {\n  name = \"" + rep("((-[{", 100) + "\"\n}\n" +
				"priority \"p\" {\n  # " + rep("((-", 100) + "\n  /* " + rep("((-", 100) + " */\n  score = 1 // " + rep("((-", 100) +
				"\n  description = <<EOT\n" + rep("((-[{", 100) + "\nEOT\n}\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			cfg, err, _ := loadWithin(t, tt.file, tt.src)
			t.Logf("Load took %s", time.Since(start).Round(time.Millisecond))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if cfg == nil {
					t.Fatal("Load returned no config")
				}
				return
			}
			var de *DiagError
			if !errors.As(err, &de) {
				t.Fatalf("Load error = %v (%T), want a *DiagError", err, err)
			}
			got := strings.TrimPrefix(err.Error(), filepath.Dir(pathOf(err))+string(filepath.Separator))
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("Load error:\n %s\nwant one starting\n %s", got, tt.want)
			}
			if len(de.Diags) != 1 {
				t.Errorf("%d diagnostics, want 1", len(de.Diags))
			}
		})
	}
}

// pathOf is the file name of a DiagError's first diagnostic.
func pathOf(err error) string {
	var de *DiagError
	if errors.As(err, &de) && len(de.Diags) > 0 && de.Diags[0].Subject != nil {
		return de.Diags[0].Subject.Filename
	}
	return fmt.Sprint(err)
}
