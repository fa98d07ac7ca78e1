package app

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/readiness"
)

// A validation fails on a connector whose check failed, never on one not
// checked; an error names its connector once, or reads as its config
// diagnostic; a config that did not load gives its lines as the errors.
func TestValidate(t *testing.T) {
	cfg := &config.Config{Initiatives: []*config.Initiative{{}}}
	diag := &config.DiagError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown attribute",
		Subject: &hcl.Range{Filename: "usmhub.hcl", Start: hcl.Pos{Line: 7, Column: 3}}}}}
	v := Validate("usmhub.hcl", cfg, []readiness.ConnectorHealth{
		{ID: "file.a", Checked: true},
		{ID: "file.b", Checked: false},
		{ID: "rt.c", Checked: true, Err: errors.New("no plugin")},
		{ID: "rt.d", Checked: true, Err: fmt.Errorf("connector rt.d: %w", errors.New("401"))},
		{ID: "rt.e", Checked: true, Err: diag},
	})
	if v.OK || v.Failed() != 3 || v.Initiatives != 1 || len(v.Connectors) != 5 {
		t.Fatalf("validation: %+v", v)
	}
	want := []string{"", "", "connector rt.c: no plugin", "connector rt.d: 401"}
	for i, c := range v.Connectors[:4] {
		if c.Error != want[i] {
			t.Errorf("%s: %q, want %q", c.ID, c.Error, want[i])
		}
	}
	if e := v.Connectors[4].Error; !strings.HasPrefix(e, "usmhub.hcl:7,3") || !strings.Contains(e, "Unknown attribute") {
		t.Errorf("a config mistake in a connector block: %q", e)
	}
	if !v.Connectors[0].OK || v.Connectors[1].OK || v.Connectors[1].Checked {
		t.Errorf("ok and not checked: %+v", v.Connectors[:2])
	}
	if ok := Validate("x.hcl", cfg, nil); !ok.OK || ok.Failed() != 0 || ok.Connectors == nil {
		t.Errorf("no connectors: %+v", ok)
	}
	bad := InvalidConfig("x.hcl", errors.New("x.hcl:1,1: one\nx.hcl:2,1: two\n"))
	if bad.OK || len(bad.Errors) != 2 || bad.Errors[1] != "x.hcl:2,1: two" || bad.Connectors == nil {
		t.Errorf("a config that did not load: %+v", bad)
	}
}
