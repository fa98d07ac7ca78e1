package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportFormats renders one register report three ways: the Markdown
// and HTML forms show the JSON form's numbers, -o writes the HTML file, and
// a bad -format is a usage error that writes nothing.
func TestReportFormats(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("risks.csv", "key,title,kind,likelihood,impact,status\nR-1,Printers <b>jam</b>,threat,4,5,accepted\nR-2,Portal,opportunity,2,3,proposed\nR-3,Old,threat,1,1,rejected\n")
	h.OK("risk", "import", "risks.csv")
	var rep struct {
		Key      string `json:"key"`
		Register struct {
			Open    int `json:"open"`
			Heatmap struct {
				Threats       [5][5]int `json:"threats"`
				Opportunities [5][5]int `json:"opportunities"`
			} `json:"heatmap"`
		} `json:"register"`
	}
	out := h.OK("report", "register", "-format", "json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Register.Open != 2 || rep.Register.Heatmap.Threats[3][4] != 1 || rep.Register.Heatmap.Opportunities[1][2] != 1 {
		t.Fatalf("JSON register: %+v", rep.Register)
	}
	md := h.OK("report", "register")
	if !strings.Contains(md, "| 4 | · | · | · | · | 1 / 0 |") || !strings.Contains(md, "2 open") {
		t.Errorf("Markdown lacks the heatmap's numbers:\n%s", md)
	}
	_, errs, code := h.Run("report", "register", "-format", "html", "-o", "reg.html")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(filepath.Join(h.Dir, "reg.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{"<!DOCTYPE html>", rep.Key, "Printers &lt;b&gt;jam&lt;/b&gt;", "Open threats (1)", "Open opportunities (1)", "<svg "} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if strings.Contains(html, "<b>jam") {
		t.Errorf("a risk title's markup reached the HTML unescaped")
	}
	if _, errs, code := h.Run("report", "register", "-format", "pdf", "-o", "x.pdf"); code != 2 || !strings.Contains(errs, "use markdown, json or html") {
		t.Errorf("bad format: exit %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "x.pdf")); err == nil {
		t.Errorf("a refused report wrote its file")
	}
}
