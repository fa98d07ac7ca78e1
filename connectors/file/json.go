package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jsonReader reads the rows of a JSON data file: an array of objects.
type jsonReader struct {
	t     *table
	dec   *json.Decoder
	done  bool
	raw   json.RawMessage // the current row's object
	keys  map[string]int  // key literal → column position
	cells []string
}

// newJSONReader reads up to the opening bracket of the array. An empty
// file has no rows.
func newJSONReader(t *table, br *bufio.Reader) (*jsonReader, error) {
	jr := &jsonReader{t: t, dec: json.NewDecoder(br), keys: map[string]int{}}
	jr.dec.UseNumber()
	tok, err := jr.dec.Token()
	if err == io.EOF {
		jr.done = true
		return jr, nil
	}
	if err != nil {
		return nil, jr.syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("%s:1: want a JSON array of objects, one per row, not %v", t.path, tok)
	}
	return jr, nil
}

func (jr *jsonReader) next() (row, error) {
	if jr.done {
		return row{}, io.EOF
	}
	if !jr.dec.More() { // the closing bracket, or the end of a truncated file
		jr.done = true
		if _, err := jr.dec.Token(); err != nil {
			return row{}, jr.syntaxError(err)
		}
		return row{}, io.EOF
	}
	r := row{pos: jr.dec.InputOffset()} // before the comma and blanks ahead of the row: see lineAt
	if err := jr.dec.Decode(&jr.raw); err != nil {
		return row{}, jr.syntaxError(err)
	}
	if jr.raw[0] != '{' {
		return row{}, jr.at(r.pos, "want an object per row, not %s", jr.raw)
	}
	jr.cells = jr.cells[:0]
	obj := string(jr.raw) // one string per row: its cells are slices of it
	err := objectMembers(obj, func(keyLit, raw string) error {
		i, ok := jr.keys[keyLit]
		if !ok {
			key := unquote(keyLit)
			if i = jr.t.col(canonicalColumn(key)); i < 0 {
				i = jr.t.addColumn(key)
			}
			jr.t.discover(i)
			jr.keys[keyLit] = i
		}
		for len(jr.cells) <= i {
			jr.cells = append(jr.cells, "")
		}
		if jr.cells[i] != "" || r.raw[i] != nil {
			return fmt.Errorf("key %s appears twice in this object (keys match regardless of case)", keyLit)
		}
		if raw[0] == '"' {
			jr.cells[i] = unquote(raw)
			return nil
		}
		// Not a string: kept verbatim, so that the row is written back as
		// it was; numbers, booleans and null are also cell text.
		if r.raw == nil {
			r.raw = map[int][]byte{}
		}
		r.raw[i] = []byte(raw)
		switch raw[0] {
		case '{', '[':
			if known(canonicalColumn(unquote(keyLit))) {
				return fmt.Errorf("%s: want a string, number or boolean, not %s", unquote(keyLit), map[byte]string{'{': "an object", '[': "an array"}[raw[0]])
			}
		case 'n': // null
		default:
			jr.cells[i] = raw // a number as written, true or false
		}
		return nil
	})
	if err != nil {
		return row{}, jr.at(r.pos, "%v", err)
	}
	r.cells = jr.cells
	return r, nil
}

// objectMembers calls fn with each key (as a string literal, quotes and
// all) and raw value of the JSON object obj, in order. obj must be valid
// JSON (the decoder checked it).
func objectMembers(obj string, fn func(keyLit, value string) error) error {
	i := skipBlank(obj, 1) // past the brace
	for i < len(obj) && obj[i] != '}' {
		end := skipValue(obj, i)
		key := obj[i:end]
		i = skipBlank(obj, skipBlank(obj, end)+1) // past the colon
		end = skipValue(obj, i)
		if err := fn(key, obj[i:end]); err != nil {
			return err
		}
		i = skipBlank(obj, end)
		if i < len(obj) && obj[i] == ',' {
			i = skipBlank(obj, i+1)
		}
	}
	return nil
}

