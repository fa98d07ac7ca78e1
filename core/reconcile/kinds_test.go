package reconcile

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// Votes come in from the file connector's votes file: the sounding board's
// only; a changed weight replaces the vote, a removed row is retracted by
// a full reconcile.
func TestVotesPull(t *testing.T) {
	h := newHub(t)
	conn, dir := fileBinary(t)
	r1, r2 := h.addRisk("First"), h.addRisk("Second")
	votes := func(rows ...map[string]string) { writeJSON(t, filepath.Join(dir, "votes.json"), rows) }
	vote := func(risk, voter, weight string) map[string]string {
		return map[string]string{"risk": risk, "voter": voter, "weight": weight}
	}
	b := Binding{Name: "votes", Kind: connector.KindVote, Connector: "file.test", Initiative: initiative, Direction: Pull,
		SoundingBoard: []string{"alice", "Bob"}}
	weights := func() map[string]int {
		return map[string]int{r1.Key: h.risk(r1.ID).Votes, r2.Key: h.risk(r2.ID).Votes}
	}

	votes(vote(r1.Key, "alice", "2"), vote(r2.Key, "bob", "1"), vote(r1.Key, "mallory", "5"), vote("R-99", "alice", "1"))
	res := h.incomplete(b, conn)
	if want := (Counts{Pulled: 4, HubUpdates: 2, Quarantined: 2}); res.Counts != want {
		t.Fatalf("counts = %+v, want %+v", res.Counts, want)
	}
	if diff := cmp.Diff(map[string]int{r1.Key: 2, r2.Key: 1}, weights()); diff != "" {
		t.Errorf("votes (-want +got):\n%s", diff)
	}
	reasons := map[string]string{}
	for _, q := range h.quarantine(b.Name) {
		reasons[q.ExternalID] = q.Reason
	}
	if !strings.Contains(reasons[r1.Key+"/mallory"], "not on the sounding board") || !strings.Contains(reasons["R-99/alice"], "R-99") || len(reasons) != 2 {
		t.Errorf("quarantine = %v", reasons)
	}
	res = h.incomplete(b, conn)
	noChanges(t, res)
	if res.Counts.Pulled != 0 {
		t.Errorf("an unchanged votes file pulled %d records", res.Counts.Pulled)
	}

	// alice changes her weight; bob's row goes.
	votes(vote(r1.Key, "alice", "3"), vote(r1.Key, "mallory", "5"), vote("R-99", "alice", "1"))
	res = h.incomplete(b, conn)
	if c := res.Counts; c.HubUpdates != 1 || c.HubDeletes != 0 || c.Quarantined != 0 {
		t.Fatalf("after a changed weight: %+v (the quarantined votes did not change)", c)
	}
	if diff := cmp.Diff(map[string]int{r1.Key: 3, r2.Key: 1}, weights()); diff != "" {
		t.Errorf("votes (-want +got):\n%s", diff)
	}
	res = h.incomplete(b, conn, Options{Full: true})
	if c := res.Counts; c.HubDeletes != 1 || c.HubUpdates != 0 || c.Quarantined != 0 {
		t.Fatalf("full reconcile after a removed row: %+v", c)
	}
	if diff := cmp.Diff(map[string]int{r1.Key: 3, r2.Key: 0}, weights()); diff != "" {
		t.Errorf("votes (-want +got):\n%s", diff)
	}
}

// scanRow is one row of the scans file.
func scanRow(kind, method, version, date, dim, score string) map[string]string {
	return map[string]string{"kind": kind, "method": method, "method_version": version, "date": date,
		"dimension": dim, "score": score, "respondents": "5"}
}

func (h *hub) scans() []model.Scan {
	h.t.Helper()
	var out []model.Scan
	h.view(func(rd store.Reader) (err error) { out, err = rd.Scans(initiative); return err })
	return out
}

