package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// What a person typed is delivered as it is (less blanks and \r): the hub
// checks values and quarantines what it cannot use; the pull goes on.
func TestPullDeliversBadValuesAsTheyAre(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "risks.csv"), "key,title,likelihood,status,description\r\n"+
		"R-1,Trage incidentafhandeling ,high,doing,\"Eerste regel  \r\ntweede regel\"\r\n"+
		"R-2,Geen eigenaar,3,proposed,\r\n")
	p := pull(t, configured(t, dir, formatCSV), sdk.KindRisk, "")
	want := map[string]string{"key": "R-1", "title": "Trage incidentafhandeling", "likelihood": "high", "status": "doing",
		"description": "Eerste regel\ntweede regel"}
	if d := cmp.Diff(want, p.byID["K-R-1"].Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if len(p.records) != 2 {
		t.Errorf("pulled %d records, want 2", len(p.records))
	}
}

// Rows written by hand without an id are known by an id derived from them,
// which the connector writes into them on its next write: it never changes.
func TestDerivedIDsAreStable(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "risks.csv"), "key,title,owner\nR-1,Met sleutel,\n,Zonder sleutel,\n,,anna\n,TODO,\n,TODO,\n")
	c := configured(t, dir, formatCSV)
	before := pull(t, c, sdk.KindRisk, "")
	todo := "T-" + shortHash("TODO")
	wantIDs := []string{"K-R-1", "T-" + shortHash("Zonder sleutel"), "H-" + shortHash("owner=anna"), todo, todo + "-2"}
	var ids []string
	for _, r := range before.records {
		ids = append(ids, r.ExternalID)
	}
	if d := cmp.Diff(wantIDs, ids); d != "" {
		t.Fatalf("derived ids (-want +got):\n%s", d)
	}
	mustOK(t, push(t, c, create("nieuw")))
	if got := readFile(t, filepath.Join(dir, "risks.csv")); !strings.Contains(got, ",Zonder sleutel,,"+wantIDs[1]+",") {
		t.Errorf("the write did not store the derived id in the row:\n%s", got)
	}
	after := pull(t, c, sdk.KindRisk, "")
	for _, r := range before.records {
		if a, ok := after.byID[r.ExternalID]; !ok || a.Version != r.Version {
			t.Errorf("row %s: after a write it is %+v; want the same id and version", r.ExternalID, a)
		}
	}
	if f := after.byID["F-1"]; f.Marker != "usmhub-nieuw" || f.Version == "" {
		t.Errorf("created record: %+v", f)
	}
}

// A pull of many records comes in batches; the cursor of every batch
// resumes the pull without losing a record, even when the file is not in
// time order (updates happen in place).
func TestPullBatchesResumeWithoutLoss(t *testing.T) {
	for _, format := range []string{formatCSV, formatJSON} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			c := configured(t, dir, format)
			const n = 1234
			changes := make([]sdk.Change, n)
			for i := range changes {
				changes[i] = create(fmt.Sprintf("r%04d", i))
			}
			mustOK(t, push(t, c, changes...))
			// Shuffle the times: rows later in the file are older, as
			// after updates in place. The connector's own stamps stay
			// consistent with the file's modification time.
			rewriteTimes(t, c, func(i int) time.Time {
				return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n-i) * time.Minute)
			})

			full := pull(t, c, sdk.KindRisk, "")
			var sizes []int
			for _, b := range full.batches {
				sizes = append(sizes, len(b.Records))
			}
			if d := cmp.Diff([]int{500, 500, 234}, sizes); d != "" {
				t.Fatalf("batch sizes (-want +got):\n%s", d)
			}
			seen := map[string]bool{}
			for k, b := range full.batches[:len(full.batches)-1] {
				for _, r := range b.Records {
					seen[r.ExternalID] = true
				}
				resumed := pull(t, c, sdk.KindRisk, b.Cursor)
				for id := range full.byID {
					if _, ok := resumed.byID[id]; !ok && !seen[id] {
						t.Fatalf("resuming from the cursor of batch %d loses record %s", k+1, id)
					}
				}
			}
			// Unchanged, an incremental pull reads nothing and returns
			// nothing, with the same cursor.
			opened := countOpens(t)
			if inc := pull(t, c, sdk.KindRisk, full.cursor); len(inc.records) != 0 || inc.cursor != full.cursor || *opened != 0 {
				t.Errorf("an incremental pull of an unchanged file opened it %d times and returned %d records, cursor %q; want none, none, %q",
					*opened, len(inc.records), inc.cursor, full.cursor)
			}
			// After a write, it gives the rows the write stamped and those
			// at the cursor's time (the bound is inclusive), nothing older.
			up := mustOK(t, push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: "F-700", Fields: map[string]string{"owner": "anna"}}))[0]
			inc := pull(t, c, sdk.KindRisk, full.cursor)
			var ids []string
			for _, r := range inc.records {
				ids = append(ids, r.ExternalID)
			}
			if d := cmp.Diff([]string{"F-1", "F-700"}, ids); d != "" || inc.byID["F-700"].Version != up.Version {
				t.Errorf("incremental pull after an update of F-700 (-want +got):\n%s", d)
			}
		})
	}
}

