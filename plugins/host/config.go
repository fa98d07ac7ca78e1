package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/plugins/sdk"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Connector config blocks.
//
// core/config decodes the structure of a `connector "<type>" "<name>" { … }`
// block with gohcl and keeps the rest of its body (`hcl:",remain"`); the
// hub launches the plugin, and DecodeConfig decodes that body against the
// schema the plugin described. Mistakes are reported at their own
// FILE:LINE,COL; a value the connector refuses in Configure is mapped back
// to its attribute by ConfigureDiagnostics.
//
// Sensitive attributes: their values never appear in a diagnostic (the
// expression and evaluation context that would let a diagnostic printer show
// them are dropped), and Redact / Scrub hide them in logs and errors.

// RedactedValue replaces a sensitive value wherever one would be shown.
const RedactedValue = "(sensitive value)"

// ctyType is the cty type of an attribute type.
func ctyType(t sdk.AttrType) (cty.Type, error) {
	switch t {
	case sdk.TypeString:
		return cty.String, nil
	case sdk.TypeNumber:
		return cty.Number, nil
	case sdk.TypeBool:
		return cty.Bool, nil
	case sdk.TypeListString:
		return cty.List(cty.String), nil
	case sdk.TypeMapString:
		return cty.Map(cty.String), nil
	}
	return cty.NilType, fmt.Errorf("unknown attribute type %q", t)
}

// Spec returns the hcldec spec of a connector's config block.
func Spec(schema sdk.Schema) (hcldec.ObjectSpec, error) {
	spec := hcldec.ObjectSpec{}
	for _, a := range schema.Attributes {
		t, err := ctyType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("config attribute %q: %w", a.Name, err)
		}
		if !hclsyntax.ValidIdentifier(a.Name) {
			return nil, fmt.Errorf("config attribute %q: not a valid HCL attribute name", a.Name)
		}
		spec[a.Name] = &hcldec.AttrSpec{Name: a.Name, Type: t, Required: a.Required}
	}
	return spec, nil
}

// DecodeConfig decodes a connector block's body against the schema its
// plugin described: each attribute with its type, required ones required,
// unknown ones refused, expressions evaluated in ctx (env(), file()).
// Diagnostics carry the body's own ranges. The result holds the set
// attributes as a JSON object (unset optional ones are left out), ready for
// Configure.
func DecodeConfig(body hcl.Body, schema sdk.Schema, ctx *hcl.EvalContext) (sdk.Config, hcl.Diagnostics) {
	spec, err := Spec(schema)
	if err != nil {
		return sdk.Config{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Connector describes an unusable config schema",
			Detail:   err.Error() + ". This is a bug in the connector plugin.",
			Subject:  body.MissingItemRange().Ptr(),
		}}
	}
	val, diags := hcldec.Decode(body, spec, ctx)
	diags = hideSensitive(config.Explain(diags), body, schema)
	if diags.HasErrors() {
		return sdk.Config{}, diags
	}

	attrs, _ := body.JustAttributes()
	out := map[string]json.RawMessage{}
	for _, a := range schema.Attributes {
		v := val.GetAttr(a.Name)
		if v.IsNull() {
			continue
		}
		var subject *hcl.Range
		if attr, ok := attrs[a.Name]; ok {
			subject = attr.Expr.Range().Ptr()
		}
		if !v.IsWhollyKnown() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value not known",
				Detail:   fmt.Sprintf("The value of %s cannot be known when the config is loaded; use a literal, env() or file().", a.Name),
				Subject:  subject,
			})
			continue
		}
		raw, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unusable value",
				Detail:   fmt.Sprintf("The value of %s cannot be passed to the connector: %s.", a.Name, err),
				Subject:  subject,
			})
			continue
		}
		out[a.Name] = raw
	}
	if diags.HasErrors() {
		return sdk.Config{}, diags
	}
	b, err := json.Marshal(out)
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot encode connector config", Detail: err.Error()})
		return sdk.Config{}, diags
	}
	return sdk.NewConfig(b), diags
}

