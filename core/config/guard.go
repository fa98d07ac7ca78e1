package config

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Limits on a config file, checked before it is parsed.
//
// Why before: HCL's parser and evaluator recurse once per nesting level and
// once per chained operator, and in Go a stack overflow is a fatal error
// that recover cannot catch. Measured on hcl v2.25.0 (2 busy shared cores)
// without this guard: 100 000 nested parentheses in one attribute killed
// the process with "goroutine stack exceeds 1000000000-byte limit" after
// about 10 s and 1 GB (so did 100 000 nested brackets, braces, "-(" or
// "${"); a priority of 200 000 unary minus signs loaded in 14 s with a
// stack of nearly 1 GB (minutes while priority had its compiled fast
// path). A daemon cannot survive the first and should not risk the second,
// so the guard refuses such a file from its tokens alone: HCL's own lexer (a
// linear state machine without recursion) tokenizes it, and one pass over
// the tokens checks the nesting depth and the operators per expression.
// Lexing is the guard's whole cost, roughly 1 MB/s of CPU, so the size
// limit bounds the guard too; the bombs above are refused in 0.2-0.8 s.
// Within the limits the parser's and evaluator's depth stays in the
// thousands, and the largest file admitted loads in about a second of CPU.
// (Parsing in a child process would survive crashes too, but costs a
// process per load and could not say where the problem is.)
const (
	// MaxConfigBytes is the largest config file Load reads. Real configs
	// are a few kilobytes; long texts belong in files read with file().
	MaxConfigBytes = 256 << 10
	// MaxNesting is how deep brackets, braces, blocks, quoted strings,
	// heredocs, template interpolations and template if/for may nest.
	MaxNesting = 32
	// MaxOperators is how many operators one expression may chain — one
	// attribute's value, or one item or argument inside brackets —
	// counting unary, binary and conditional operators, and each index or
	// call that follows a closing bracket.
	MaxOperators = 100
)

// readConfig reads the config file at path, refusing one larger than
// MaxConfigBytes without reading the rest of it.
func readConfig(path string) ([]byte, hcl.Diagnostics) {
	unreadable := hcl.Diagnostics{{ // as hclparse says it
		Severity: hcl.DiagError,
		Summary:  "Failed to read file",
		Detail:   fmt.Sprintf("The configuration file %q could not be read.", path),
	}}
	f, err := os.Open(path)
	if err != nil {
		return nil, unreadable
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, unreadable
	}
	if len(src) > MaxConfigBytes {
		start := hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Config file too large",
			Detail: fmt.Sprintf("The file is larger than %d bytes (256 KiB), the most usmhub reads as a config; check that this is the config file, and move long texts into files read with file().",
				MaxConfigBytes),
			Subject: &start,
		}}
	}
	return src, nil
}

// guardHCL checks native-syntax source against MaxNesting and MaxOperators
// before it is parsed, and reports the first violation at its token.
func guardHCL(src []byte, filename string) hcl.Diagnostics {
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos) // lexing errors are the parser's to report
	var g guard
	return g.tokens(toks, 0)
}

// guardJSON checks JSON source before it is parsed: the nesting of arrays
// and objects, and each string that holds a template ("${" or "%{"), which
// HCL parses as native template syntax when the value is decoded.
func guardJSON(src []byte, filename string) hcl.Diagnostics {
	pos := hcl.InitialPos
	depth := 0
	advance := func(b []byte) {
		for len(b) > 0 {
			r, n := utf8.DecodeRune(b)
			b = b[n:]
			pos.Byte += n
			if r == '\n' {
				pos.Line++
				pos.Column = 1
			} else {
				pos.Column++
			}
		}
	}
	for i := 0; i < len(src); {
		switch c := src[i]; c {
		case '[', '{':
			depth++
			if depth > MaxNesting {
				return tooDeep(hcl.Range{Filename: filename, Start: pos, End: pos})
			}
		case ']', '}':
			depth = max(0, depth-1)
		case '"':
			end := i + 1
			for end < len(src) && src[end] != '"' {
				if src[end] == '\\' {
					end++
				}
				end++
			}
			end = min(end+1, len(src))
			lit := src[i:end]
			if containsTemplate(lit) {
				var s string
				if json.Unmarshal(lit, &s) == nil {
					start := pos
					start.Column++
					start.Byte++
					toks, _ := hclsyntax.LexTemplate([]byte(s), filename, start)
					g := guard{}
					if diags := g.tokens(toks, depth); diags.HasErrors() {
						return diags
					}
				}
			}
			advance(lit)
			i = end
			continue
		}
		advance(src[i : i+1])
		i++
	}
	return nil
}

func containsTemplate(b []byte) bool {
	for i := 0; i+1 < len(b); i++ {
		if (b[i] == '$' || b[i] == '%') && b[i+1] == '{' {
			return true
		}
	}
	return false
}

// guard walks a token stream, keeping the open brackets and, for each, the
// operators chained so far in the expression being read inside it.
type guard struct {
	open []level
}

