package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/readiness"
	"github.com/usmhub/usmhub/core/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// now is the moment every golden report describes: Wednesday of ISO week 41.
var now = time.Date(2026, 10, 7, 9, 30, 0, 0, time.UTC)

const token = "tok-5ecret-never-shown"

func loadConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("testdata", "usmhub.hcl"))
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	return cfg
}

// backend is a store the golden reports are built on.
type backend struct {
	name string
	view func(fn func(store.Reader) error) error
}

// backends seeds the fixture into the in-memory reader and into a real
// SQLite store on disk; both must yield the same reports.
func backends(t *testing.T, cfg *config.Config) []backend {
	t.Helper()
	mem := newMemStore()
	if err := seed(mem, cfg); err != nil {
		t.Fatalf("seed memory: %v", err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "usmhub.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Update(ctx, store.Actor{Name: "test"}, func(tx store.Tx) error { return seed(tx, cfg) }); err != nil {
		t.Fatalf("seed sqlite: %v", err)
	}
	return []backend{
		{"memory", func(fn func(store.Reader) error) error { return fn(mem) }},
		{"sqlite", func(fn func(store.Reader) error) error { return st.View(ctx, fn) }},
	}
}

func build(t *testing.T, b backend, cfg *config.Config, kind, initiative string, opts Options) *Report {
	t.Helper()
	in, err := cfg.Initiative(initiative)
	if err != nil {
		t.Fatal(err)
	}
	var r *Report
	err = b.view(func(rd store.Reader) error {
		r, err = Build(kind, Input{Config: cfg, Initiative: in, Reader: rd, Now: now,
			Connectors: []readiness.ConnectorHealth{{ID: "file.local", Checked: true}}}, opts)
		return err
	})
	if err != nil {
		t.Fatalf("build %s report of %s: %v", kind, initiative, err)
	}
	return r
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte, write bool) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update && write {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func TestGolden(t *testing.T) {
	cfg := loadConfig(t)
	noPolicy := *cfg
	noPolicy.Priorities = nil
	cases := []struct {
		name       string
		kind       string
		initiative string
		opts       Options
		cfg        *config.Config
	}{
		{name: "sprint", kind: KindSprint, initiative: "ssc"},
		{name: "sprint-1", kind: KindSprint, initiative: "ssc", opts: Options{Sprint: 1}},
		{name: "sprint-none", kind: KindSprint, initiative: "fm_new"},
		{name: "scan", kind: KindScan, initiative: "ssc"},
		{name: "scan-baseline-only", kind: KindScan, initiative: "ops"},
		{name: "scan-none", kind: KindScan, initiative: "fm_new"},
		{name: "register", kind: KindRegister, initiative: "ssc", opts: Options{Top: 5}},
		{name: "register-no-policy", kind: KindRegister, initiative: "ssc", cfg: &noPolicy},
		{name: "register-empty", kind: KindRegister, initiative: "fm_new"},
		{name: "readiness", kind: KindReadiness, initiative: "ssc"},
		{name: "readiness-none", kind: KindReadiness, initiative: "fm_new"},
	}
	for _, b := range backends(t, cfg) {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					conf := cfg
					if c.cfg != nil {
						conf = c.cfg
					}
					r := build(t, b, conf, c.kind, c.initiative, c.opts)
					md := r.Markdown()
					js, err := json.MarshalIndent(r, "", "  ")
					if err != nil {
						t.Fatal(err)
					}
					js = append(js, '\n')
					html := r.HTML()
					checkHTML(t, r, html)
					for _, out := range []string{md, string(js), html} {
						if strings.Contains(out, token) {
							t.Errorf("the hub's API token leaks into the report:\n%s", out)
						}
					}
					sdk := r.SDK()
					if sdk.Key != r.Key || sdk.Kind != c.kind || sdk.Title != r.Title || sdk.Markdown != md {
						t.Errorf("SDK() = %+v, not the report's key, kind, title and Markdown", sdk)
					}
					checkAttachments(t, r, sdk, html)
					if sdk.URL != "" {
						t.Errorf("SDK().URL = %q without hub.public_url", sdk.URL)
					}
					// The memory backend writes the golden files; SQLite must
					// agree with them.
					golden(t, c.name+".md", []byte(md), b.name == "memory")
					golden(t, c.name+".json", js, b.name == "memory")
				})
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	cfg := loadConfig(t)
	in, _ := cfg.Initiative("ssc")
	mem := newMemStore()
	if err := seed(mem, cfg); err != nil {
		t.Fatal(err)
	}
	good := Input{Config: cfg, Initiative: in, Reader: mem, Now: now}
	cases := []struct {
		name string
		kind string
		in   Input
		opts Options
		want string
	}{
		{"unknown kind", "weekly", Input{}, Options{}, `unknown report kind "weekly" (one of sprint, scan, register, readiness)`},
		{"no reader", KindScan, Input{Config: cfg, Initiative: in}, Options{}, "scan report: no store reader given"},
		{"nothing", KindRegister, Input{}, Options{}, "register report: no config, initiative, store reader given"},
		{"unknown sprint", KindSprint, good, Options{Sprint: 7}, `sprint report of initiative "ssc": read sprint 7: sprint 7 of initiative "ssc": not found`},
		{"negative sprint", KindSprint, good, Options{Sprint: -1}, "sprint report: sprint number must be 1 or more (0 for the latest), not -1"},
		{"negative top", KindRegister, good, Options{Top: -3}, "register report: top must be 1 or more (0 for 10), not -3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.kind, c.in, c.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != c.want {
				t.Errorf("error:\n got %s\nwant %s", err, c.want)
			}
		})
	}
}

