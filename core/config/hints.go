package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// hintAllowed adds to each "Unsupported argument" or "Unsupported block
// type" diagnostic of body what the block it stands in takes, so that the
// fix is in the message: HCL suggests a name only when one is close to
// the typo ("Did you mean …?"). Connector blocks are left alone: their
// arguments are the plugin's, which Configure checks.
func hintAllowed(diags hcl.Diagnostics, body hcl.Body) {
	root, ok := body.(*hclsyntax.Body)
	if !ok {
		return // JSON: its diagnostics say where, not in which block
	}
	for _, d := range diags {
		if d.Subject == nil || (d.Summary != "Unsupported argument" && d.Summary != "Unsupported block type") ||
			strings.Contains(d.Detail, "Did you mean") {
			continue
		}
		path, last := blockPath(root, d.Subject.Start)
		if d.Summary == "Unsupported block type" && last != nil && last.TypeRange.Start.Byte == d.Subject.Start.Byte {
			path = path[:len(path)-1] // the unsupported block itself: what its parent takes
		}
		t := schemaOf(reflect.TypeFor[fileSchema](), path)
		if t == nil {
			continue
		}
		if hint := allowed(t, path); hint != "" {
			d.Detail = strings.TrimSpace(d.Detail + " " + hint)
		}
	}
}

// blockPath returns the types of the blocks around pos, outermost first,
// and the innermost block.
func blockPath(body *hclsyntax.Body, pos hcl.Pos) (path []string, last *hclsyntax.Block) {
	for {
		var inner *hclsyntax.Block
		for _, b := range body.Blocks {
			if r := b.Range(); r.ContainsPos(pos) || (r.Start.Byte < pos.Byte && pos.Byte <= r.End.Byte) {
				inner = b
				break
			}
		}
		if inner == nil {
			return path, last
		}
		path, last = append(path, inner.Type), inner
		body = inner.Body
	}
}

// schemaOf follows the block types of path from the struct t, and returns
// the struct of the innermost one (nil if a type along it is unknown).
func schemaOf(t reflect.Type, path []string) reflect.Type {
	for _, name := range path {
		var next reflect.Type
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := f.Tag.Get("hcl"); tag == name+",block" {
				next = f.Type
				for next.Kind() == reflect.Slice || next.Kind() == reflect.Pointer {
					next = next.Elem()
				}
			}
		}
		if next == nil || next.Kind() != reflect.Struct {
			return nil
		}
		t = next
	}
	return t
}

// allowed says what a block of struct t takes, or "" when its body is
// open (a ",remain" field: a connector's, whose plugin says).
func allowed(t reflect.Type, path []string) string {
	for i := range t.NumField() {
		if strings.HasSuffix(t.Field(i).Tag.Get("hcl"), ",remain") {
			return ""
		}
	}
	schema, _ := gohcl.ImpliedBodySchema(reflect.New(t).Interface())
	var attrs, blocks []string
	for _, a := range schema.Attributes {
		attrs = append(attrs, a.Name)
	}
	for _, b := range schema.Blocks {
		blocks = append(blocks, b.Type)
	}
	slices.Sort(attrs)
	slices.Sort(blocks)
	where := "The config"
	if len(path) > 0 {
		where = fmt.Sprintf("The %s block", strings.Join(path, " › "))
	}
	switch {
	case len(attrs) > 0 && len(blocks) > 0:
		return fmt.Sprintf("%s takes the arguments %s and the blocks %s.", where, strings.Join(attrs, ", "), strings.Join(blocks, ", "))
	case len(attrs) > 0:
		return fmt.Sprintf("%s takes the arguments %s.", where, strings.Join(attrs, ", "))
	case len(blocks) > 0:
		return fmt.Sprintf("%s takes the blocks %s.", where, strings.Join(blocks, ", "))
	}
	return ""
}
