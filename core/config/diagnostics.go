package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// DiagError is the error Load returns for any problem with a config: every
// diagnostic found, each with its source range where there is one. Files
// holds the parsed files by name, for callers that render source snippets.
type DiagError struct {
	Diags hcl.Diagnostics
	Files map[string]*hcl.File
}

// Error prints every diagnostic, one a line, as FormatDiagnostics does.
func (e *DiagError) Error() string { return FormatDiagnostics(e.Diags) }

// FormatDiagnostics prints diagnostics one a line as
// "FILE:LINE,COL: summary: detail" (a warning's summary starts with
// "warning: "; a diagnostic without a source range starts at its summary).
// FILE is the name the file was parsed under. There is no trailing newline.
func FormatDiagnostics(diags hcl.Diagnostics) string {
	var b strings.Builder
	for i, d := range diags {
		if i > 0 {
			b.WriteByte('\n')
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d,%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		if d.Severity == hcl.DiagWarning {
			b.WriteString("warning: ")
		}
		b.WriteString(oneLine(d.Summary))
		if d.Detail != "" {
			b.WriteString(": ")
			b.WriteString(oneLine(d.Detail))
		}
	}
	return b.String()
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// sortDiagnostics orders diagnostics by file and position; those without a
// range come first. The order among equal positions is kept.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		default:
			return a.Start.Column < b.Start.Column
		}
	})
}

// Explain rewrites the diagnostics of env() and file() failures into ones
// that say what to do, and drops gohcl's follow-up "value must be known"
// for an attribute whose expression already failed. Load applies it; the
// plugin host applies it to the connector blocks it decodes, so that an
// unset variable reads the same wherever it is used.
func Explain(diags hcl.Diagnostics) hcl.Diagnostics {
	out := diags[:0]
	for _, d := range diags {
		if d.Summary == "Unsuitable value type" && d.Detail == "Unsuitable value: value must be known" {
			continue
		}
		if extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d); ok {
			var envErr *envUnsetError
			var fileErr *fileError
			switch err := extra.FunctionCallError(); {
			case errors.As(err, &envErr):
				d.Summary = "Environment variable not set"
				d.Detail = fmt.Sprintf("Set the environment variable %s or remove the reference.", envErr.name)
			case errors.As(err, &fileErr):
				d.Summary = "Unreadable file"
				d.Detail = fmt.Sprintf("Cannot read %q: %s; file() paths are relative to the config's folder.", fileErr.path, fileErr.reason)
			}
		}
		out = append(out, d)
	}
	return out
}
