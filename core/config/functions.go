package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// EvalContext returns the evaluation context config expressions are decoded
// with: no variables, and the functions
//
//   - env("NAME"): the value of an environment variable; an error when it is
//     not set (an empty value is a value).
//   - file("path"): the text of a file, with trailing newlines trimmed; a
//     relative path is resolved from dir, the config's folder.
//
// The plugin host decodes connector bodies with the same context, so that
// env() and file() work there too. Neither function puts the value it reads
// into an error.
func EvalContext(dir string) *hcl.EvalContext {
	ctx, _ := RecordingEvalContext(dir)
	return ctx
}

// RecordingEvalContext is EvalContext, and the values its env() and file()
// calls return, for hiding them in diagnostics (FunctionValues.Hide): a
// value read from the environment or a file may be a secret even where the
// attribute is not one.
func RecordingEvalContext(dir string) (*hcl.EvalContext, *FunctionValues) {
	fv := &FunctionValues{}
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":  fv.wrap(envFunc),
			"file": fv.wrap(fileFunc(dir)),
		},
	}, fv
}

// FunctionValues records the values env() and file() returned. Safe for
// concurrent use.
type FunctionValues struct {
	mu     sync.Mutex
	values []string
}

// HiddenValue stands for a value of env() or file() in a diagnostic.
const HiddenValue = "(the value of env() or file())"

func (fv *FunctionValues) wrap(f function.Function) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := f.Call(args)
			if err == nil && v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
				fv.mu.Lock()
				fv.values = append(fv.values, v.AsString())
				fv.mu.Unlock()
			}
			return v, err
		},
	})
}

// Values returns the recorded values, longest first.
func (fv *FunctionValues) Values() []string {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	out := slices.Clone(fv.values)
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// Hide replaces every recorded value of 4 characters or more in s by
// HiddenValue.
func (fv *FunctionValues) Hide(s string) string {
	for _, v := range fv.Values() {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, HiddenValue)
		}
	}
	return s
}

// hideArg returns HiddenValue in place of a format argument that is, or
// holds, a recorded value (short ones too: an argument is a whole value).
func (fv *FunctionValues) hideArg(a any) any {
	s, ok := a.(string)
	if !ok {
		return a
	}
	for _, v := range fv.Values() {
		if s == v || len(v) >= 4 && strings.Contains(s, v) {
			return hiddenArg{}
		}
	}
	return a
}

// hiddenArg prints as HiddenValue whatever the verb (%q too: unquoted).
type hiddenArg struct{}

func (hiddenArg) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, HiddenValue) }

// envUnsetError is env()'s error for an unset variable.
type envUnsetError struct{ name string }

func (e *envUnsetError) Error() string {
	return fmt.Sprintf("set the environment variable %s or remove the reference", e.name)
}

var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable.",
	Params: []function.Parameter{
		{Name: "name", Type: cty.String},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		name := args[0].AsString()
		v, ok := os.LookupEnv(name)
		if !ok {
			return cty.UnknownVal(cty.String), &envUnsetError{name: name}
		}
		if !utf8.ValidString(v) {
			return cty.UnknownVal(cty.String), fmt.Errorf("the environment variable %s is not valid UTF-8 text", name)
		}
		return cty.StringVal(v), nil
	},
})

// fileError is file()'s error for a file it cannot read. It holds the path
// as written, never the file's content.
type fileError struct {
	path   string
	reason string
}

func (e *fileError) Error() string {
	return fmt.Sprintf("cannot read %q: %s; relative paths start at the config's folder", e.path, e.reason)
}

func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the text of a file, trailing newlines trimmed; relative paths start at the config's folder.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			full := p
			if !filepath.IsAbs(full) {
				full = filepath.Join(dir, full)
			}
			b, err := os.ReadFile(full)
			if err != nil {
				return cty.UnknownVal(cty.String), &fileError{path: p, reason: readReason(err)}
			}
			if !utf8.Valid(b) {
				return cty.UnknownVal(cty.String), &fileError{path: p, reason: "it is not UTF-8 text"}
			}
			if bytes.IndexByte(b, 0) >= 0 {
				return cty.UnknownVal(cty.String), &fileError{path: p, reason: "it holds a NUL byte, which text may not"}
			}
			return cty.StringVal(strings.TrimRight(string(b), "\r\n")), nil
		},
	})
}

// readReason says why a file cannot be read without repeating its absolute
// path.
func readReason(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.As(err, &pe):
		return pe.Err.Error()
	default:
		return err.Error()
	}
}