// skipBlank returns the index of the first non-blank byte at or after i.
func skipBlank(b string, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the valid JSON value at b[i].
func skipValue(b string, i int) int {
	switch b[i] {
	case '"':
		for i++; b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		return i + 1
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipValue(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default: // number, true, false, null
		for i < len(b) && strings.IndexByte(",}] \t\r\n", b[i]) < 0 {
			i++
		}
		return i
	}
}

// unquote decodes a valid JSON string literal.
func unquote(lit string) string {
	if strings.IndexByte(lit, '\\') < 0 {
		return lit[1 : len(lit)-1]
	}
	var s string
	_ = json.Unmarshal([]byte(lit), &s) // valid: the decoder checked it
	return s
}

// at is an error at the row starting at byte offset off.
func (jr *jsonReader) at(off int64, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", jr.t.path, lineAt(jr.t.path, off), fmt.Sprintf(format, args...))
}

// syntaxError names the file and line of a JSON syntax error.
func (jr *jsonReader) syntaxError(err error) error {
	if se, ok := err.(*json.SyntaxError); ok {
		return jr.at(se.Offset, "%v", err)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s: unexpected end of file: the JSON array is not closed", jr.t.path)
	}
	return jr.at(jr.dec.InputOffset(), "%v", err)
}

// numericColumns are written as JSON numbers when their value is one.
var numericColumns = map[string]bool{"likelihood": true, "impact": true, "effort": true, colVersion: true}

// offset returns the bytes of the file read so far.
func (jr *jsonReader) offset() int64 { return jr.dec.InputOffset() }

// jsonWriter writes rows as a JSON array, one object per line, keys in
// column order, empty cells left out.
type jsonWriter struct {
	t   *table
	bw  *bufio.Writer
	buf bytes.Buffer
	enc *json.Encoder
	n   int // rows written
}

// newJSONWriter opens the array.
func (t *table) newJSONWriter(w io.Writer) *jsonWriter {
	jw := &jsonWriter{t: t, bw: bufio.NewWriter(w)}
	jw.enc = json.NewEncoder(&jw.buf)
	jw.enc.SetEscapeHTML(false)
	jw.bw.WriteString("[\n")
	return jw
}

func (jw *jsonWriter) write(r row) error {
	bw := jw.bw
	if jw.n > 0 {
		bw.WriteString(",\n")
	}
	jw.n++
	bw.WriteString("  {")
	first := true
	for i, name := range jw.t.columns {
		var value []byte
		switch {
		case r.raw[i] != nil: // as read: set drops it when the cell changes
			value = r.raw[i]
		case i < len(r.cells) && r.cells[i] != "":
			value = jsonValue(jw.enc, &jw.buf, canonicalColumn(name), r.cells[i])
		default:
			continue
		}
		if !first {
			bw.WriteString(", ")
		}
		first = false
		bw.Write(jsonValue(jw.enc, &jw.buf, "", name))
		bw.WriteString(": ")
		bw.Write(value)
	}
	bw.WriteString("}")
	return nil
}

// close closes the array.
func (jw *jsonWriter) close() error {
	if jw.n > 0 {
		jw.bw.WriteString("\n")
	}
	jw.bw.WriteString("]\n")
	return jw.bw.Flush()
}

// jsonValue encodes the cell of a column: a number in a numeric column when
// it is one, a boolean in the deleted column, else a string.
func jsonValue(enc *json.Encoder, buf *bytes.Buffer, column, cell string) []byte {
	if numericColumns[column] && isJSONNumber(cell) {
		return []byte(cell)
	}
	if column == colDeleted && (cell == "true" || cell == "false") {
		return []byte(cell)
	}
	buf.Reset()
	_ = enc.Encode(cell) // a string always encodes
	return bytes.Clone(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// isJSONNumber reports whether s is a number JSON writes as is.
func isJSONNumber(s string) bool {
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return false
	}
	return json.Valid([]byte(s))
}
