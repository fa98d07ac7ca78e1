package ingest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
)

func TestReadScanScores(t *testing.T) {
	unknown := "unknown column; the columns are dimension, score, respondents, note"
	tests := []struct {
		name, in string
		want     []model.ScanScore
		wantErr  []string // the error's lines
	}{
		{
			name: "the two required columns",
			in:   "dimension,score\nagree,2.1\nchange,1.8\n",
			want: []model.ScanScore{{Dimension: "agree", Score: 2.1}, {Dimension: "change", Score: 1.8}},
		},
		{
			name: "columns in any order, case and spacing",
			in:   "Note, SCORE ,dimension,Respondents\n\"SLAs exist, for IT only\",2.1,agree,14\n,1.8, change,\n",
			want: []model.ScanScore{
				{Dimension: "agree", Score: 2.1, Respondents: 14, Note: "SLAs exist, for IT only"},
				{Dimension: "change", Score: 1.8},
			},
		},
		{
			name: "BOM, CRLF, blank lines and no final newline",
			in:   "\ufeffdimension,score\r\n\r\nagree,-0.5\r\n   \r\nrecover,3e0",
			want: []model.ScanScore{{Dimension: "agree", Score: -0.5}, {Dimension: "recover", Score: 3}},
		},
		{
			name: "a multi-line note",
			in:   "dimension,score,note\nagree,2,\"one\ntwo\"\nchange,x,\n",
			wantErr: []string{
				`f.csv:4,8: score: must be a number, not "x"`,
			},
		},
		{
			name: "a dimension scored twice",
			in:   "dimension,score\nagree,2\nchange,3\nagree,4\n",
			wantErr: []string{
				`f.csv:4,1: dimension: "agree" is already scored on line 2`,
			},
		},
		{
			name: "bad numbers, every row reported",
			in:   "dimension,score,respondents\nagree,high,14\nchange,2,-1\nrecover,3,2.5\noperate,,\n",
			wantErr: []string{
				`f.csv:2,7: score: must be a number, not "high"`,
				`f.csv:3,10: respondents: must be a whole number of 0 or more, not "-1"`,
				`f.csv:4,11: respondents: must be a whole number of 0 or more, not "2.5"`,
				`f.csv:5,9: score: must be a number, not ""`,
			},
		},
		{
			name:    "an empty dimension",
			in:      "score,dimension\n2,\n",
			wantErr: []string{"f.csv:2,3: dimension: is required"},
		},
		{
			name: "wrong field counts",
			in:   "dimension,score\nagree\nchange,2,x\nrecover,1\n",
			wantErr: []string{
				"f.csv:2,1: has 1 field(s), the header has 2",
				"f.csv:3,1: has 3 field(s), the header has 2",
			},
		},
		{
			name:    "a quote error stops the reading",
			in:      "dimension,score\nag\"ree,2\nchange,x\n",
			wantErr: []string{`f.csv:2,3: bare " in non-quoted-field`},
		},
		{
			name: "unknown and duplicate columns",
			in:   "dimension,score,weight,Score\nagree,1,2,3\n",
			wantErr: []string{
				"f.csv:1,17: weight: " + unknown,
				"f.csv:1,24: score: column appears twice",
			},
		},
		{
			name:    "no score column",
			in:      "dimension\nagree\n",
			wantErr: []string{"f.csv:1,1: the header has no score column, which is required"},
		},
		{
			name: "neither required column",
			in:   "note\nx\n",
			wantErr: []string{
				"f.csv:1,1: the header has no dimension column, which is required",
				"f.csv:1,1: the header has no score column, which is required",
			},
		},
		{
			name:    "empty file",
			in:      "",
			wantErr: []string{"f.csv: empty file: the first line must be the header dimension,score"},
		},
		{
			name:    "only a header",
			in:      "dimension,score\n\n",
			wantErr: []string{"f.csv: no scores: add one row per dimension below the header"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadScanScores("f.csv", strings.NewReader(tt.in))
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("no error; scores %v", got)
				}
				if diff := cmp.Diff(tt.wantErr, strings.Split(err.Error(), "\n")); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				if got != nil {
					t.Errorf("scores %v with the error, want none", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}

// A scan's scores come from an Excel workbook too, through the inventories'
// sheet reader: the "scans" sheet (not the first), numbers kept, a formula
// never evaluated, bad cells named by row and column.
func TestReadScanScoresXLSX(t *testing.T) {
	good := workbook(t, map[string][][]any{
		"notes": {{"anything"}},
		"scans": {{"Dimension", "Score", "Respondents", "Note"}, {"agree", 2.5, 12, "fine"}, {}, {"change", -1, nil, nil}},
	})
	got, err := ReadScanScores("s.xlsx", bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []model.ScanScore{{Dimension: "agree", Score: 2.5, Respondents: 12, Note: "fine"}, {Dimension: "change", Score: -1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	bad := workbook(t, map[string][][]any{
		"scans": {{"dimension", "score"}, {"agree", "=1+1"}, {"agree", "high"}},
	})
	_, err = ReadScanScores("bad.bin", bytes.NewReader(bad)) // told by its first bytes, not its name
	wantErr := []string{
		`bad.bin:2,2: score: must be a number, not ""`,
		`bad.bin:3,1: dimension: "agree" is already scored on line 2`,
		`bad.bin:3,2: score: must be a number, not "high"`,
	}
	if err == nil {
		t.Fatal("no error")
	}
	if diff := cmp.Diff(wantErr, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	noScore := workbook(t, map[string][][]any{"scans": {{"dimension", "weight"}, {"agree", 1}}})
	if _, err := ReadScanScores("n.xlsx", bytes.NewReader(noScore)); err == nil || !strings.Contains(err.Error(), "unknown column") {
		t.Errorf("unknown column: %v", err)
	}
	noScore = workbook(t, map[string][][]any{"scans": {{"dimension", "note"}, {"agree", "x"}}})
	if _, err := ReadScanScores("n.xlsx", bytes.NewReader(noScore)); err == nil || !strings.Contains(err.Error(), `n.xlsx:1,1: the header of sheet "scans" has no score column, which is required`) {
		t.Errorf("no score column: %v", err)
	}
}