// Scans come in as a baseline, then progress scans comparable with it; a
// progress scan with another method, or dated before the baseline, is
// quarantined.
func TestScansPull(t *testing.T) {
	h := newHub(t)
	conn, dir := fileBinary(t)
	// Progress rows first: the baseline is stored before them all the same.
	writeJSON(t, filepath.Join(dir, "scans.json"), []map[string]string{
		scanRow("progress", "USM-scan", "1.0", "2025-06-01", "Strategy", "3"),
		scanRow("progress", "USM-scan", "1.0", "2025-06-01", "Process", "3.5"),
		scanRow("baseline", "USM-scan", "1.0", "2025-01-10", "Strategy", "2"),
		scanRow("baseline", "USM-scan", "1.0", "2025-01-10", "Process", "3"),
		scanRow("progress", "USM-scan", "2.0", "2025-07-01", "Strategy", "4"),
		scanRow("progress", "USM-scan", "1.0", "2024-12-01", "Strategy", "1"),
	})
	b := Binding{Name: "scans", Kind: connector.KindScan, Connector: "file.test", Initiative: initiative, Direction: Pull}
	res := h.incomplete(b, conn)
	if want := (Counts{Pulled: 6, HubCreates: 2, Quarantined: 2}); res.Counts != want {
		t.Fatalf("counts = %+v, want %+v", res.Counts, want)
	}
	var got []string
	for _, s := range h.scans() {
		line := fmt.Sprintf("%s %s %s %s:", s.Kind, s.Method, s.MethodVersion, s.TakenOn)
		for _, sc := range s.Scores {
			line += fmt.Sprintf(" %s=%g/%d", sc.Dimension, sc.Score, sc.Respondents)
		}
		got = append(got, line)
	}
	want := []string{
		"baseline USM-scan 1.0 2025-01-10: Strategy=2/5 Process=3/5",
		"progress USM-scan 1.0 2025-06-01: Strategy=3/5 Process=3.5/5",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scans (-want +got):\n%s", diff)
	}
	var reasons []string
	for _, q := range h.quarantine(b.Name) {
		reasons = append(reasons, q.Reason)
	}
	sort.Strings(reasons)
	if len(reasons) != 2 || !strings.Contains(reasons[0], "the scan is dated 2024-12-01, before the baseline of 2025-01-10") ||
		!strings.Contains(reasons[1], "baseline's method") || !strings.Contains(reasons[1], "2.0") {
		t.Errorf("quarantine reasons = %q", reasons)
	}
	res = h.incomplete(b, conn)
	noChanges(t, res)
	if res.Counts.Pulled != 0 {
		t.Errorf("an unchanged scans file pulled %d records", res.Counts.Pulled)
	}
}

// failOnce fails the first Pull transiently after its first batch, as a
// plugin that died mid-pull: the engine retries from the stored cursor.
type failOnce struct {
	connector.Connector
	failed bool
}

func (f *failOnce) Pull(ctx context.Context, req connector.PullRequest, send func(connector.Batch) error) error {
	return f.Connector.Pull(ctx, req, func(b connector.Batch) error {
		if err := send(b); err != nil {
			return err
		}
		if !f.failed {
			f.failed = true
			return connector.Errorf(connector.ClassTransient, "connection reset")
		}
		return nil
	})
}

// A scan whose rows span pages, pulled again after a failure mid-pull,
// is stored once, with each dimension once.
func TestScanPullRetriedMidScan(t *testing.T) {
	h := newHub(t)
	conn, dir := fileBinary(t)
	const dims = 600 // more than the file connector's page
	var rows []map[string]string
	for i := range dims {
		rows = append(rows, scanRow("baseline", "USM-scan", "1.0", "2025-01-10", fmt.Sprintf("D%03d", i), "3"))
	}
	writeJSON(t, filepath.Join(dir, "scans.json"), rows)
	b := Binding{Name: "scans", Kind: connector.KindScan, Connector: "file.test", Initiative: initiative, Direction: Pull}
	flaky := &failOnce{Connector: conn}
	res := h.sync(b, flaky)
	if !flaky.failed {
		t.Fatal("the pull did not fail")
	}
	if c := res.Counts; c.HubCreates != 1 || c.Quarantined != 0 {
		t.Fatalf("counts = %+v, want the scan stored", c)
	}
	if s := h.scans(); len(s) != 1 || len(s[0].Scores) != dims {
		t.Fatalf("scans = %d", len(s))
	}
}
