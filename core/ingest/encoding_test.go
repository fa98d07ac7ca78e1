package ingest

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// firstProblem reads an inventory with read and returns the first error
// that is not io.EOF, as text ("" when there is none).
func firstProblem(t *testing.T, read func(io.Reader) error, in io.Reader) string {
	t.Helper()
	if err := read(in); err != nil {
		return err.Error()
	}
	return ""
}

func readAllRisks(name string) func(io.Reader) error {
	return func(r io.Reader) error {
		rd, err := NewRiskReader(name, r)
		if err != nil {
			return err
		}
		for {
			_, err := rd.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
}

// Text that is not UTF-8, or holds a NUL byte, is refused with the file,
// line and byte column of the first bad byte, in every inventory and scan
// format, wherever a read happens to cut the file; before, it was stored
// as it came (encoding/csv passes any bytes on, encoding/json turns bad
// bytes into U+FFFD silently).
func TestImportRefusesBadEncoding(t *testing.T) {
	latin1 := "title,owner\nA,ann\nCaf\xe9,bob\n"
	tests := []struct {
		name string
		read func(io.Reader) error
		in   string
		want string
	}{
		{"Latin-1 in a risk CSV", readAllRisks("r.csv"), latin1, "r.csv:3,4: byte 0xE9 is not UTF-8: save the file as UTF-8 (in Excel: CSV UTF-8)"},
		{"a NUL byte in a risk CSV", readAllRisks("r.csv"), "title,owner\nA,an\x00n\n", "r.csv:2,5: a NUL byte: text may not contain one (is the file UTF-16, or not text at all? save it as CSV UTF-8)"},
		{"UTF-16", readAllRisks("r.csv"), "\xff\xfet\x00i\x00t\x00l\x00e\x00\n\x00", "r.csv:1,1: byte 0xFF is not UTF-8: save the file as UTF-8 (in Excel: CSV UTF-8)"},
		{"a cut-off rune at the end", readAllRisks("r.csv"), "title\nA\xc3", "r.csv:2,2: byte 0xC3 is not UTF-8: save the file as UTF-8 (in Excel: CSV UTF-8)"},
		{"a bad byte in the header", readAllRisks("r.csv"), "ti\xfftle\nA\n", "r.csv:1,3: byte 0xFF is not UTF-8: save the file as UTF-8 (in Excel: CSV UTF-8)"},
		{"a bad byte in a risk JSON", readAllRisks("r.json"), "[\n {\"title\": \"Caf\xe9\"}\n]", "r.json:2,16: byte 0xE9 is not UTF-8: save the file as UTF-8 (in Excel: CSV UTF-8)"},
		{"an escaped NUL in a risk JSON", readAllRisks("r.json"), "[\n {\"title\": \"A\\u0000B\"}\n]", "r.json:2,3: title: holds a NUL character (\\u0000), which text may not contain"},
		{"a bad byte in an item CSV", func(r io.Reader) error { _, err := ReadItems("i.csv", r); return err }, "name\nok\nbad\x80\n", "i.csv:3,4: byte 0x80 is not UTF-8: save the file as UTF-8 (in Excel: CSV UTF-8)"},
		{"a NUL in an item JSON", func(r io.Reader) error { _, err := ReadItems("i.json", r); return err }, `[{"name": "x\u0000"}]`, "i.json:1,3: name: holds a NUL character (\\u0000), which text may not contain"},
		{"a bad byte in a scan", func(r io.Reader) error { _, err := ReadScanScores("s.csv", r); return err }, "dimension,score,note\nD1,3,gr\xfcn\n", "s.csv:2,8: byte 0xFC is not UTF-8: save the file as UTF-8 (in Excel: CSV UTF-8)"},
		{"a NUL in a scan", func(r io.Reader) error { _, err := ReadScanScores("s.csv", r); return err }, "dimension,score\nD1,3\x00\n", "s.csv:2,5: a NUL byte: text may not contain one (is the file UTF-16, or not text at all? save it as CSV UTF-8)"},
	}
	for _, tt := range tests {
		for _, cut := range []struct {
			name string
			r    func(string) io.Reader
		}{
			{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
			{"byte by byte", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
			{"halves", func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) }},
		} {
			t.Run(tt.name+"/"+cut.name, func(t *testing.T) {
				if got := firstProblem(t, tt.read, cut.r(tt.in)); got != tt.want {
					t.Errorf("error\n got %q\nwant %q", got, tt.want)
				}
			})
		}
	}
}

// Good UTF-8 passes whole, whatever the cuts: a rune split between two
// reads is not a bad byte.
func TestTextReaderPassesUTF8(t *testing.T) {
	in := strings.Repeat("Zürich €5 — 日本 😀\n", 50)
	for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in)), iotest.HalfReader(strings.NewReader(in))} {
		got, err := io.ReadAll(newTextReader("f", r))
		if err != nil || string(got) != in {
			t.Fatalf("read %d of %d bytes, err %v", len(got), len(in), err)
		}
	}
	_, err := io.ReadAll(newTextReader("f", strings.NewReader("ok\n\xc3(")))
	var ee *EncodingError
	if !errors.As(err, &ee) || ee.Pos != (Pos{2, 1}) {
		t.Fatalf("err %v, want an EncodingError at 2,1", err)
	}
}

// A workbook's cell holding a NUL (OOXML spells it _x0000_, which
// excelize decodes) is a bad value of its row and column.
func TestXLSXRefusesNUL(t *testing.T) {
	data := rezip(t, workbook(t, map[string][][]any{"Risks": {{"title", "owner"}, {"A", "anQQQn"}}}), "QQQ", "_x0000_")
	rd, err := NewRiskReader("r.xlsx", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, err = rd.Next()
	if want := "r.xlsx:2,2: owner: holds a NUL character, which text may not contain"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// rezip rewrites every file of a zip archive, replacing old by new.
func rezip(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(bytes.ReplaceAll(b, []byte(old), []byte(new))); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
