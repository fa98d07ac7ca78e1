package store

import (
	"bytes"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"testing"
)

// fieldsJSONSamples are field maps to hold marshalFields and
// unmarshalFields to encoding/json with: plain ones, and every kind of
// value the fast path must hand over.
var fieldsJSONSamples = []map[string]string{
	nil,
	{},
	{"title": "Backups are not tested", "likelihood": "3", "@marker": "usmhub:0190"},
	{"": "", "a": ""},
	{"description": "line one\nline two", "title": "tab\there"},
	{"title": `she said "no"`, "path": `C:\temp`},
	{"html": "<b>&amp;</b>", "sep": "a\u2028b\u2029c"},
	{"nl": "Zoë, 日本語, emoji 🙂", "ffd": "\ufffd"},
	{"bad": "\xff\xfe", "half": "\xe6\x97"},
	{"ctl": "\x00\x1f\x7f"},
}

func TestFieldsJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "<", ">", "&", "\n", "\t", "\x01", "é", "日", "🙂", "\u2028", "\xff", "\ufffd", ":", ",", "{", "}"}
	samples := append([]map[string]string{}, fieldsJSONSamples...)
	for range 2000 {
		m := map[string]string{}
		for range rng.IntN(6) {
			word := func() string {
				var b bytes.Buffer
				for range rng.IntN(8) {
					b.WriteString(alphabet[rng.IntN(len(alphabet))])
				}
				return b.String()
			}
			m[word()] = word()
		}
		samples = append(samples, m)
	}
	for _, m := range samples {
		got, err := marshalFields(m)
		if err != nil {
			t.Fatalf("marshalFields(%q): %v", m, err)
		}
		want, _ := json.Marshal(m)
		if m == nil {
			want = []byte("{}") // a link's base is never null
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("marshalFields(%q) = %s, encoding/json writes %s", m, got, want)
		}
		back, err := unmarshalFields(string(got))
		if err != nil {
			t.Fatalf("unmarshalFields(%s): %v", got, err)
		}
		var ref map[string]string
		if err := json.Unmarshal(got, &ref); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(back, ref) {
			t.Fatalf("unmarshalFields(%s) = %q, encoding/json reads %q", got, back, ref)
		}
	}
}

// FuzzFieldsJSON holds unmarshalFields to json.Unmarshal on any text: the
// same map, or an error from both.
func FuzzFieldsJSON(f *testing.F) {
	for _, m := range fieldsJSONSamples {
		b, _ := json.Marshal(m)
		f.Add(string(b))
	}
	for _, s := range []string{`{"a":"b",}`, `{"a":"b""c":"d"}`, `{"a":1}`, `{"a":"b"} `, `{ "a":"b"}`, `{"a":"\u0041"}`, `{"a":"b","a":"c"}`, `{"a":null}`, `null`, `{"a":"b`, `{:"b"}`, `{"a"}`, `{""}`, `{"":""}`, `{"a":"b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := unmarshalFields(s)
		var want map[string]string
		wantErr := json.Unmarshal([]byte(s), &want)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("unmarshalFields(%q): error %v, encoding/json's %v", s, err, wantErr)
		}
		if err == nil && !maps.Equal(got, want) {
			t.Fatalf("unmarshalFields(%q) = %q, encoding/json reads %q", s, got, want)
		}
		if err != nil {
			return
		}
		out, err := marshalFields(got)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(want)
		if want == nil {
			ref = []byte("{}")
		}
		if !bytes.Equal(out, ref) {
			t.Fatalf("marshalFields(%q) = %s, encoding/json writes %s", got, out, ref)
		}
	})
}