// hideSensitive drops the expression and evaluation context of every
// diagnostic about a sensitive attribute, so that no printer shows the
// values it was computed from.
func hideSensitive(diags hcl.Diagnostics, body hcl.Body, schema sdk.Schema) hcl.Diagnostics {
	if len(diags) == 0 {
		return diags
	}
	attrs, _ := body.JustAttributes()
	var ranges []hcl.Range
	for _, a := range schema.Attributes {
		if attr, ok := attrs[a.Name]; ok && a.Sensitive {
			ranges = append(ranges, attr.Range)
		}
	}
	for _, d := range diags {
		for _, r := range ranges {
			if d.Subject != nil && (r.Overlaps(*d.Subject) || d.Expression != nil && r.Overlaps(d.Expression.Range())) {
				d.Expression, d.EvalContext = nil, nil
			}
		}
	}
	return diags
}

// ConfigureDiagnostics turns an error from Configure into diagnostics. Each
// problem of an *sdk.ConfigError in its chain becomes one diagnostic,
// "<attribute>: <summary>" with the problem's detail, pointing at the
// attribute's value in body (for an attribute that is not set, at the
// block's opening brace, body.MissingItemRange). Any other error is one
// diagnostic there.
//
// The connector's texts are shown as they are: to hide a sensitive value a
// connector echoed, pass the result through ScrubDiagnostics.
func ConfigureDiagnostics(err error, body hcl.Body) hcl.Diagnostics {
	if err == nil {
		return nil
	}
	missing := body.MissingItemRange()
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) == 0 {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Connector refused its configuration",
			Detail:   err.Error(),
			Subject:  &missing,
		}}
	}
	attrs, _ := body.JustAttributes()
	var diags hcl.Diagnostics
	for _, p := range ce.Problems {
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  p.Attribute + ": " + p.Summary,
			Detail:   p.Detail,
			Subject:  &missing,
		}
		if attr, ok := attrs[p.Attribute]; ok {
			d.Subject = attr.Expr.Range().Ptr()
			d.Context = attr.Range.Ptr()
		}
		diags = append(diags, d)
	}
	return diags
}

// Redact returns a copy of values (a connector's config, attribute name to
// value) with the value of every sensitive attribute replaced by
// RedactedValue, for logs and output.
func Redact(schema sdk.Schema, values map[string]any) map[string]any {
	sensitive := map[string]bool{}
	for _, a := range schema.Attributes {
		sensitive[a.Name] = a.Sensitive
	}
	out := make(map[string]any, len(values))
	for k, v := range values {
		if sensitive[k] && v != nil {
			v = RedactedValue
		}
		out[k] = v
	}
	return out
}

// SensitiveValues returns the strings a config's sensitive attributes hold
// (a list's items, a map's values), longest first, for Scrub.
func SensitiveValues(schema sdk.Schema, cfg sdk.Config) []string {
	var values map[string]any
	if err := cfg.Decode(&values); err != nil {
		return nil
	}
	var out []string
	var collect func(v any)
	collect = func(v any) {
		switch v := v.(type) {
		case string:
			if v != "" {
				out = append(out, v)
			}
		case float64, bool:
			out = append(out, fmt.Sprint(v))
		case []any:
			for _, x := range v {
				collect(x)
			}
		case map[string]any:
			for _, x := range v {
				collect(x)
			}
		}
	}
	for _, a := range schema.Attributes {
		if a.Sensitive {
			collect(values[a.Name])
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// Scrub replaces every occurrence of a secret in s by RedactedValue: a last
// guard for text (a connector's error, a diagnostic) about to be logged or
// shown. Secrets shorter than 4 characters are left alone, lest every "1"
// be hidden.
func Scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, RedactedValue)
		}
	}
	return s
}

// ScrubDiagnostics applies Scrub to each diagnostic's summary and detail.
func ScrubDiagnostics(diags hcl.Diagnostics, secrets []string) hcl.Diagnostics {
	for _, d := range diags {
		d.Summary = Scrub(d.Summary, secrets)
		d.Detail = Scrub(d.Detail, secrets)
	}
	return diags
}
