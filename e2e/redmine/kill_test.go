package redmine_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `usmhub sync` killed with SIGKILL at random moments, over and over,
// while it creates 200 issues in Redmine and then pushes updates: when a
// run finally completes, Redmine holds exactly one issue per risk (found by
// key and by marker, no duplicates) with the hub's values.
func TestKillLoop(t *testing.T) {
	requireRedmine(t)
	rm := adminAPI(t)
	project := rm.newProject("kill")
	h := newHub(t, project)
	const n, wantKills = 200, 20
	h.OK("risk", "import", h.inventory(n))

	kills, completed := 0, 0
	for round := 0; kills < wantKills && round < 6*wantKills; round++ {
		if round > 0 && round%2 == 0 {
			// Give the runs updates to push, too.
			for j := 0; j < 5; j++ {
				i := 1 + rand.IntN(n)
				h.OK("risk", "update", "R-"+strconv.Itoa(i), "-likelihood", strconv.Itoa(1+rand.IntN(5)), "-effort", strconv.Itoa(1+rand.IntN(8)))
			}
		}
		cmd := h.Command("sync", "risks")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Kill somewhere between the plugin's start and well into a push.
		delay := time.Duration(150+rand.IntN(1800)) * time.Millisecond
		select {
		case err := <-done:
			completed++
			if err != nil && !strings.Contains(out.String(), "being synced by another run") {
				t.Logf("round %d: sync ended by itself: %v\n%s", round, err, out.String())
			}
		case <-time.After(delay):
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-done
			kills++
		}
	}
	if kills < wantKills {
		t.Fatalf("only %d SIGKILLs in the loop (%d runs completed), want at least %d", kills, completed, wantKills)
	}
	t.Logf("%d SIGKILLs, %d runs completed on their own", kills, completed)

	// Let the runs finish: the plugin processes of killed runs die with
	// them (parent-death signal), a dead run's lease is taken over.
	var last map[string]int
	for i := 0; i < 5; i++ {
		last = h.sync("risks")["risks"]
		if !changed(last) {
			break
		}
	}
	if changed(last) {
		t.Errorf("syncs after the kill loop still change things: %v", last)
	}

	issues := rm.risks(project) // fails the test on a key held twice
	if len(issues) != n {
		t.Errorf("Redmine has %d risk issues after the kill loop, want %d (one per risk)", len(issues), n)
	}
	markers := map[string]int{}
	for key, is := range issues {
		m := is.cf("MARKER")
		if other, dup := markers[m]; dup || !strings.HasPrefix(m, "usmhub-") {
			t.Errorf("issue #%d (%s): marker %q (also on #%d)", is.ID, key, m, other)
		}
		markers[m] = is.ID
	}
	hubRisks := h.risks()
	for key, r := range hubRisks {
		is, ok := issues[key]
		switch {
		case !ok:
			t.Errorf("risk %s has no issue", key)
		case is.cf("LIKELIHOOD") != strconv.Itoa(r.Likelihood) || is.cf("EFFORT") != strconv.FormatFloat(r.Effort, 'f', -1, 64):
			t.Errorf("risk %s: likelihood %d effort %g in the hub, %s and %s in Redmine: an update was lost",
				key, r.Likelihood, r.Effort, is.cf("LIKELIHOOD"), is.cf("EFFORT"))
		}
	}
	if len(hubRisks) != n {
		t.Errorf("the hub has %d risks, want %d", len(hubRisks), n)
	}
}
