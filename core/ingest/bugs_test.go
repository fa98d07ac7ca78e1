package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The tests in this file pin bugs that were reported and fixed: they state
// the behaviour we want and failed on the code as it was.

// After a JSON syntax error the reader must end: encoding/json's Decoder
// keeps returning the same error while More still reports true, so a caller
// that goes on after a *RowError (usmhub risk import does) loops until it
// runs out of memory.
func TestFixedBugJSONSyntaxErrorEndsTheInput(t *testing.T) {
	got, err := readRisks(t, "f.json", `[{"title": "A"}, {"title": }, {"title": "C"}]`)
	if err != nil {
		return // a fatal error ends the input too
	}
	if n := len(got.Errs); n != 1 {
		t.Errorf("%d errors, want the syntax error once:\n%s", n, strings.Join(got.Errs, "\n"))
	}
}

// Syntax errors must point at the offending character. The Decoder's
// SyntaxError.Offset counts only the bytes its value scanner saw (not the
// '[' and ',' that Token and the array state machine consume), and "after
// reading Offset bytes" is one past the character; UnmarshalTypeError's
// Offset is relative to the element. The further into the array, the
// further off the position.
func TestFixedBugJSONSyntaxPositions(t *testing.T) {
	var many strings.Builder
	many.WriteString("[\n")
	for i := range 100 {
		fmt.Fprintf(&many, "  {\"title\": \"T%d\"},\n", i)
	}
	many.WriteString("  {\"title\" 1}\n]\n")
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", "title\nA\n", "f.json:1,2: invalid character 'i' in literal true (expecting 'r')"},
		{"a trailing comma", `[{"title": "A"},]`, "f.json:1,17: invalid character ']' looking for beginning of value"},
		{"a later line", "[\n  {\"title\": \"A\"},\n  {\"title\" \"B\"}\n]", "f.json:3,12: invalid character '\"' after object key"},
		{"the 101st element", many.String(), "f.json:102,12: invalid character '1' after object key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, firstJSONError(t, tt.in)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("an element that is not an object", func(t *testing.T) {
		got := firstJSONError(t, `[{"title": "A"}, 42]`)
		if !strings.HasPrefix(got, "f.json:1,18: ") || strings.Contains(got, "Go value") {
			t.Errorf("error %q; want it at 1,18, saying that each element must be an object", got)
		}
	})
}

// A JSON inventory that is cut off, or has data after its array, is
// imported as if it were whole: Next stops at the first More() == false and
// never reads the closing ']' or what follows it.
func TestFixedBugJSONTruncatedOrTrailing(t *testing.T) {
	for _, tt := range []struct{ name, in, at string }{
		{"cut off", `[{"title": "A"}`, "f.json:1,16: "},
		{"cut off inside an element", `[{"title": "A"}, {"title"`, "f.json:1,26: "},
		{"data after the array", `[{"title": "A"}] {"title": "B"}`, "f.json:1,18: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := firstJSONError(t, tt.in); !strings.HasPrefix(got, tt.at) {
				t.Errorf("error %q, want one at %s", got, tt.at)
			}
		})
	}
}

// A UTF-8 BOM, which the CSV reader skips, makes a JSON inventory fail with
// "invalid character 'ï'", and a JSON inventory with a BOM whose name does
// not end in .json is read as CSV.
func TestFixedBugJSONWithBOM(t *testing.T) {
	want := read{Rows: []row{{Pos{1, 2}, def("A"), []string{"title"}}}}
	for _, name := range []string{"f.json", "f.txt"} {
		got, err := readRisks(t, name, "\ufeff[{\"title\": \"A\"}]")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// An empty .json file fails with "f.json: EOF".
func TestFixedBugEmptyJSON(t *testing.T) {
	_, err := readRisks(t, "f.json", " \n")
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("error %v, want one saying that the file is empty", err)
	}
}

// isJSON reads past leading white space to sniff the format and drops it,
// so every line number of a file that starts with blank lines is off.
func TestFixedBugLeadingBlankLines(t *testing.T) {
	got, err := readRisks(t, "f.csv", "\n\ntitle,likelihood\nA,9\n")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"f.csv:4,3: likelihood: must be 1 to 5, not 9"}, got.Errs); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
	got, err = readRisks(t, "f.txt", "\n\n [{\"title\": \"\"}]")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"f.txt:3,4: title: is required"}, got.Errs); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

// strconv.ParseFloat accepts "NaN" and "Inf"; NaN passes "effort < 0" and
// +Inf passes it too, so they reach the store, and the priority policy then
// fails on every such risk. Scan scores take NaN and ±Inf, and a comparison
// with them cannot be written as JSON.
func TestFixedBugNonFiniteNumbers(t *testing.T) {
	got, err := readRisks(t, "f.csv", "title,effort\nA,NaN\nB,Inf\nC,+infinity\n")
	if err != nil {
		t.Fatal(err)
	}
	var at []string
	for _, e := range got.Errs {
		at = append(at, strings.SplitN(e, " ", 3)[0]+" "+strings.SplitN(e, " ", 3)[1])
	}
	if diff := cmp.Diff([]string{"f.csv:2,3: effort:", "f.csv:3,3: effort:", "f.csv:4,3: effort:"}, at); diff != "" {
		t.Errorf("effort errors (-want +got):\n%s\nall: %q", diff, got.Errs)
	}
	_, err = ReadScanScores("f.csv", strings.NewReader("dimension,score\nagree,NaN\nchange,-Inf\n"))
	if err == nil || strings.Count(err.Error(), "score:") != 2 {
		t.Errorf("scan scores NaN and -Inf: error %v, want one per row", err)
	}
}

// JSON field errors: an unknown field whose name has capitals is placed at
// the object, not at the field (ColumnPos is keyed by the lower-cased name,
// row.Err is called with the original); arrays and objects are described
// with Go type names; a field given twice (in any case) silently keeps the
// last value where CSV says "column appears twice".
func TestFixedBugJSONFieldErrors(t *testing.T) {
	got, err := readRisks(t, "f.json", `[{"title": "A", "Prio": 1, "likelihood": [1], "impact": {"x": 1}}, {"title": "B", "Title": "C"}]`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"f.json:1,17: Prio: unknown field; the fields are " + columnsList,
		"f.json:1,28: likelihood: must be a string or number, not an array",
		"f.json:1,47: impact: must be a string or number, not an object",
		"f.json:1,83: Title: field appears twice",
	}
	if diff := cmp.Diff(want, got.Errs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A dimension scored three times: the third row should name the first
// line, as the second does; seen[dim] is overwritten with every row.
func TestFixedBugScanTripleDuplicate(t *testing.T) {
	_, err := ReadScanScores("f.csv", strings.NewReader("dimension,score\nagree,1\nagree,2\nagree,3\n"))
	want := []string{
		`f.csv:3,1: dimension: "agree" is already scored on line 2`,
		`f.csv:4,1: dimension: "agree" is already scored on line 2`,
	}
	if err == nil {
		t.Fatal("no error")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
