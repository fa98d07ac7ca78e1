package ingest

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// columnsList is the hint every unknown column or field error ends with.
const columnsList = "key, title, description, kind, process, source, likelihood, impact, effort, owner, status"

// row is what a test compares of one good row.
type row struct {
	Pos   Pos
	Risk  model.Risk
	Given []string // the columns the row gave, sorted
}

// read is everything a reader produced for one input.
type read struct {
	Rows []row
	Errs []string // every row error's text, in order
}

// readRisks reads the whole input. It returns the error of NewRiskReader or
// a fatal error of Next as err; row errors go to read.Errs. A reader that
// never reaches io.EOF fails the test instead of hanging it.
func readRisks(t *testing.T, name, input string) (read, error) {
	t.Helper()
	rd, err := NewRiskReader(name, strings.NewReader(input))
	if err != nil {
		return read{}, err
	}
	var got read
	for range len(input) + 2 {
		r, err := rd.Next()
		if err == io.EOF {
			return got, nil
		}
		var one *RowError
		var many Errors
		switch {
		case errors.As(err, &many):
			for _, e := range many {
				got.Errs = append(got.Errs, e.Error())
			}
		case errors.As(err, &one):
			got.Errs = append(got.Errs, one.Error())
		case err != nil:
			return got, err
		default:
			got.Rows = append(got.Rows, row{Pos: r.Pos, Risk: r.Risk, Given: givenOf(r)})
		}
	}
	t.Fatalf("%s: Next did not return io.EOF after %d calls; %d errors, the first: %q", name, len(input)+2, len(got.Errs), got.Errs[:min(3, len(got.Errs))])
	return got, nil
}

func givenOf(r *RiskRow) []string {
	var cols []string
	for c, ok := range r.Given {
		if ok {
			cols = append(cols, c)
		}
	}
	sort.Strings(cols)
	return cols
}

// def is a risk with title and every other column at its default.
func def(title string, change ...func(*model.Risk)) model.Risk {
	r := model.Risk{Title: title, Kind: DefaultKind, Likelihood: DefaultLikelihood, Impact: DefaultImpact,
		Effort: DefaultEffort, Status: DefaultStatus}
	for _, c := range change {
		c(&r)
	}
	return r
}