// countOpens counts the data files opened until the test ends.
func countOpens(t *testing.T) *int {
	n := new(int)
	open := openFile
	openFile = func(path string) (*os.File, error) {
		*n++
		return open(path)
	}
	t.Cleanup(func() { openFile = open })
	return n
}

// rewriteTimes gives row i of the risks file updated_at at(i) through the
// connector's own table code, and the file the matching modification time,
// as if the connector had written it.
func rewriteTimes(t *testing.T, c *Connector, at func(i int) time.Time) {
	t.Helper()
	path := c.cfg.path(c.cfg.RisksFile)
	tab, rows, _, err := loadTable(path, c.cfg.Format, riskColumns)
	if err != nil {
		t.Fatal(err)
	}
	var newest time.Time
	for i := range rows {
		ts := at(i)
		if ts.After(newest) {
			newest = ts
		}
		tab.set(&rows[i], colUpdatedAt, ts.Format(time.RFC3339))
	}
	if err := writeAtomic(path, "", newest, func(w io.Writer) error { return tab.encode(w, rows) }); err != nil {
		t.Fatal(err)
	}
}

// A person edits the file in a spreadsheet: updated_at stays as it was.
// The next incremental pull still sees the edit (with a new version),
// whether or not the connector wrote the file in between.
func TestIncrementalPullSeesHandEdits(t *testing.T) {
	for _, writeFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("connector writes first: %v", writeFirst), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "risks.csv")
			c := configured(t, dir, formatCSV)
			mustOK(t, push(t, c, create("een"), create("twee"), create("drie")))
			hourAgo := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
			rewriteTimes(t, c, func(i int) time.Time { return hourAgo.Add(time.Duration(i) * time.Minute) })
			full := pull(t, c, sdk.KindRisk, "")

			edited := strings.Replace(readFile(t, path), ",twee,", ",twee (bijgewerkt),", 1)
			writeFile(t, path, edited) // a new modification time, updated_at untouched
			if writeFirst {
				mustOK(t, push(t, c, create("vier")))
			}
			inc := pull(t, c, sdk.KindRisk, full.cursor)
			r, ok := inc.byID["F-2"]
			if !ok || r.Fields["title"] != "twee (bijgewerkt)" {
				t.Fatalf("incremental pull after a hand edit: F-2 = %+v (%v); want the edited title", r, ok)
			}
			if r.Version == full.byID["F-2"].Version {
				t.Errorf("the hand-edited row kept version %s", r.Version)
			}
			// (After the connector's write, every row has that write's time,
			// so all come again, as the bound is inclusive.)
			if again := pull(t, c, sdk.KindRisk, inc.cursor); !writeFirst && len(again.records) > 1 {
				t.Errorf("a pull of the same file from its own cursor returned %d rows, want the newest only", len(again.records))
			}
		})
	}
}

func TestInvalidCursors(t *testing.T) {
	dir := t.TempDir()
	c := configured(t, dir, formatCSV)
	voteCursor := pull(t, c, sdk.KindVote, "").cursor
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tt := range []struct{ cursor, want string }{
		{"garbage!!", `invalid: cursor "garbage!!" was not made by the file connector: illegal base64 data at input byte 7`},
		{enc(`{"v":2,"k":"risk"}`), `invalid: cursor "eyJ2IjoyLCJrIjoicmlzayJ9" has layout 2, this file connector makes layout 1: pull in full`},
		{voteCursor, "invalid: cursor \"" + voteCursor + "\" belongs to vote, not risk"},
	} {
		_, err := tryPull(c, sdk.KindRisk, tt.cursor)
		if err == nil || err.Error() != tt.want || sdk.ClassOf(err) != sdk.ClassInvalid {
			t.Errorf("Pull(cursor %q) = %v, want %q", tt.cursor, err, tt.want)
		}
	}
}

func TestPullWithoutFiles(t *testing.T) {
	c := configured(t, t.TempDir(), formatCSV)
	for _, kind := range []sdk.EntityKind{sdk.KindRisk, sdk.KindVote, sdk.KindScan} {
		p := pull(t, c, kind, "")
		if len(p.records) != 0 || len(p.batches) != 1 || p.cursor == "" {
			t.Errorf("pull of %s without a file: %d records, %d batches, cursor %q; want one empty batch with a cursor", kind, len(p.records), len(p.batches), p.cursor)
		}
		if _, err := tryPull(c, kind, p.cursor); err != nil {
			t.Errorf("pull of %s from its cursor: %v", kind, err)
		}
	}
	if _, err := tryPull(c, sdk.KindSprint, ""); sdk.ClassOf(err) != sdk.ClassPermanent {
		t.Errorf("pull of sprints = %v, want a permanent error", err)
	}
}

