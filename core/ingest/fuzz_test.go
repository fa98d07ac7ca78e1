package ingest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// importKinds are the readers FuzzImport drives, chosen by the input's
// kind byte: risk CSV, risk JSON, item CSV, item JSON, scan CSV.
var importKinds = []struct {
	name string
	read func(t *testing.T, name string, data []byte) ([]string, error) // the accepted rows' text values
}{
	{"r.csv", fuzzRisks}, {"r.json", fuzzRisks}, {"i.csv", fuzzItems}, {"i.json", fuzzItems}, {"s.csv", fuzzScans},
}

// FuzzImport feeds any bytes to the inventory and scan readers. They must
// not panic, must end (a bad row may be followed by more, but never by the
// same error for ever), must say where every problem is (FILE:LINE,COL
// with line and column from 1), and what they accept must be UTF-8 text
// without NUL.
func FuzzImport(f *testing.F) {
	seeds := []string{
		"title,likelihood,impact\nA,3,4\n",
		"key;title;owner\nR-1;\"Zürich; \"\"quoted\"\"\";ann\n",
		"\ufefftitle\n=HYPERLINK(\"x\")\n'=1\n",
		"title,owner\nCaf\xe9,bob\n",
		"title\nA\x00\n",
		`[{"title": "A", "likelihood": 3}, {"title": "B\u0000"}]`,
		`[{"title": 1}, 2, {"title": "C", "title": "D"}]`,
		"[\n  {\"title\" 1}\n]",
		"name,type\nserver,host\n",
		"dimension,score,respondents,note\nD1,3.5,10,good\nD1,x,-1,\n",
		"title\n\"unterminated\n",
	}
	if b, err := os.ReadFile("testdata/inventory500.csv"); err == nil {
		seeds = append(seeds, string(b[:min(len(b), 2000)]))
	}
	for i, s := range seeds {
		for k := range importKinds {
			if k%2 == i%2 || k == 4 {
				f.Add(uint8(k), []byte(s))
			}
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		k := importKinds[int(kind)%len(importKinds)]
		values, err := k.read(t, k.name, data)
		if err != nil {
			checkWhere(t, k.name, err)
			return
		}
		for _, v := range values {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				t.Fatalf("%s: accepted %q", k.name, v)
			}
		}
	})
}

// checkWhere fails t unless err names the file, and a position from 1,1
// when it is one of this package's errors.
func checkWhere(t *testing.T, name string, err error) {
	t.Helper()
	if !strings.HasPrefix(err.Error(), name+":") {
		t.Fatalf("error without the file's name: %v", err)
	}
	var (
		re  *RowError
		res Errors
		ee  *EncodingError
	)
	var pos []Pos
	switch {
	case errors.As(err, &res):
		for _, e := range res {
			pos = append(pos, e.Pos)
		}
	case errors.As(err, &re):
		pos = append(pos, re.Pos)
	case errors.As(err, &ee):
		pos = append(pos, ee.Pos)
	}
	for _, p := range pos {
		if p.Line < 1 || p.Col < 1 {
			t.Fatalf("position %+v in %v", p, err)
		}
	}
}

// next reads rows until io.EOF, collecting errors; more reads than the
// input has bytes (plus a few) is a loop.
func drain[R any](t *testing.T, size int, next func() (R, error), take func(R)) error {
	var errs []error
	for n := 0; ; n++ {
		if n > size+4 {
			t.Fatalf("%d reads of a %d-byte input: the reader does not end", n, size)
		}
		r, err := next()
		if err == io.EOF {
			return errors.Join(errs...) // nil when none
		}
		var re *RowError
		var res Errors
		switch {
		case errors.As(err, &res), errors.As(err, &re):
			if len(errs) == 0 {
				errs = append(errs, err) // the first: it names the file first
			}
		case err != nil:
			return err
		default:
			take(r)
		}
	}
}

func fuzzRisks(t *testing.T, name string, data []byte) ([]string, error) {
	rd, err := NewRiskReader(name, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	size := len(data)
	if strings.HasSuffix(name, ".xlsx") {
		size *= 1100 // deflate unpacks up to ~1032 bytes from one
	}
	var vals []string
	err = drain(t, size, rd.Next, func(row *RiskRow) {
		r := row.Risk
		vals = append(vals, r.Key, r.Title, r.Description, string(r.Process), r.Source, r.Owner)
	})
	return vals, err
}

func fuzzItems(t *testing.T, name string, data []byte) ([]string, error) {
	rows, err := ReadItems(name, bytes.NewReader(data))
	var vals []string
	for _, row := range rows {
		for _, c := range ItemColumns {
			vals = append(vals, row.Item.Field(c))
		}
	}
	return vals, err
}

func fuzzScans(t *testing.T, name string, data []byte) ([]string, error) {
	scores, err := ReadScanScores(name, bytes.NewReader(data))
	var vals []string
	for _, s := range scores {
		vals = append(vals, s.Dimension, s.Note)
	}
	return vals, err
}

// FuzzImportXLSX feeds any bytes, seeded with real workbooks, to the risk
// and item readers as .xlsx files, with the rules of FuzzImport (a
// workbook may unpack to far more rows than it has bytes, so a reader may
// read that many before it must have ended).
func FuzzImportXLSX(f *testing.F) {
	book := func(sheet string, columns []string, rows ...map[string]any) []byte {
		x, err := NewXLSXWriter(sheet, columns)
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range rows {
			if err := x.Write(r); err != nil {
				f.Fatal(err)
			}
		}
		var b bytes.Buffer
		if err := x.Close(&b); err != nil {
			f.Fatal(err)
		}
		return b.Bytes()
	}
	f.Add(uint8(0), book("risks", []string{"key", "title", "likelihood", "impact", "owner"},
		map[string]any{"key": "R-1", "title": "Zürich", "likelihood": 3, "impact": 4, "owner": "ann"},
		map[string]any{"title": "=HYPERLINK(\"x\")", "likelihood": "high"}))
	f.Add(uint8(0), book("Sheet", []string{"title", "description"}, map[string]any{"title": "A\x00", "description": "two\nlines"}))
	f.Add(uint8(1), book("items", []string{"key", "name", "type", "status"},
		map[string]any{"key": "CI-1", "name": "server", "type": "host", "status": "in_use"}))
	f.Add(uint8(1), []byte("PK\x03\x04not a zip"))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		name, read := "r.xlsx", fuzzRisks
		if kind%2 == 1 {
			name, read = "i.xlsx", fuzzItems
		}
		type result struct {
			values []string
			err    error
		}
		done := make(chan result, 1)
		go func() {
			values, err := read(t, name, data)
			done <- result{values, err}
		}()
		var values []string
		var err error
		select {
		case r := <-done:
			values, err = r.values, r.err
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: a %d-byte workbook still read after 30 s", name, len(data))
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), name+":") {
				t.Fatalf("error without the file's name: %v", err)
			}
			checkWhere(t, name, err)
			return
		}
		for _, v := range values {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				t.Fatalf("%s: accepted %q", name, v)
			}
		}
	})
}
