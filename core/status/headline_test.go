package status

import (
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/store"
)

// The headline names a pause's end and cause, the failures in a row, and
// tells an incomplete run that waits for a person from one that left
// records for the next run.
func TestHeadline(t *testing.T) {
	until := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local)
	for _, c := range []struct {
		b    Binding
		want string
	}{
		{Binding{Health: "ok"}, "ok"},
		{Binding{Health: "never synced"}, "never synced"},
		{Binding{Health: "paused", PausedUntil: &until, PauseCause: "3 failures"}, "PAUSED until 2026-03-04 05:06:07: 3 failures"},
		{Binding{Health: "failing", Failures: 2}, "FAILING (2 run(s) in a row)"},
		{Binding{Health: "incomplete", Links: map[string]int{}}, "INCOMPLETE: the last run left records unsettled"},
		{Binding{Health: "incomplete", Links: map[string]int{string(store.LinkQuarantined): 1}}, "INCOMPLETE: records wait for a person"},
		{Binding{Health: "incomplete", Held: []Held{{Key: "R-1"}}}, "INCOMPLETE: records wait for a person"},
	} {
		if got := c.b.Headline(); !strings.HasPrefix(got, c.want) {
			t.Errorf("%+v: %q, want %q…", c.b, got, c.want)
		}
	}
	if (Held{Side: store.HoldPush}).What() != "hub value refused by the remote" || (Held{Side: "pull"}).What() != "remote value not taken" {
		t.Error("a held field's side reads wrong")
	}
}