func TestPullVotesAndScans(t *testing.T) {
	dir := t.TempDir()
	votes := filepath.Join(dir, "votes.csv")
	writeFile(t, votes, "risk,voter,weight,cast_at\nR-1,anna,2,2026-03-01\nR-1,bram,x,2026-03-02T10:00:00+01:00\nR-2,anna,1,\n")
	writeFile(t, filepath.Join(dir, "scans.csv"), "kind,method,method_version,date,dimension,score,respondents,note\n"+
		"baseline,USM-scan,2,2026-01-15,agree,2.5,14,\nprogress,USM-scan,2,2026-04-15,agree,3.5,12,Beter\n")
	c := configured(t, dir, formatCSV)

	p := pull(t, c, sdk.KindVote, "")
	got := map[string]string{}
	for _, r := range p.records {
		got[r.ExternalID] = r.Fields["weight"] + " @ " + r.UpdatedAt.Format(time.RFC3339)
	}
	fi, _ := os.Stat(votes)
	want := map[string]string{
		"R-1/anna": "2 @ 2026-03-01T00:00:00Z",
		"R-1/bram": "x @ 2026-03-02T09:00:00Z",
		"R-2/anna": "1 @ " + fi.ModTime().UTC().Truncate(time.Second).Format(time.RFC3339),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("votes (-want +got):\n%s", d)
	}
	if again := pull(t, c, sdk.KindVote, p.cursor); len(again.records) != 0 || again.cursor != p.cursor {
		t.Errorf("pull of an unchanged votes file: %d records, cursor %q; want none and the same cursor", len(again.records), again.cursor)
	}
	writeFile(t, votes, readFile(t, votes)+"R-3,carla,1,\n")
	if again := pull(t, c, sdk.KindVote, p.cursor); len(again.records) != 4 {
		t.Errorf("pull of a changed votes file: %d records, want all 4", len(again.records))
	}
	writeFile(t, votes, readFile(t, votes)+"R-1,anna,5,\n")
	if _, err := tryPull(c, sdk.KindVote, ""); err == nil || !strings.HasSuffix(err.Error(), votes+":6: R-1/anna again (first at "+votes+":2); the file may hold it once") {
		t.Errorf("pull of a file with two votes of anna on R-1 = %v", err)
	}

	s := pull(t, c, sdk.KindScan, "")
	sc := s.byID["USM-scan/2/2026-04-15/agree"]
	if d := cmp.Diff(map[string]string{"kind": "progress", "method": "USM-scan", "method_version": "2", "date": "2026-04-15",
		"dimension": "agree", "score": "3.5", "respondents": "12", "note": "Beter"}, sc.Fields); d != "" || len(s.records) != 2 {
		t.Errorf("scans: %d records; fields of the progress scan (-want +got):\n%s", len(s.records), d)
	}
	if !sc.UpdatedAt.Equal(time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("scan UpdatedAt = %v, want its date", sc.UpdatedAt)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	c := configured(t, dir, formatCSV)
	ctx := context.Background()
	if r, err := c.Find(ctx, sdk.KindRisk, "usmhub-x"); r != nil || err != nil {
		t.Errorf("Find without a file = %v, %v; want nil, nil", r, err)
	}
	res := mustOK(t, push(t, c, create("a"), create("b")))
	mustOK(t, push(t, c, sdk.Change{Op: sdk.OpDelete, ExternalID: res[0].ExternalID}))
	if r, err := c.Find(ctx, sdk.KindRisk, "usmhub-a"); err != nil || r == nil || !r.Deleted || r.ExternalID != res[0].ExternalID {
		t.Errorf("Find of a deleted risk's marker = %+v, %v; want its tombstone", r, err)
	}
	// Re-created with the same marker after its delete: Find prefers the live row.
	again := mustOK(t, push(t, c, create("a")))
	if r, err := c.Find(ctx, sdk.KindRisk, "usmhub-a"); err != nil || r == nil || r.Deleted || r.ExternalID != again[0].ExternalID {
		t.Errorf("Find = %+v, %v; want the live row %s", r, err, again[0].ExternalID)
	}
	if _, err := c.Find(ctx, sdk.KindVote, "usmhub-a"); sdk.ClassOf(err) != sdk.ClassPermanent {
		t.Errorf("Find of a vote = %v, want a permanent error", err)
	}
}