func TestCSVHeader(t *testing.T) {
	unknown := "unknown column; the columns are " + columnsList
	tests := []struct {
		name, in string
		wantErr  string // "" when the header is fine
		want     []row  // the rows, when it is
	}{
		{
			name: "BOM, case and spaces are ignored",
			in:   "\ufeffTitle , LIKELIHOOD\nA,4\n",
			want: []row{{Pos{2, 1}, def("A", func(r *model.Risk) { r.Likelihood = 4 }), []string{"likelihood", "title"}}},
		},
		{
			name: "only a title",
			in:   "title\n",
		},
		{
			name:    "unknown columns, each at its column, lower-cased",
			in:      "title,prio,Colour\n",
			wantErr: "f.csv:1,7: prio: " + unknown + "\nf.csv:1,12: colour: " + unknown,
		},
		{
			// Columns count bytes, as encoding/csv does: the BOM's three
			// bytes shift the header's columns.
			name:    "unknown column after a BOM",
			in:      "\ufefftitle,foo\n",
			wantErr: "f.csv:1,10: foo: " + unknown,
		},
		{
			name:    "the position of a column is after its leading spaces",
			in:      "title,  colour\n",
			wantErr: "f.csv:1,9: colour: " + unknown,
		},
		{
			name:    "duplicate column, in another case",
			in:      "Title,key,title\n",
			wantErr: "f.csv:1,11: title: column appears twice",
		},
		{
			name:    "no title column",
			in:      "key,kind\n",
			wantErr: "f.csv:1,1: the header has no title column, which is required",
		},
		{
			name:    "unknown column and no title",
			in:      "name,kind\n",
			wantErr: "f.csv:1,1: name: " + unknown + "\nf.csv:1,1: the header has no title column, which is required",
		},
		{
			name:    "empty file",
			in:      "",
			wantErr: "f.csv: empty file: the first line must be a header naming the columns (title is required)",
		},
		{
			name:    "a header with a bad quote",
			in:      "ti\"tle\n",
			wantErr: "f.csv:1,3: bare \" in non-quoted-field",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRisks(t, "f.csv", tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want\n%s", tt.wantErr)
				}
				if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
					t.Fatalf("error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(read{Rows: tt.want}, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCSVRows(t *testing.T) {
	all := []string{"description", "effort", "impact", "key", "kind", "likelihood", "owner", "process", "source", "status", "title"}
	tests := []struct {
		name, in string
		want     read
	}{
		{
			name: "defaults",
			in:   "title\nA\n",
			want: read{Rows: []row{{Pos{2, 1}, def("A"), []string{"title"}}}},
		},
		{
			name: "every column",
			in: "key,title,description,kind,process,source,likelihood,impact,effort,owner,status\n" +
				"R-7,Fix intake,\"Two desks, one form\",Opportunity,CHANGE,sounding board, 5,1,2.5,Hanna,In Progress\n",
			want: read{Rows: []row{{Pos{2, 1}, model.Risk{Key: "R-7", Title: "Fix intake", Description: "Two desks, one form",
				Kind: model.Opportunity, Process: model.Change, Source: "sounding board", Likelihood: 5, Impact: 1,
				Effort: 2.5, Owner: "Hanna", Status: model.InProgress}, all}}},
		},
		{
			name: "every status and kind spelling",
			in:   "title,status,kind\nA,ACCEPTED,THREAT\nB,in_progress,opportunity\nC,Realized,\nD,rejected , threat\n",
			want: read{Rows: []row{
				{Pos{2, 1}, def("A", func(r *model.Risk) { r.Status = model.Accepted }), []string{"kind", "status", "title"}},
				{Pos{3, 1}, def("B", func(r *model.Risk) { r.Status, r.Kind = model.InProgress, model.Opportunity }), []string{"kind", "status", "title"}},
				{Pos{4, 1}, def("C", func(r *model.Risk) { r.Status = model.Realized }), []string{"status", "title"}},
				{Pos{5, 1}, def("D", func(r *model.Risk) { r.Status = model.Rejected }), []string{"kind", "status", "title"}},
			}},
		},
		{
			name: "empty cells mean not given",
			in:   "key,title,kind,process,likelihood,impact,effort,status,owner\n,A,,,,,,,\n",
			want: read{Rows: []row{{Pos{2, 1}, def("A"), []string{"title"}}}},
		},
		{
			name: "effort 0 and fractions, likelihood with a plus sign",
			in:   "title,effort,likelihood\nA,0,+2\nB,0.25,5\n",
			want: read{Rows: []row{
				{Pos{2, 1}, def("A", func(r *model.Risk) { r.Effort, r.Likelihood = 0, 2 }), []string{"effort", "likelihood", "title"}},
				{Pos{3, 1}, def("B", func(r *model.Risk) { r.Effort, r.Likelihood = 0.25, 5 }), []string{"effort", "likelihood", "title"}},
			}},
		},
		{
			name: "every column's validation, at its column",
			in: "key,title,kind,process,likelihood,impact,effort,status\n" +
				"R 1,A,risk,plan,high,6,-1,done\n" +
				"R-2,B,threat,,0,3.5,lots,\n",
			want: read{Errs: []string{
				`f.csv:2,1: key: "R 1" is not a valid key: use letters, digits, '-', '_' or '.' (like R-12)`,
				`f.csv:2,7: kind: must be threat or opportunity, not "risk"`,
				`f.csv:2,12: process: must be one of agree, change, recover, operate, improve (or empty), not "plan"`,
				`f.csv:2,17: likelihood: must be a whole number 1 to 5, not "high"`,
				`f.csv:2,22: impact: must be 1 to 5, not 6`,
				`f.csv:2,24: effort: must be 0 or more, not -1`,
				`f.csv:2,27: status: must be one of proposed, accepted, planned, in_progress, realized, rejected, not "done"`,
				`f.csv:3,15: likelihood: must be 1 to 5, not 0`,
				`f.csv:3,17: impact: must be a whole number 1 to 5, not "3.5"`,
				`f.csv:3,21: effort: must be a number of 0 or more, not "lots"`,
			}},
		},
		{
			name: "a key too long",
			in:   "key,title\n" + strings.Repeat("K", 65) + ",A\n" + strings.Repeat("K", 64) + ",B\n",
			want: read{
				Rows: []row{{Pos{3, 1}, def("B", func(r *model.Risk) { r.Key = strings.Repeat("K", 64) }), []string{"key", "title"}}},
				Errs: []string{`f.csv:2,1: key: "` + strings.Repeat("K", 65) + `" is not a valid key: use letters, digits, '-', '_' or '.' (like R-12)`},
			},
		},
		{
			name: "an empty title, at the title's column",
			in:   "kind,title\nthreat,\nthreat,  \n",
			want: read{Errs: []string{
				"f.csv:2,8: title: is required",
				"f.csv:3,10: title: is required",
			}},
		},
		{
			name: "multi-line quoted fields shift the lines of what follows",
			in: "title,description,likelihood\n" +
				"A,\"one\ntwo, still A\",9\n" +
				"\"B\nB2\",x,7\n" +
				"C,,9\n",
			want: read{Errs: []string{
				"f.csv:3,15: likelihood: must be 1 to 5, not 9",
				"f.csv:5,7: likelihood: must be 1 to 5, not 7",
				"f.csv:6,4: likelihood: must be 1 to 5, not 9",
			}},
		},
		{
			name: "description keeps inner lines and leading spaces, loses trailing space",
			in:   "title,description\nA,\"  indented\r\n  text  \n\"\n",
			want: read{Rows: []row{{Pos{2, 1}, def("A", func(r *model.Risk) { r.Description = "  indented\n  text" }), []string{"description", "title"}}}},
		},
		{
			name: "blank lines are skipped and still counted",
			in:   "title,likelihood\n\nA,9\n  \n\nB,1\n",
			want: read{
				Rows: []row{{Pos{6, 1}, def("B", func(r *model.Risk) { r.Likelihood = 1 }), []string{"likelihood", "title"}}},
				Errs: []string{"f.csv:3,3: likelihood: must be 1 to 5, not 9"},
			},
		},
		{
			name: "wrong field counts, and reading goes on",
			in:   "title,likelihood\nA\nB,1,2\nC,2\n",
			want: read{
				Rows: []row{{Pos{4, 1}, def("C", func(r *model.Risk) { r.Likelihood = 2 }), []string{"likelihood", "title"}}},
				Errs: []string{
					"f.csv:2,1: has 1 field(s), the header has 2",
					"f.csv:3,1: has 3 field(s), the header has 2",
				},
			},
		},
		{
			name: "quote errors, and reading goes on",
			in:   "title,likelihood\nx\"y,3\n\"a\"b,3\nz,4\n",
			want: read{
				Rows: []row{{Pos{4, 1}, def("z", func(r *model.Risk) { r.Likelihood = 4 }), []string{"likelihood", "title"}}},
				Errs: []string{
					`f.csv:2,2: bare " in non-quoted-field`,
					`f.csv:3,3: extraneous or missing " in quoted-field`,
				},
			},
		},
		{
			name: "an unterminated quote runs to the end of the file",
			in:   "title\nA\n\"B\nC\n",
			want: read{
				Rows: []row{{Pos{2, 1}, def("A"), []string{"title"}}},
				Errs: []string{`f.csv:4,3: extraneous or missing " in quoted-field`},
			},
		},
		{
			name: "CRLF line endings",
			in:   "title,description\r\nA,\"x\r\ny\"\r\nB,plain\r\n",
			want: read{Rows: []row{
				{Pos{2, 1}, def("A", func(r *model.Risk) { r.Description = "x\ny" }), []string{"description", "title"}},
				{Pos{4, 1}, def("B", func(r *model.Risk) { r.Description = "plain" }), []string{"description", "title"}},
			}},
		},
		{
			name: "no final newline",
			in:   "title,effort\nA,2",
			want: read{Rows: []row{{Pos{2, 1}, def("A", func(r *model.Risk) { r.Effort = 2 }), []string{"effort", "title"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRisks(t, "f.csv", tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestCSVColumnPositions checks where each column of a row starts, also
// after a quoted field that spans lines.
func TestCSVColumnPositions(t *testing.T) {
	in := "title,description,owner\nA,\"one\ntwo\",ann\n"
	rd, err := NewRiskReader("f.csv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	r, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Pos{"title": {2, 1}, "description": {2, 3}, "owner": {3, 6}}
	if diff := cmp.Diff(want, r.ColumnPos); diff != "" {
		t.Errorf("column positions (-want +got):\n%s", diff)
	}
	if got, want := r.Err("f.csv", "owner", "is odd").Error(), "f.csv:3,6: owner: is odd"; got != want {
		t.Errorf("Err on a column = %q, want %q", got, want)
	}
	if got, want := r.Err("f.csv", "", "is odd").Error(), "f.csv:2,1: is odd"; got != want {
		t.Errorf("Err on the row = %q, want %q", got, want)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("second Next = %v, want io.EOF", err)
	}
}

func TestJSONRows(t *testing.T) {
	all := []string{"description", "effort", "impact", "key", "kind", "likelihood", "owner", "process", "source", "status", "title"}
	tests := []struct {
		name, file, in string
		want           read
	}{
		{
			name: "defaults",
			in:   `[{"title": "A"}]`,
			want: read{Rows: []row{{Pos{1, 2}, def("A"), []string{"title"}}}},
		},
		{
			name: "empty array",
			in:   "[ ]\n",
		},
		{
			name: "every field, numbers as numbers or strings",
			in: "[\n" +
				`  {"key": "R-7", "title": "Fix intake", "description": "Two desks,\none form\n", "kind": "Opportunity",` + "\n" +
				`   "process": "CHANGE", "source": "sounding board", "likelihood": 5, "impact": "1", "effort": 2.5,` + "\n" +
				`   "owner": "Hanna", "status": "In Progress"}` + "\n]\n",
			want: read{Rows: []row{{Pos{2, 3}, model.Risk{Key: "R-7", Title: "Fix intake", Description: "Two desks,\none form",
				Kind: model.Opportunity, Process: model.Change, Source: "sounding board", Likelihood: 5, Impact: 1,
				Effort: 2.5, Owner: "Hanna", Status: model.InProgress}, all}}},
		},
		{
			name: "null and empty strings mean not given",
			in:   `[{"title": "A", "likelihood": null, "effort": "", "kind": null}]`,
			want: read{Rows: []row{{Pos{1, 2}, def("A"), []string{"title"}}}},
		},
		{
			name: "field names in any case",
			in:   `[{"Title": "A", "LIKELIHOOD": 4}, {"title": "B"}]`,
			want: read{Rows: []row{
				{Pos{1, 2}, def("A", func(r *model.Risk) { r.Likelihood = 4 }), []string{"likelihood", "title"}},
				{Pos{1, 35}, def("B"), []string{"title"}},
			}},
		},
		{
			name: "a number as title",
			in:   `[{"title": 12}]`,
			want: read{Rows: []row{{Pos{1, 2}, def("12"), []string{"title"}}}},
		},
		{
			name: "field errors at their field, across lines; reading goes on",
			in: "[\n" +
				`  {"title": "A", "likelihood": 9},` + "\n" +
				"  {\n" +
				`    "title": "",` + "\n" +
				`    "kind": "risk",` + "\n" +
				`    "effort": -2` + "\n" +
				"  },\n" +
				`  {"title": "C", "impact": "high", "owner": true},` + "\n" +
				`  {"title": "D", "likelihood": 3.0, "effort": "1e400"},` + "\n" +
				`  {"title": "E"}` + "\n" +
				"]\n",
			want: read{
				Rows: []row{{Pos{10, 3}, def("E"), []string{"title"}}},
				Errs: []string{
					"f.json:2,18: likelihood: must be 1 to 5, not 9",
					"f.json:4,5: title: is required",
					`f.json:5,5: kind: must be threat or opportunity, not "risk"`,
					"f.json:6,5: effort: must be 0 or more, not -2",
					`f.json:8,18: impact: must be a whole number 1 to 5, not "high"`,
					"f.json:8,36: owner: must be a string or number, not a boolean",
					`f.json:9,18: likelihood: must be a whole number 1 to 5, not "3.0"`,
					`f.json:9,37: effort: must be a number of 0 or more, not "1e400"`,
				},
			},
		},
		{
			name: "a missing title is reported at the object",
			in:   "[\n  {\"kind\": \"threat\"}\n]",
			want: read{Errs: []string{"f.json:2,3: title: is required"}},
		},
		{
			name: "unknown field",
			in:   `[{"title": "A", "prio": 1}]`,
			want: read{Errs: []string{"f.json:1,17: prio: unknown field; the fields are " + columnsList}},
		},
		{
			name: "any name: content starting with [ is JSON",
			file: "inventory.txt",
			in:   `[{"title": "A"}]`,
			want: read{Rows: []row{{Pos{1, 2}, def("A"), []string{"title"}}}},
		},
		{
			name: ".JSON in upper case",
			file: "INVENTORY.JSON",
			in:   `[{"title": "A"}]`,
			want: read{Rows: []row{{Pos{1, 2}, def("A"), []string{"title"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "f.json"
			}
			got, err := readRisks(t, file, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestJSONErrors checks the error of inputs that are not a JSON array of
// objects, from NewRiskReader or the first Next that fails. Syntax errors
// inside the array are in TestKnownBugJSONSyntaxPositions.
func TestJSONErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
	}{
		{"an object, not an array", `{"title": "A"}`, "f.json:1,1: a JSON inventory must be an array of objects"},
		{"a string", `"A"`, "f.json:1,1: a JSON inventory must be an array of objects"},
		{"a number", `42`, "f.json:1,1: a JSON inventory must be an array of objects"},
		{"a missing comma between elements", "[\n {\"title\": \"A\"}\n {\"title\": \"B\"}\n]", "f.json:3,2: invalid character '{' after array element"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, firstJSONError(t, tt.in)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// firstJSONError returns the text of the first error reading in as f.json.
func firstJSONError(t *testing.T, in string) string {
	t.Helper()
	rd, err := NewRiskReader("f.json", strings.NewReader(in))
	for range len(in) + 2 {
		if err != nil {
			break
		}
		_, err = rd.Next()
	}
	if err == nil || err == io.EOF {
		return "(no error)"
	}
	return err.Error()
}

// TestInventory500 reads a 500-row inventory as a spreadsheet exported it:
// BOM, CRLF, columns in an odd order and case, quoted commas, quotes and
// line breaks, empty cells and non-ASCII text. Every row must parse; the
// result is compared with a golden file (go test -update rewrites it).
func TestInventory500(t *testing.T) {
	const in, golden = "testdata/inventory500.csv", "testdata/inventory500.golden.json"
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "\ufeff") || !strings.Contains(string(data), "\r\n") {
		t.Fatalf("%s lost its BOM or CRLF line endings (a git setting?)", in)
	}
	got, err := readRisks(t, in, string(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Errs) > 0 {
		t.Fatalf("%d bad rows:\n%s", len(got.Errs), strings.Join(got.Errs, "\n"))
	}
	if len(got.Rows) != 500 {
		t.Fatalf("%d rows, want 500", len(got.Rows))
	}
	titles := map[string]bool{}
	multiline := 0
	for i, r := range got.Rows {
		if i > 0 && r.Pos.Line <= got.Rows[i-1].Pos.Line {
			t.Errorf("row %d starts on line %d, not after row %d's line %d", i+1, r.Pos.Line, i, got.Rows[i-1].Pos.Line)
		}
		if strings.ContainsRune(r.Risk.Title+r.Risk.Description, '\r') {
			t.Errorf("line %d: a carriage return survived: %q", r.Pos.Line, r.Risk.Description)
		}
		if strings.Contains(r.Risk.Description, "\n") {
			multiline++
		}
		titles[r.Risk.Title] = true
	}
	if len(titles) != 500 || multiline == 0 {
		t.Errorf("%d distinct titles (want 500), %d multi-line descriptions (want some)", len(titles), multiline)
	}
	type goldenRow struct {
		Line  int        `json:"line"`
		Given []string   `json:"given"`
		Risk  goldenRisk `json:"risk"`
	}
	rows := make([]goldenRow, len(got.Rows))
	for i, r := range got.Rows {
		rows[i] = goldenRow{r.Pos.Line, r.Given, goldenRisk{r.Risk.Key, r.Risk.Title, r.Risk.Description, r.Risk.Kind,
			r.Risk.Process, r.Risk.Source, r.Risk.Likelihood, r.Risk.Impact, r.Risk.Effort, r.Risk.Owner, r.Risk.Status}}
	}
	// One row per line: a diff names the rows that changed.
	out := []byte("[\n")
	for i, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
		if i < len(rows)-1 {
			out = append(out, ',')
		}
		out = append(out, '\n')
	}
	out = append(out, "]\n"...)
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(out)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", filepath.Base(golden), diff)
	}
}

// goldenRisk is what an inventory row sets of a risk.
type goldenRisk struct {
	Key         string        `json:"key"`
	Title       string        `json:"title"`
	Description string        `json:"description"`
	Kind        model.Kind    `json:"kind"`
	Process     model.Process `json:"process"`
	Source      string        `json:"source"`
	Likelihood  int           `json:"likelihood"`
	Impact      int           `json:"impact"`
	Effort      float64       `json:"effort"`
	Owner       string        `json:"owner"`
	Status      model.Status  `json:"status"`
}

func TestValidKey(t *testing.T) {
	tests := map[string]bool{
		"R-12": true, "INV_001": true, "a.b": true, "x": true, strings.Repeat("k", 64): true,
		"": false, "R 12": false, "R/12": false, "é": false, strings.Repeat("k", 65): false, " R-1": false,
	}
	for key, want := range tests {
		if got := ValidKey(key); got != want {
			t.Errorf("ValidKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestErrorsText(t *testing.T) {
	es := Errors{
		{File: "f.csv", Pos: Pos{2, 5}, Column: "impact", Msg: "must be 1 to 5, not 9"},
		{File: "f.csv", Pos: Pos{3, 1}, Msg: "has 1 field(s), the header has 2"},
	}
	want := "f.csv:2,5: impact: must be 1 to 5, not 9\nf.csv:3,1: has 1 field(s), the header has 2"
	if diff := cmp.Diff(want, es.Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
