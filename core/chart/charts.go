package chart

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
)

// Scale is the number of levels of likelihood and of impact (1 to 5).
const Scale = 5

// Heatmap is a likelihood × impact grid of risk counts: Cells[l-1][i-1]
// counts the risks of likelihood l and impact i.
type Heatmap struct {
	ID    string // unique on the page
	Title string // e.g. "Open threats"
	Cells [Scale][Scale]int
}

// Total is the sum of the cells.
func (h Heatmap) Total() int {
	n := 0
	for _, row := range h.Cells {
		for _, c := range row {
			n += c
		}
	}
	return n
}

// SVG draws the grid: impact left to right, likelihood bottom to top, each
// cell shaded by its count and labelled with it.
func (h Heatmap) SVG() template.HTML {
	const cell, left, top = 44.0, 40.0, 28.0
	w, ht := int(left+Scale*cell+10), int(top+Scale*cell+40)
	most := 0
	var parts []string
	for l := Scale; l >= 1; l-- {
		for i := 1; i <= Scale; i++ {
			c := h.Cells[l-1][i-1]
			most = max(most, c)
			if c > 0 {
				parts = append(parts, fmt.Sprintf("likelihood %d impact %d: %d", l, i, c))
			}
		}
	}
	desc := fmt.Sprintf("%s: %d in total", h.Title, h.Total())
	if len(parts) > 0 {
		desc += "; " + strings.Join(parts, ", ")
	}
	s := open(h.ID, w, ht, h.Title+" by likelihood and impact", desc)
	s.text(left, 16, "start", colInk, ` font-weight="600"`, fmt.Sprintf("%s (%d)", h.Title, h.Total()))
	for l := 1; l <= Scale; l++ {
		y := top + float64(Scale-l)*cell
		s.text(left-8, y+cell/2+4, "end", colMuted, "", strconv.Itoa(l))
		for i := 1; i <= Scale; i++ {
			x := left + float64(i-1)*cell
			c := h.Cells[l-1][i-1]
			fill, ink := "#f6f8fa", colMuted
			if c > 0 {
				// Five shades of orange-red, by the count's share of the largest.
				shades := []string{"#fff1e5", "#ffd8b5", "#fb8f44", "#bc4c00", "#762c00"}
				k := (c*len(shades) - 1) / most
				fill, ink = shades[k], colInk
				if k >= 3 {
					ink = "#ffffff"
				}
			}
			s.rect(x+1, y+1, cell-2, cell-2, fill, ` rx="3"`)
			if c > 0 {
				s.text(x+cell/2, y+cell/2+4, "middle", ink, ` font-weight="600"`, strconv.Itoa(c))
			}
		}
	}
	for i := 1; i <= Scale; i++ {
		s.text(left+float64(i-1)*cell+cell/2, top+Scale*cell+14, "middle", colMuted, "", strconv.Itoa(i))
	}
	s.text(left+Scale*cell/2, top+Scale*cell+32, "middle", colInk, "", "impact →")
	s.text(12, top+Scale*cell/2, "middle", colInk, fmt.Sprintf(` transform="rotate(-90 12 %s)"`, num(top+Scale*cell/2)), "likelihood →")
	return s.close()
}

// BurnUp is a sprint's planned effort against its realised effort per day.
// Realized[d] is nil for a day still to come.
type BurnUp struct {
	ID       string
	Title    string
	Dates    []string // YYYY-MM-DD, one per day of the sprint
	Planned  []float64
	Realized []*float64
}