// level is one open bracket: the token type that closes it, and the
// operators counted so far in the current expression inside it.
type level struct {
	close hclsyntax.TokenType
	ops   int
}

// operators are the tokens that each add a level to an expression's tree:
// the unary, binary and conditional operators (a star also counts for a
// splat; "1e-5" counts its minus: the limit is generous enough for both).
var operators = map[hclsyntax.TokenType]bool{
	hclsyntax.TokenPlus: true, hclsyntax.TokenMinus: true, hclsyntax.TokenStar: true,
	hclsyntax.TokenSlash: true, hclsyntax.TokenPercent: true, hclsyntax.TokenBang: true,
	hclsyntax.TokenEqualOp: true, hclsyntax.TokenNotEqual: true,
	hclsyntax.TokenLessThan: true, hclsyntax.TokenLessThanEq: true,
	hclsyntax.TokenGreaterThan: true, hclsyntax.TokenGreaterThanEq: true,
	hclsyntax.TokenAnd: true, hclsyntax.TokenOr: true, hclsyntax.TokenQuestion: true,
}

// tokens checks toks; base is the nesting the tokens start at (for a
// template inside a JSON string).
func (g *guard) tokens(toks hclsyntax.Tokens, base int) hcl.Diagnostics {
	top := level{} // the file's body
	cur := &top
	push := func(close hclsyntax.TokenType, rng hcl.Range) hcl.Diagnostics {
		if base+len(g.open)+1 > MaxNesting {
			return tooDeep(rng)
		}
		g.open = append(g.open, level{close: close})
		cur = &g.open[len(g.open)-1]
		return nil
	}
	count := func(rng hcl.Range) hcl.Diagnostics {
		cur.ops++
		if cur.ops > MaxOperators {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Expression too complex",
				Detail: fmt.Sprintf("This is operator number %d of one expression; an expression may chain at most %d (usmhub checks this before parsing, as longer chains can exhaust the parser). Write a shorter expression.",
					cur.ops, MaxOperators),
				Subject: rng.Ptr(),
			}}
		}
		return nil
	}
	for i, t := range toks {
		var diags hcl.Diagnostics
		switch t.Type {
		case hclsyntax.TokenOParen:
			diags = push(hclsyntax.TokenCParen, t.Range)
		case hclsyntax.TokenOBrack:
			diags = push(hclsyntax.TokenCBrack, t.Range)
		case hclsyntax.TokenOBrace:
			diags = push(hclsyntax.TokenCBrace, t.Range)
		case hclsyntax.TokenOQuote:
			diags = push(hclsyntax.TokenCQuote, t.Range)
		case hclsyntax.TokenOHeredoc:
			diags = push(hclsyntax.TokenCHeredoc, t.Range)
		case hclsyntax.TokenTemplateInterp:
			diags = push(hclsyntax.TokenTemplateSeqEnd, t.Range)
		case hclsyntax.TokenTemplateControl:
			// "%{if …}" and "%{for …}" open a level their "%{end…}"
			// closes; the directive's own braces are one more.
			if i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenIdent {
				switch string(toks[i+1].Bytes) {
				case "if", "for":
					diags = push(templateBlock, t.Range)
				case "endif", "endfor":
					g.pop(templateBlock, &cur, &top)
				}
			}
			if diags == nil {
				diags = push(hclsyntax.TokenTemplateSeqEnd, t.Range)
			}
		case hclsyntax.TokenCParen, hclsyntax.TokenCBrack, hclsyntax.TokenCBrace, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if g.pop(t.Type, &cur, &top) {
				// What follows a closing bracket may index or call it
				// again, nesting one more level.
				diags = count(t.Range)
			}
		case hclsyntax.TokenComma:
			cur.ops = 0
		case hclsyntax.TokenNewline:
			// Newlines end an attribute in a body and an item in an
			// object; inside parentheses, brackets and interpolations
			// an expression goes on.
			if cur == &top || cur.close == hclsyntax.TokenCBrace {
				cur.ops = 0
			}
		default:
			if operators[t.Type] {
				diags = count(t.Range)
			}
		}
		if diags.HasErrors() {
			return diags
		}
	}
	return nil
}

// templateBlock is the pseudo token type that closes a template if or for.
const templateBlock hclsyntax.TokenType = 0

// pop closes the innermost level if close is what closes it and reports
// whether it did; a mismatched closer (a syntax error the parser reports)
// leaves the levels as they are.
func (g *guard) pop(close hclsyntax.TokenType, cur **level, top *level) bool {
	n := len(g.open)
	if n == 0 || g.open[n-1].close != close {
		return false
	}
	g.open = g.open[:n-1]
	if n == 1 {
		*cur = top
	} else {
		*cur = &g.open[n-2]
	}
	return true
}

func tooDeep(rng hcl.Range) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Nested too deeply",
		Detail: fmt.Sprintf("This opens level %d of nesting; brackets, braces, blocks, strings and templates may nest at most %d deep (usmhub checks this before parsing, as deeper nesting can exhaust the parser). Flatten the expression or the blocks.",
			MaxNesting+1, MaxNesting),
		Subject: rng.Ptr(),
	}}
}
