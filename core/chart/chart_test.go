package chart

import (
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"
	"testing"
)

// wellFormed parses an SVG as XML and returns the text of its elements by
// name (title, desc, text).
func wellFormed(t *testing.T, svg template.HTML) map[string][]string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	d.Strict = true
	texts := map[string][]string{}
	var stack []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && (x.Name.Local != "svg" || x.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("root element %v, want svg in the SVG namespace", x.Name)
			}
			stack = append(stack, x.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				n := stack[len(stack)-1]
				texts[n] = append(texts[n], string(x))
			}
		}
	}
	for _, need := range []string{"title", "desc"} {
		if len(texts[need]) == 0 {
			t.Errorf("SVG has no %s (its text equivalent)", need)
		}
	}
	if !strings.Contains(string(svg), `role="img"`) || !strings.Contains(string(svg), `viewBox="0 0 `) {
		t.Errorf("SVG lacks role=img or a viewBox: %.200s", svg)
	}
	return texts
}

const hostile = `<script>alert("x")</script> & ]]>`

func TestHeatmapCounts(t *testing.T) {
	var h Heatmap
	h.ID, h.Title = "h", hostile
	want := 0
	for l := range Scale {
		for i := range Scale {
			h.Cells[l][i] = (l*7 + i*3) % 4
			want += h.Cells[l][i]
		}
	}
	if h.Total() != want {
		t.Fatalf("Total = %d, want %d", h.Total(), want)
	}
	texts := wellFormed(t, h.SVG())
	// Every non-empty cell is labelled with its count; the labels sum to the total.
	sum := 0
	for _, s := range texts["text"] {
		var n int
		if _, err := fmt.Sscan(s, &n); err == nil && len(s) <= 2 {
			sum += n
		}
	}
	// Axis labels 1..5 twice (likelihood and impact) are also small numbers.
	if got := sum - 2*(1+2+3+4+5); got != want {
		t.Errorf("cell labels sum to %d, want %d", got, want)
	}
	if !strings.Contains(texts["title"][0], hostile) {
		t.Errorf("title %q does not carry the caller's text", texts["title"][0])
	}
}

func TestChartsEscapeAndDescribe(t *testing.T) {
	two, four := 2.0, 4.0
	charts := map[string]template.HTML{
		"burnup": BurnUp{ID: "b", Title: hostile, Dates: []string{"2026-12-01", "2026-12-02", "2026-12-03"},
			Planned: []float64{5, 5, 5}, Realized: []*float64{&two, &four, nil}}.SVG(),
		"burnup-empty": BurnUp{ID: "b0", Title: "none"}.SVG(),
		"bars": Bars{ID: "s", Title: "Scores", Labels: []string{hostile, "change"}, Names: [2]string{"baseline", "latest"},
			Values: [2][]*float64{{&two, nil}, {&four, &two}}}.SVG(),
		"stacked": Stacked{ID: "t", Title: "Trend", Labels: []string{"2026-W40", "2026-W41"},
			Series: []Series{{Name: hostile, Values: []int{3, 4}}, {Name: "realized", Values: []int{0, 1}}}}.SVG(),
		"strip": Strip{ID: "r", Title: "Readiness", Checks: []Check{{Label: hostile, State: "pass"}, {Label: "b", State: "warn"}, {Label: "c", State: "fail"}}}.SVG(),
	}
	for name, svg := range charts {
		t.Run(name, func(t *testing.T) {
			texts := wellFormed(t, svg)
			if strings.Contains(string(svg), "<script") {
				t.Errorf("markup from the caller's text reached the SVG")
			}
			if name == "burnup" && !strings.Contains(texts["desc"][0], "4 of 5 realised on 2026-12-02") {
				t.Errorf("burn-up desc %q does not end at the last realised value", texts["desc"][0])
			}
			if name == "bars" && !strings.Contains(texts["desc"][0], "latest 4") {
				t.Errorf("bars desc %q lacks a value", texts["desc"][0])
			}
			if name == "strip" && !strings.Contains(texts["desc"][0], "1 of 3 pass") {
				t.Errorf("strip desc %q", texts["desc"][0])
			}
		})
	}
}

func TestNiceMax(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.3: 0.5, 3: 5, 7: 10, 10: 10, 11: 20, 240: 250} {
		if got := niceMax(in); got != want {
			t.Errorf("niceMax(%v) = %v, want %v", in, got, want)
		}
	}
}