// SVG draws planned effort as a dashed line and realised effort as a solid
// one, over the sprint's days.
func (b BurnUp) SVG() template.HTML {
	const w, h, left, right, top, bottom = 460.0, 240.0, 44.0, 12.0, 28.0, 44.0
	top2 := 0.0
	for i := range b.Dates {
		top2 = max(top2, b.Planned[i])
		if b.Realized[i] != nil {
			top2 = max(top2, *b.Realized[i])
		}
	}
	ymax := niceMax(top2)
	n := len(b.Dates)
	desc := "no days"
	if n > 0 {
		last := "nothing realised yet"
		for i := n - 1; i >= 0; i-- {
			if b.Realized[i] != nil {
				last = fmt.Sprintf("%s of %s realised on %s", num(*b.Realized[i]), num(b.Planned[i]), b.Dates[i])
				break
			}
		}
		desc = fmt.Sprintf("%d days from %s to %s; planned effort %s; %s", n, b.Dates[0], b.Dates[n-1], num(b.Planned[n-1]), last)
	}
	s := open(b.ID, int(w), int(h), b.Title, desc)
	s.text(left, 16, "start", colInk, ` font-weight="600"`, b.Title)
	pw, ph := w-left-right, h-top-bottom
	x := func(i int) float64 {
		if n <= 1 {
			return left + pw/2
		}
		return left + pw*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return top + ph - ph*v/ymax }
	for k := 0; k <= 4; k++ {
		v := ymax * float64(k) / 4
		s.line(left, y(v), w-right, y(v), colGrid, "")
		s.text(left-6, y(v)+4, "end", colMuted, "", num(v))
	}
	if n > 0 {
		s.text(left, h-bottom+16, "start", colMuted, "", b.Dates[0])
		s.text(w-right, h-bottom+16, "end", colMuted, "", b.Dates[n-1])
	}
	var pl, rl []string
	for i := range b.Dates {
		pl = append(pl, num(x(i))+","+num(y(b.Planned[i])))
		if b.Realized[i] != nil {
			rl = append(rl, num(x(i))+","+num(y(*b.Realized[i])))
		}
	}
	if len(pl) > 0 {
		fmt.Fprintf(&s.b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2" stroke-dasharray="6 4"/>`, strings.Join(pl, " "), colPlanned)
	}
	if len(rl) > 0 {
		fmt.Fprintf(&s.b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="3"/>`, strings.Join(rl, " "), colRealized)
	}
	s.legend(left, h-8, []string{"planned effort", "realised effort"}, []string{colPlanned, colRealized})
	return s.close()
}

// Bars compares two values per label as grouped horizontal bars, e.g. a
// baseline scan's score and the latest scan's per dimension. A nil value
// has no bar (the dimension is missing from that scan).
type Bars struct {
	ID     string
	Title  string
	Labels []string
	// Names name the two series (e.g. "baseline 2026-09-10").
	Names [2]string
	// Values[0] and Values[1] hold one value per label.
	Values [2][]*float64
	// Max is the axis' end; 0 picks one from the values.
	Max float64
}

// SVG draws the bars with their values written after them.
func (c Bars) SVG() template.HTML {
	const w, left, right, top, row, bar = 460.0, 120.0, 44.0, 28.0, 34.0, 12.0
	n := len(c.Labels)
	h := top + row*float64(n) + 30
	m := c.Max
	var parts []string
	for i, l := range c.Labels {
		p := []string{l + ":"}
		for k := range 2 {
			if v := c.Values[k][i]; v != nil {
				m = max(m, *v)
				p = append(p, c.Names[k]+" "+num(*v))
			} else {
				p = append(p, c.Names[k]+" none")
			}
		}
		parts = append(parts, strings.Join(p, " "))
	}
	if c.Max == 0 {
		m = niceMax(m)
	}
	s := open(c.ID, int(w), int(h), c.Title, strings.Join(parts, "; "))
	s.text(8, 16, "start", colInk, ` font-weight="600"`, c.Title)
	pw := w - left - right
	colours := [2]string{colBaseline, colLatest}
	for i, l := range c.Labels {
		y := top + row*float64(i)
		lab := l
		if r := []rune(lab); len(r) > 18 {
			lab = string(r[:17]) + "…"
		}
		s.text(left-6, y+bar+4, "end", colInk, "", lab)
		for k := range 2 {
			v := c.Values[k][i]
			if v == nil {
				continue
			}
			bw := max(pw*max(*v, 0)/m, 1)
			s.rect(left, y+float64(k)*(bar+1)+2, bw, bar, colours[k], "")
			s.text(left+bw+4, y+float64(k)*(bar+1)+bar, "start", colInk, ` font-size="11"`, num(*v))
		}
	}
	s.line(left, top, left, top+row*float64(n), colInk, "")
	s.legend(left, h-8, c.Names[:], colours[:])
	return s.close()
}

// Series is one named series of a stacked chart.
type Series struct {
	Name   string
	Colour string // empty: the chart picks one
	Values []int  // one per label
}

// Stacked draws counts per label (e.g. per ISO week) as stacked columns.
type Stacked struct {
	ID     string
	Title  string
	Labels []string
	Series []Series
}

// SVG draws the columns, the total above each.
func (c Stacked) SVG() template.HTML {
	const w, h, left, right, top, bottom = 460.0, 240.0, 36.0, 8.0, 28.0, 50.0
	n := len(c.Labels)
	totals := make([]int, n)
	for _, se := range c.Series {
		for i := range n {
			totals[i] += se.Values[i]
		}
	}
	most := 0
	for _, t := range totals {
		most = max(most, t)
	}
	ymax := niceMax(float64(most))
	var parts []string
	for i, l := range c.Labels {
		p := []string{}
		for _, se := range c.Series {
			p = append(p, fmt.Sprintf("%d %s", se.Values[i], se.Name))
		}
		parts = append(parts, l+": "+strings.Join(p, ", "))
	}
	s := open(c.ID, int(w), int(h), c.Title, strings.Join(parts, "; "))
	s.text(8, 16, "start", colInk, ` font-weight="600"`, c.Title)
	pw, ph := w-left-right, h-top-bottom
	y := func(v float64) float64 { return top + ph - ph*v/ymax }
	for k := 0; k <= 4; k++ {
		v := ymax * float64(k) / 4
		s.line(left, y(v), w-right, y(v), colGrid, "")
		s.text(left-6, y(v)+4, "end", colMuted, "", num(v))
	}
	defaults := []string{colOpen, colRealized, colRejected, colBaseline}
	slot := pw / float64(max(n, 1))
	bw := slot * 0.7
	for i, l := range c.Labels {
		x := left + slot*float64(i) + (slot-bw)/2
		acc := 0
		for k, se := range c.Series {
			v := se.Values[i]
			if v == 0 {
				continue
			}
			col := se.Colour
			if col == "" {
				col = defaults[k%len(defaults)]
			}
			s.rect(x, y(float64(acc+v)), bw, y(float64(acc))-y(float64(acc+v)), col, "")
			acc += v
		}
		// Every other label when they would crowd.
		if n <= 8 || i%2 == 0 || i == n-1 {
			lab := l
			if len(lab) == 8 && lab[4] == '-' { // 2026-W41 → W41
				lab = lab[5:]
			}
			s.text(x+bw/2, h-bottom+14, "middle", colMuted, ` font-size="11"`, lab)
		}
	}
	names, cols := make([]string, len(c.Series)), make([]string, len(c.Series))
	for k, se := range c.Series {
		names[k], cols[k] = se.Name, se.Colour
		if cols[k] == "" {
			cols[k] = defaults[k%len(defaults)]
		}
	}
	s.legend(left, h-8, names, cols)
	return s.close()
}

// Check is one item of a readiness strip.
type Check struct {
	Label string
	State string // pass, warn or fail
}

// Strip draws a row of squares, one per check, coloured and marked by its
// state: the readiness of the ten preconditions at a glance.
type Strip struct {
	ID     string
	Title  string
	Checks []Check
}

// SVG draws the strip.
func (c Strip) SVG() template.HTML {
	const box, gap, top = 36.0, 6.0, 26.0
	n := len(c.Checks)
	w := max(int(float64(n)*(box+gap)+8), 200)
	var parts []string
	var pass int
	for _, ch := range c.Checks {
		parts = append(parts, ch.Label+": "+ch.State)
		if ch.State == "pass" {
			pass++
		}
	}
	s := open(c.ID, w, int(top+box+8), c.Title, fmt.Sprintf("%d of %d pass; %s", pass, n, strings.Join(parts, "; ")))
	s.text(4, 16, "start", colInk, ` font-weight="600"`, fmt.Sprintf("%s: %d of %d pass", c.Title, pass, n))
	for i, ch := range c.Checks {
		x := 4 + float64(i)*(box+gap)
		fill, mark := colRejected, "✗"
		switch ch.State {
		case "pass":
			fill, mark = colRealized, "✓"
		case "warn":
			fill, mark = "#9a6700", "!"
		}
		fmt.Fprintf(&s.b, `<g><title>%s</title>`, esc(ch.Label+": "+ch.State))
		s.rect(x, top, box, box, fill, ` rx="4"`)
		s.text(x+box/2, top+box/2-2, "middle", "#ffffff", ` font-weight="700" font-size="13"`, mark)
		s.text(x+box/2, top+box-5, "middle", "#ffffff", ` font-size="10"`, strconv.Itoa(i+1))
		s.b.WriteString(`</g>`)
	}
	return s.close()
}
