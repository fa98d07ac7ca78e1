package status

import (
	"fmt"
	"time"

	"github.com/usmhub/usmhub/core/store"
)

// Headline is the binding's health as `usmhub status` heads it: a pause
// with its end (local time) and cause, failing with the runs failed in a
// row, incomplete with whether records wait for a person (listed below
// the headline) or the last run left them unsettled for the next to
// retry; any other health as it is.
func (b Binding) Headline() string {
	switch {
	case b.Health == "paused" && b.PausedUntil != nil:
		return "PAUSED until " + b.PausedUntil.Local().Format(time.DateTime) + ": " + b.PauseCause
	case b.Health == "failing":
		return fmt.Sprintf("FAILING (%d run(s) in a row)", b.Failures)
	case b.Health == "incomplete" && len(b.Held) == 0 && len(b.Quarantined) == 0 && b.Links[string(store.LinkQuarantined)] == 0:
		return "INCOMPLETE: the last run left records unsettled (last error below); the next run retries them"
	case b.Health == "incomplete":
		return "INCOMPLETE: records wait for a person (below)"
	}
	return b.Health
}

// What says what a held field means for the person reading status.
func (h Held) What() string {
	if h.Side == store.HoldPush {
		return "hub value refused by the remote"
	}
	return "remote value not taken"
}
