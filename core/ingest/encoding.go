package ingest

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// EncodingError is a file that is not UTF-8 text: a byte sequence that is
// not UTF-8, or a NUL byte, at a position (line and byte column, 1-based,
// as the other errors of this package count them). It ends the input: a
// file in another encoding (Latin-1, UTF-16) is wrong throughout, and the
// store must never hold text it cannot show back as written.
type EncodingError struct {
	File string
	Pos  Pos
	Msg  string
}

func (e *EncodingError) Error() string {
	return fmt.Sprintf("%s:%d,%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// textReader passes its reader's bytes on while checking that they are
// UTF-8 without NUL bytes; at the first bad byte it returns the bytes
// before it and then, on this read and every later one, an *EncodingError.
type textReader struct {
	r         io.Reader
	name      string
	line, col int    // the position of the next byte
	carry     []byte // the start of a rune cut off by the end of the last read
	err       error
}

// newTextReader checks the text read through it (see textReader).
func newTextReader(name string, r io.Reader) *textReader {
	return &textReader{r: r, name: name, line: 1, col: 1}
}

func (t *textReader) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n, err := t.r.Read(p)
	buf := p[:n]
	if len(t.carry) > 0 {
		buf = append(t.carry, p[:n]...)
	}
	lead := len(t.carry) // bytes of buf given out by an earlier read
	t.carry = nil
	for i := 0; i < len(buf); {
		c := buf[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return t.fail(i-lead, "a NUL byte: text may not contain one (is the file UTF-16, or not text at all? save it as CSV UTF-8)")
			}
			if c == '\n' {
				t.line, t.col = t.line+1, 1
			} else {
				t.col++
			}
			i++
			continue
		}
		if !utf8.FullRune(buf[i:]) && err == nil {
			t.carry = append([]byte(nil), buf[i:]...) // checked with the next read
			return n, nil
		}
		r, size := utf8.DecodeRune(buf[i:])
		if r == utf8.RuneError && size <= 1 {
			return t.fail(i-lead, fmt.Sprintf("byte 0x%02X is not UTF-8: save the file as UTF-8 (in Excel: CSV UTF-8)", c))
		}
		i += size
		t.col += size
	}
	return n, err
}

// fail records the error at the current position; at is how many bytes of
// this read come before the bad byte (negative when it was carried over
// from the last read, which gave those bytes out already).
func (t *textReader) fail(at int, msg string) (int, error) {
	t.err = &EncodingError{File: t.name, Pos: Pos{t.line, t.col}, Msg: msg}
	if at < 0 {
		at = 0
	}
	if at > 0 {
		return at, nil
	}
	return 0, t.err
}

// badText says what is wrong with a value read from a container that is
// not text itself (a workbook's cell: OOXML spells a NUL _x0000_), "" when
// nothing is.
func badText(v string) string {
	switch {
	case !utf8.ValidString(v):
		return "is not UTF-8 text"
	case strings.IndexByte(v, 0) >= 0:
		return "holds a NUL character, which text may not contain"
	}
	return ""
}
