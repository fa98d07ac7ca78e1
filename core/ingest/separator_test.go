package ingest

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

// TestSemicolonSeparatedInventory: a CSV saved by Dutch or German Excel
// (';' between cells, ',' inside them) reads as the same inventory, and an
// unknown column says which separator was found.
func TestSemicolonSeparatedInventory(t *testing.T) {
	rd, err := NewRiskReader("risks.csv", strings.NewReader("\ufeffkey;title;effort\r\nR-1;Slow, manual resets;2\r\nR-2;\"Quoted; with a semicolon\";1\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for {
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		titles = append(titles, row.Risk.Key+"="+row.Risk.Title)
	}
	if got := strings.Join(titles, "|"); got != "R-1=Slow, manual resets|R-2=Quoted; with a semicolon" {
		t.Errorf("rows = %q", got)
	}

	_, err = NewRiskReader("risks.csv", strings.NewReader("title;urgency\nA;1\n"))
	if err == nil || !strings.Contains(err.Error(), "risks.csv:1,7: urgency: unknown column") ||
		!strings.Contains(err.Error(), "read with ';' as the separator") {
		t.Errorf("unknown column of a ';' file: %v", err)
	}

	scores, err := ReadScanScores("scan.csv", strings.NewReader("dimension;score;note\nService desk;3;\"good, mostly\"\n"))
	if err != nil || len(scores) != 1 || scores[0].Dimension != "Service desk" || scores[0].Score != 3 {
		t.Errorf("scan with ';': %+v, %v", scores, err)
	}
	// A comma file stays a comma file, even with ';' inside its cells.
	if sep := detectSeparator(bufioOf("title,note\n\"a;b;c\",x\n")); sep != ',' {
		t.Errorf("separator of a comma header = %q", sep)
	}
}

func bufioOf(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
