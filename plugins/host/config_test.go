package host

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/usmhub/usmhub/plugins/sdk"
	"github.com/zclconf/go-cty/cty"
)

var testSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "url", Type: sdk.TypeString, Required: true},
	{Name: "token", Type: sdk.TypeString, Sensitive: true},
	{Name: "limit", Type: sdk.TypeNumber},
	{Name: "dry_run", Type: sdk.TypeBool},
	{Name: "labels", Type: sdk.TypeListString},
	{Name: "map_status", Type: sdk.TypeMapString},
}}

var evalCtx = &hcl.EvalContext{Variables: map[string]cty.Value{
	"secret":      cty.StringVal("s3cr3t-token"),
	"secret_list": cty.ListVal([]cty.Value{cty.StringVal("hunter2-hunter2")}),
}}

// parse returns the body of the single block in src, as core/config's
// remain body would be.
func parse(t *testing.T, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "c.hcl", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f.Body.(*hclsyntax.Body).Blocks[0].Body
}

// describe renders diagnostics as FILE:LINE,COL: summary; detail.
func describe(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		pos := "(no range)"
		if d.Subject != nil {
			pos = fmt.Sprintf("%s:%d,%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		out = append(out, fmt.Sprintf("%s: %s; %s", pos, d.Summary, d.Detail))
	}
	return out
}

func TestDecodeConfig(t *testing.T) {
	body := parse(t, `connector "redmine" "main" {
  url        = "https://redmine.example"
  token      = secret
  limit      = 25
  labels     = ["usm", "risk"]
  map_status = { New = "proposed" }
}`)
	cfg, diags := DecodeConfig(body, testSchema, evalCtx)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := `{"labels":["usm","risk"],"limit":25,"map_status":{"New":"proposed"},"token":"s3cr3t-token","url":"https://redmine.example"}`
	if got := string(cfg.JSON()); got != want {
		t.Errorf("config JSON = %s\nwant %s", got, want)
	}
}

func TestDecodeConfigDiagnostics(t *testing.T) {
	body := parse(t, `connector "redmine" "main" {
  token  = secret_list
  limit  = "many"
  colour = "blue"
}`)
	_, diags := DecodeConfig(body, testSchema, evalCtx)
	got := describe(diags)
	want := []string{
		`c.hcl:4,3: Unsupported argument; An argument named "colour" is not expected here.`,
		`c.hcl:1,28: Missing required argument; The argument "url" is required, but no definition was found.`,
		`c.hcl:3,12: Incorrect attribute value type; Inappropriate value for attribute "limit": a number is required.`,
		`c.hcl:2,12: Incorrect attribute value type; Inappropriate value for attribute "token": string required, but have list of string.`,
	}
	if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}

	// A printer shows the values an expression used: never for a sensitive
	// attribute.
	var buf bytes.Buffer
	files := map[string]*hcl.File{"c.hcl": {Bytes: []byte("connector \"redmine\" \"main\" {\n  token  = secret_list\n  limit  = \"many\"\n  colour = \"blue\"\n}")}}
	if err := hcl.NewDiagnosticTextWriter(&buf, files, 100, false).WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "hunter2") {
		t.Errorf("a diagnostic shows a sensitive value:\n%s", buf.String())
	}
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestConfigureDiagnostics(t *testing.T) {
	body := parse(t, `connector "redmine" "main" {
  url   = "ftp://x"
  limit = 0
}`)
	err := fmt.Errorf("configure: %w", &sdk.ConfigError{Problems: []sdk.AttributeProblem{
		{Attribute: "url", Summary: "unsupported scheme", Detail: "Use an http or https URL."},
		{Attribute: "limit", Summary: "must be positive", Detail: "Set limit to 1 or more."},
		{Attribute: "token", Summary: "required for this server", Detail: "Set token."},
	}})
	got := describe(ConfigureDiagnostics(err, body))
	want := []string{
		`c.hcl:2,11: url: unsupported scheme; Use an http or https URL.`,
		`c.hcl:3,11: limit: must be positive; Set limit to 1 or more.`,
		`c.hcl:1,28: token: required for this server; Set token.`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}

	got = describe(ConfigureDiagnostics(fmt.Errorf("connector redmine.main: configure: boom"), body))
	if diff := cmp.Diff([]string{`c.hcl:1,28: Connector refused its configuration; connector redmine.main: configure: boom`}, got); diff != "" {
		t.Errorf("plain error (-want +got):\n%s", diff)
	}
}

func TestRedactAndScrub(t *testing.T) {
	got := Redact(testSchema, map[string]any{"url": "u", "token": "s3cr3t-token", "limit": 3})
	want := map[string]any{"url": "u", "token": RedactedValue, "limit": 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Redact (-want +got):\n%s", diff)
	}
	cfg := sdk.NewConfig([]byte(`{"url":"u","token":"s3cr3t-token"}`))
	secrets := SensitiveValues(testSchema, cfg)
	if s := Scrub("401 for token s3cr3t-token at u", secrets); s != "401 for token "+RedactedValue+" at u" {
		t.Errorf("Scrub = %q", s)
	}
}

func TestSpecRefusesBadSchema(t *testing.T) {
	for _, s := range []sdk.Schema{
		{Attributes: []sdk.Attribute{{Name: "x", Type: "int"}}},
		{Attributes: []sdk.Attribute{{Name: "bad name", Type: sdk.TypeString}}},
	} {
		if _, err := Spec(s); err == nil {
			t.Errorf("Spec(%+v) succeeded", s)
		}
	}
}
