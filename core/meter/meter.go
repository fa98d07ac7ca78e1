// Package meter shows the progress of long work — a sync's pages, an
// import's rows — on one terminal line rewritten in place: what is done,
// how many records, the rate and, when the share done is known, the time
// left. The CLI makes a Meter only when stderr is a terminal; a nil *Meter
// does nothing, so callers need not check.
package meter

import (
	"fmt"
	"io"
	"time"
)

// Every is how often a Meter redraws at most.
const Every = 200 * time.Millisecond

// Meter draws progress on w.
type Meter struct {
	w     io.Writer
	what  string
	now   func() time.Time
	start time.Time
	last  time.Time
	drawn bool
}

// New returns a Meter drawing on w (a terminal) for work named what.
func New(w io.Writer, what string) *Meter {
	return NewAt(w, what, time.Now)
}

// NewAt is New with a clock, for tests.
func NewAt(w io.Writer, what string, now func() time.Time) *Meter {
	t := now()
	return &Meter{w: w, what: what, now: now, start: t}
}

// Update reports done records, and the share of the work done in (0, 1]
// when it is known (0 when not: no time left is shown). It redraws at most
// every Every; a nil Meter ignores it.
func (m *Meter) Update(phase string, done int, fraction float64) {
	if m == nil {
		return
	}
	t := m.now()
	if m.drawn && t.Sub(m.last) < Every {
		return
	}
	m.last, m.drawn = t, true
	fmt.Fprintf(m.w, "\r\033[K%s", Line(m.what, phase, done, t.Sub(m.start), fraction))
}

// Finish clears the line, so the command's own output starts clean.
func (m *Meter) Finish() {
	if m == nil || !m.drawn {
		return
	}
	fmt.Fprint(m.w, "\r\033[K")
}

// Line is the text of one progress line: "risks: pull 1 200 records, 410/s,
// 0:07 left". elapsed is the time since the work began.
func Line(what, phase string, done int, elapsed time.Duration, fraction float64) string {
	s := what + ":"
	if phase != "" {
		s += " " + phase
	}
	s += fmt.Sprintf(" %d records", done)
	if secs := elapsed.Seconds(); secs >= 0.5 {
		s += fmt.Sprintf(", %.0f/s", float64(done)/secs)
	}
	if fraction > 0 && fraction <= 1 && elapsed > 0 {
		left := time.Duration(float64(elapsed) * (1 - fraction) / fraction)
		s += fmt.Sprintf(", %d%%, %s left", int(fraction*100), clock(left))
	}
	return s
}

// clock formats d as m:ss, or h:mm:ss from an hour.
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// Reader counts the bytes read through it, so that an import of a file
// knows the share of it done (Fraction) without counting its rows first.
type Reader struct {
	r    io.Reader
	size int64
	n    int64
}

// NewReader wraps r, a file of size bytes (0 when not known).
func NewReader(r io.Reader, size int64) *Reader { return &Reader{r: r, size: size} }

// Read reads from the wrapped reader and counts the bytes.
func (c *Reader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Fraction is the share of the file read so far, 0 when its size is not
// known. A reader that buffers ahead makes it run a little early.
func (c *Reader) Fraction() float64 {
	if c.size <= 0 {
		return 0
	}
	return min(1, float64(c.n)/float64(c.size))
}
