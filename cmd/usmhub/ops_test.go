package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadinessCountsWhatWasPublished: precondition 9 reads what happened:
// a report block that publishes is no communication until a report went
// out; after `report -publish` it passes, and publishing the same report
// again records nothing new.
func TestReadinessCountsWhatWasPublished(t *testing.T) {
	fileConnector(t)
	h := newHub(t, syncConfig("", "")+`
report "register" {
  kind       = "register"
  publish_to = ["file.sheet"]
}
`)
	if err := os.Mkdir(filepath.Join(h.dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	communication := func() readinessCheck {
		var checks []readinessCheck
		h.jsonOf(&checks, "readiness", "-offline")
		return checks[8]
	}
	if c := communication(); c.Status != "warn" || !strings.Contains(c.Reason, "none published yet") {
		t.Errorf("before any publication: %+v, want warn: none published yet", c)
	}
	h.ok("report", "register", "-publish", "file.sheet")
	h.ok("report", "register", "-publish", "file.sheet")
	if c := communication(); c.Status != "pass" || !strings.HasPrefix(c.Reason, "1 report(s) published to file.sheet; the latest, usmhub-t-register-") {
		t.Errorf("after publishing: %+v, want pass naming the one report published", c)
	}
}

type readinessCheck struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
	Next   string `json:"next"`
}
