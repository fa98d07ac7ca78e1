// Package chart draws the hub's charts as inline SVG: a risk heatmap
// (likelihood × impact), a sprint burn-up, grouped bars of scan scores, a
// stacked weekly trend and a readiness strip. It is pure computation over
// numbers and labels the caller gives; it reads nothing and needs no
// JavaScript, fonts or outside service to show.
//
// Every chart is one <svg> element with a viewBox (it scales to its
// container; CSS caps it at its natural width), role="img", and a <title>
// and <desc> that say in words what it shows, for screen readers and
// printouts. Every text the caller gives is escaped, so a risk title or a
// dimension name cannot add markup. The result is a template.HTML to drop
// into an html/template page as is.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Colours used by the charts, chosen to keep at least 4.5:1 contrast for
// text drawn on them (dark text on light fills, white text on dark ones).
const (
	colInk      = "#1f2328"
	colGrid     = "#d0d7de"
	colMuted    = "#57606a"
	colPlanned  = "#57606a"
	colRealized = "#1a7f37"
	colBaseline = "#8c959f"
	colLatest   = "#0969da"
	colOpen     = "#0969da"
	colRejected = "#cf222e"
)

// esc escapes text for an SVG text node or attribute value.
func esc(s string) string { return template.HTMLEscapeString(s) }

// num formats a number with at most two decimals and no "-0".
func num(f float64) string {
	f = math.Round(f*100) / 100
	if f == 0 {
		f = 0
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// svg is a chart being written.
type svg struct {
	b    strings.Builder
	w, h int
}

// open starts an SVG of the given natural size with its accessible name
// (title) and description. id prefixes the ids of the title and desc, and
// must be unique on the page.
func open(id string, w, h int, title, desc string) *svg {
	s := &svg{w: w, h: h}
	id = esc(id)
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="%s-t %s-d" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12">`,
		w, h, w, h, id, id)
	fmt.Fprintf(&s.b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(desc))
	return s
}

func (s *svg) text(x, y float64, anchor, fill, extra, text string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="%s" fill="%s"%s>%s</text>`, num(x), num(y), anchor, fill, extra, esc(text))
}

func (s *svg) rect(x, y, w, h float64, fill, extra string) {
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"%s/>`, num(x), num(y), num(w), num(h), fill, extra)
}

func (s *svg) line(x1, y1, x2, y2 float64, stroke, extra string) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"%s/>`, num(x1), num(y1), num(x2), num(y2), stroke, extra)
}

func (s *svg) close() template.HTML {
	s.b.WriteString(`</svg>`)
	return template.HTML(s.b.String()) //nolint:gosec // every caller text went through esc
}

// niceMax rounds a chart's largest value up to a round number for its axis.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// legend draws coloured squares with names in a row from x, y.
func (s *svg) legend(x, y float64, names, colours []string) {
	for i, n := range names {
		s.rect(x, y-9, 10, 10, colours[i], "")
		s.text(x+14, y, "start", colInk, "", n)
		x += 14 + float64(7*len([]rune(n))) + 16
	}
}
