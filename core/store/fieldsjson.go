package store

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// The field maps of the sync state (a link's base, a quarantined record's
// fields) are stored as JSON objects of strings, and a sync of changed
// records reads and writes one per record. encoding/json does that by
// reflection: in a sync taking 100 k changed records it was 15 % of the
// hub's CPU (2.15 s decoding and 1.1 s encoding of 20.8 s; and a third of
// the bytes allocated), for objects that are nearly always flat and plain.
//
// marshalFields and unmarshalFields take the plain case themselves and hand
// every other to encoding/json, so the stored text is the same either way:
// marshalFields writes exactly the bytes json.Marshal writes (keys sorted,
// no space), and unmarshalFields reads what json.Unmarshal reads.
// TestFieldsJSONMatchesEncodingJSON and FuzzFieldsJSON hold them to that.

// marshalFields encodes m as json.Marshal does (nil as {}).
func marshalFields(m map[string]string) ([]byte, error) {
	n := 2
	for k, v := range m {
		if !plainJSON(k) || !plainJSON(v) {
			return json.Marshal(m)
		}
		n += len(k) + len(v) + 6
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]byte, 0, n)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, k...)
		out = append(out, '"', ':', '"')
		out = append(out, m[k]...)
		out = append(out, '"')
	}
	return append(out, '}'), nil
}

// plainJSON reports whether s goes into a JSON string as it is, as
// encoding/json writes it: valid UTF-8 without control characters, quotes,
// backslashes, the HTML-sensitive <, > and &, or U+2028 and U+2029 (which
// encoding/json escapes).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += size - 1
	}
	return true
}

// unmarshalFields decodes a JSON object of strings as json.Unmarshal into a
// map[string]string does.
func unmarshalFields(s string) (map[string]string, error) {
	if m, ok := plainFields(s); ok {
		return m, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// plainFields reads s when it is a JSON object written without spaces
// whose keys and values are strings without escapes; ok is false for
// anything else (and unmarshalFields asks encoding/json).
func plainFields(s string) (m map[string]string, ok bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	body := s[1 : len(s)-1]
	m = make(map[string]string, strings.Count(body, `":"`))
	for len(body) > 0 {
		k, rest, ok := plainString(body)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return nil, false
		}
		v, rest, ok := plainString(rest[1:])
		if !ok {
			return nil, false
		}
		m[k] = v
		if len(rest) > 0 {
			if rest[0] != ',' || len(rest) == 1 {
				return nil, false
			}
			rest = rest[1:]
		}
		body = rest
	}
	return m, true
}

// plainString reads a quoted string without escapes at the start of s.
func plainString(s string) (str, rest string, ok bool) {
	if len(s) == 0 || s[0] != '"' {
		return "", "", false
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return "", "", false
	}
	str, ascii := s[1:1+end], true
	for i := 0; i < len(str); i++ {
		switch c := str[i]; {
		case c < 0x20 || c == '\\':
			return "", "", false // a control character, or an escape (maybe of this very quote)
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(str) {
		return "", "", false // encoding/json replaces invalid bytes
	}
	return str, s[2+end:], true
}
