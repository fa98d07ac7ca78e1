package meter

import (
	"strings"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	for _, tt := range []struct {
		done     int
		elapsed  time.Duration
		fraction float64
		want     string
	}{
		{0, 0, 0, "risks: pull 0 records"},
		{1200, 3 * time.Second, 0, "risks: pull 1200 records, 400/s"},
		{25000, 10 * time.Second, 0.25, "risks: pull 25000 records, 2500/s, 25%, 0:30 left"},
		{1000, time.Hour, 0.5, "risks: pull 1000 records, 0/s, 50%, 1:00:00 left"},
	} {
		if got := Line("risks", "pull", tt.done, tt.elapsed, tt.fraction); got != tt.want {
			t.Errorf("Line(%d, %s, %v) = %q, want %q", tt.done, tt.elapsed, tt.fraction, got, tt.want)
		}
	}
}

// TestMeterRedrawsAtMostEveryInterval: updates between redraws are dropped,
// Finish clears the line, a nil Meter is silent.
func TestMeterRedrawsAtMostEveryInterval(t *testing.T) {
	var b strings.Builder
	now := time.Unix(0, 0)
	m := NewAt(&b, "import", func() time.Time { return now })
	for i := range 10 {
		now = now.Add(50 * time.Millisecond)
		m.Update("", i*100, 0)
	}
	m.Finish()
	if n := strings.Count(b.String(), "\r\033[K"); n != 4 { // drawn at 50, 250, 450 ms; cleared once
		t.Errorf("%d line writes in %q, want 3 draws and 1 clear", n, b.String())
	}
	var nilMeter *Meter
	nilMeter.Update("x", 1, 0.5)
	nilMeter.Finish()
}
