package config

import (
	"bytes"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// checkText refuses a config that is not UTF-8 text, or that holds a NUL
// character, raw or escaped (\u0000, and HCL's \U00000000), pointing at
// the first. HCL's lexer refuses bad bytes only inside quoted strings
// (not in comments, heredocs or JSON, where encoding/json turns them into
// U+FFFD) and takes NUL bytes and escaped NULs everywhere, and a name or
// title with a NUL in it would be stored as it came.
func checkText(src []byte, filename string) hcl.Diagnostics {
	pos := hcl.InitialPos
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		var detail string
		switch {
		case r == utf8.RuneError && n <= 1:
			detail = "This byte is not UTF-8. Save the config as UTF-8 text."
		case r == 0:
			detail = "A config may not hold a NUL byte. Save the config as UTF-8 text (not UTF-16)."
		case r == '\\' && (bytes.HasPrefix(src[i+1:], []byte("u0000")) || bytes.HasPrefix(src[i+1:], []byte("U00000000"))):
			detail = "Text may not hold a NUL character; remove the escape."
		case r == '\\' && i+1 < len(src) && src[i+1] == '\\':
			n = 2 // an escaped backslash: what follows is not an escape
		}
		if detail != "" {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid character",
				Detail:   detail,
				Subject:  &hcl.Range{Filename: filename, Start: pos, End: pos},
			}}
		}
		switch {
		case r == '\n':
			pos.Line, pos.Column = pos.Line+1, 1
		case r == '\\' && n == 2:
			pos.Column += 2
		default:
			pos.Column++
		}
		pos.Byte += n
		i += n
	}
	return nil
}