func TestReadinessRedactsSecrets(t *testing.T) {
	cfg := loadConfig(t)
	in, _ := cfg.Initiative("ssc")
	mem := newMemStore()
	if err := seed(mem, cfg); err != nil {
		t.Fatal(err)
	}
	// A connector whose error quotes the token it was given.
	health := []readiness.ConnectorHealth{{ID: "file.local", Checked: true,
		Err: &quotingError{"401 for token " + token}}}
	r, err := Build(KindReadiness, Input{Config: cfg, Initiative: in, Reader: mem, Now: now, Connectors: health}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(r)
	for _, out := range [][]byte{[]byte(r.Markdown()), js} {
		if bytes.Contains(out, []byte(token)) {
			t.Errorf("the token leaks:\n%s", out)
		}
		if !bytes.Contains(out, []byte("401 for token (sensitive)")) {
			t.Errorf("the connector's error is not shown redacted:\n%s", out)
		}
	}
}

type quotingError struct{ msg string }

func (e *quotingError) Error() string { return e.msg }

// checkAttachments holds a report's attachments to its charts: one SVG
// file per figure of the HTML form, the same drawing, named uniquely after
// the figure, each a well-formed XML document with an SVG root.
func checkAttachments(t *testing.T, r *Report, sdk connector.Report, html string) {
	t.Helper()
	figs := r.Figures("")
	if len(sdk.Attachments) != len(figs) {
		t.Fatalf("%d attachments for %d charts", len(sdk.Attachments), len(figs))
	}
	seen := map[string]bool{}
	for i, a := range sdk.Attachments {
		if want := figs[i].ID + ".svg"; a.Name != want || a.ContentType != "image/svg+xml" {
			t.Errorf("attachment %d is %q (%s), want %q (image/svg+xml)", i, a.Name, a.ContentType, want)
		}
		if seen[a.Name] {
			t.Errorf("attachment name %q twice", a.Name)
		}
		seen[a.Name] = true
		if strings.Contains(string(a.Data), token) {
			t.Errorf("the hub's API token leaks into attachment %q", a.Name)
		}
		if !strings.Contains(html, string(figs[i].SVG)) || !strings.Contains(string(a.Data), string(figs[i].SVG)) {
			t.Errorf("attachment %q is not the chart the HTML form shows", a.Name)
		}
		var root struct {
			XMLName xml.Name
		}
		if err := xml.Unmarshal(a.Data, &root); err != nil || root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
			t.Errorf("attachment %q is not a standalone SVG document (root %v): %v", a.Name, root.XMLName, err)
		}
	}
	if r.Kind == KindRegister && !seen["register-threats.svg"] {
		t.Errorf("the register report has no register-threats.svg attachment: %v", seen)
	}
}

// TestReportURL proves a report links to its dashboard page under
// hub.public_url.
func TestReportURL(t *testing.T) {
	cfg := *loadConfig(t)
	cfg.Hub.PublicURL = "https://usm.example.org/hub"
	b := backends(t, &cfg)[0]
	r := build(t, b, &cfg, KindRegister, "ssc", Options{})
	if got, want := r.SDK().URL, "https://usm.example.org/hub/reports/register?initiative=ssc"; got != want {
		t.Errorf("SDK().URL = %q, want %q", got, want)
	}
}
