package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// The streaming push gives the results and the file the old push (loading
// the whole file, reference_test.go) gives, on random files and random
// batches of changes: creates (new, retried, invalid, with markers an
// update in the same batch moves), updates (with right and stale versions,
// to deleted rows, naming fields the file has no column for, to rows the
// batch creates), deletes and unknown operations; files in both formats,
// with ids and without, written by the connector and by hand.
func TestPushMatchesLoadingTheWholeFile(t *testing.T) {
	for _, limit := range []int{4096, 3} { // 3: ids in the filter, rescans
		t.Run(fmt.Sprintf("exact %d", limit), func(t *testing.T) {
			defer setExactLimit(limit)()
			for seed := range seeds() {
				for _, format := range []string{formatCSV, formatJSON} {
					diffPush(t, seed, format)
				}
			}
		})
	}
}

// seeds is how many random files the differential tests try.
func seeds() uint64 {
	if testing.Short() {
		return 50
	}
	return 300
}

func setExactLimit(n int) (restore func()) {
	old := exactLimit
	exactLimit = n
	return func() { exactLimit = old }
}

func diffPush(t *testing.T, seed uint64, format string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	content, mtime := randomRisks(rng, format)
	top := t.TempDir()
	oldDir, newDir := filepath.Join(top, "old"), filepath.Join(top, "new")
	oldPath, newPath := filepath.Join(oldDir, "risks."+format), filepath.Join(newDir, "risks."+format)
	for _, p := range []string{oldPath, newPath} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if content != "" {
			writeFile(t, p, content)
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The streaming push remembers its writes in the lock file: after the
	// first round, it copies the rows of a CSV file it does not change.
	lock, err := lockDir(context.Background(), newDir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.release()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if rng.IntN(4) == 0 {
		now = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) // before the file's stamps
	}
	defer setClock(now)()
	sameDir := func(s string) string { return strings.ReplaceAll(s, newDir, oldDir) }

	for round := range 3 {
		ids, markers := fileIDs(t, oldPath, format)
		changes := randomChanges(rng, ids, markers)
		want, wantErr := refPush(oldPath, format, sdk.PushRequest{Kind: sdk.KindRisk, Changes: changes}, now)
		got, gotErr := pushRisks(context.Background(), lock, newPath, "", format, changes)
		for i := range got {
			if got[i].Err != nil {
				got[i].Err.Message = sameDir(got[i].Err.Message)
			}
		}
		what := fmt.Sprintf("seed %d, %s, round %d, %d changes", seed, format, round, len(changes))
		if wantErr != nil || gotErr != nil {
			if fmt.Sprint(wantErr) != sameDir(fmt.Sprint(gotErr)) {
				t.Fatalf("%s: error %v, want %v\nfile:\n%s", what, gotErr, wantErr, content)
			}
			return
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("%s: results (-old +streaming):\n%s\nfile:\n%s\nchanges: %+v", what, d, content, changes)
		}
		wantFile := readIfThere(t, oldPath)
		if d := cmp.Diff(wantFile, readIfThere(t, newPath)); d != "" {
			t.Fatalf("%s: file (-old +streaming):\n%s\nfile first:\n%s\nchanges: %+v", what, d, content, changes)
		}
		if got, want := statIfThere(newPath), statIfThere(oldPath); sameDir(got) != want {
			t.Fatalf("%s: file %s, want %s", what, got, want)
		}
		if wantFile != "<no file>" {
			wantOnly(t, newDir, lockName, filepath.Base(newPath))
		}
	}
}

// statIfThere describes a file's mode and modification time.
func statIfThere(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%v %v", fi.Mode(), fi.ModTime().UTC())
}

func setClock(now time.Time) (restore func()) {
	old := clock
	clock = func() time.Time { return now }
	return func() { clock = old }
}

func readIfThere(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "<no file>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fileIDs returns the external ids and markers of a risks file (none when
// it is missing or cannot be read).
func fileIDs(t *testing.T, path, format string) (ids, markers []string) {
	t.Helper()
	tab, rows, _, err := loadTable(path, format, riskColumns)
	if err != nil {
		return nil, nil
	}
	seen := newRefRowIDs()
	for _, r := range rows {
		id, _, err := seen.next(tab, r)
		if err != nil {
			return nil, nil
		}
		ids = append(ids, id)
		if m := tab.get(r, colMarker); m != "" {
			markers = append(markers, m)
		}
	}
	return ids, markers
}

// randomRisks returns the content of a risks file and its modification
// time: a whole second (as the connector leaves it) or not (an editor).
func randomRisks(rng *rand.Rand, format string) (string, time.Time) {
	if rng.IntN(12) == 0 {
		return "", time.Time{} // no file
	}
	base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	cols := []string{"id", "title", "likelihood", "marker", "updated_at", "version", "deleted", "key", "notes", "impact", "owner", "status"}
	rng.Shuffle(len(cols), func(i, j int) { cols[i], cols[j] = cols[j], cols[i] })
	cols = cols[:4+rng.IntN(len(cols)-3)]
	if rng.IntN(3) == 0 {
		for i, c := range cols {
			if c == "title" {
				cols[i] = "Title"
			}
		}
	}
	n := rng.IntN(14)
	if rng.IntN(6) == 0 {
		n = 40 + rng.IntN(40)
	}
	var newest time.Time
	rows := make([]map[string]string, n)
	for i := range rows {
		r := map[string]string{}
		for _, c := range cols {
			var v string
			switch strings.ToLower(c) {
			case "id":
				v = pick("", fmt.Sprintf("F-%d", i+1), fmt.Sprintf("F-%d", 3*i+2), fmt.Sprintf("X-%d", i), "K-R-1")
			case "key":
				v = pick("", "R-1", fmt.Sprintf("R-%d", i), "R-1-2")
			case "title":
				v = pick("", "TODO", fmt.Sprintf("Risk %d", i), " spaced  ")
			case "likelihood", "impact":
				v = pick("", "3", "high")
			case "marker":
				v = pick("", "usmhub-a", "usmhub-b", fmt.Sprintf("usmhub-%d", i))
			case "updated_at":
				ts := base.Add(time.Duration(rng.IntN(100)) * time.Minute)
				v = pick("", "yesterday", ts.Format(time.RFC3339))
				if v != "" && v != "yesterday" && ts.After(newest) {
					newest = ts
				}
			case "version":
				v = pick("", "1", "4", "x")
			case "deleted":
				v = pick("", "", "true", "x")
			case "notes":
				v = pick("", "a note", "two\nlines")
			case "owner":
				v = pick("", "anna")
			case "status":
				v = pick("", "accepted", "done")
			}
			r[c] = v
		}
		rows[i] = r
	}
	mtime := newest
	if mtime.IsZero() || rng.IntN(3) == 0 {
		mtime = base.Add(time.Duration(rng.IntN(200))*time.Minute + time.Duration(rng.IntN(2))*time.Duration(rng.IntN(1e9)))
	}
	var b strings.Builder
	if format == formatJSON {
		b.WriteString("[\n")
		for i, r := range rows {
			b.WriteString("  {")
			first := true
			for _, c := range cols {
				if r[c] == "" && rng.IntN(2) == 0 {
					continue
				}
				if !first {
					b.WriteString(", ")
				}
				first = false
				if strings.EqualFold(c, "likelihood") && r[c] == "3" {
					fmt.Fprintf(&b, "%q: 3", c)
				} else {
					fmt.Fprintf(&b, "%q: %q", c, r[c])
				}
			}
			if rng.IntN(5) == 0 {
				if !first {
					b.WriteString(", ")
				}
				extra := []string{`"extra": [1, 2]`, `"extra": {"owner": "x", "t\"q": [{"impact": 1}]}`}
				if _, ok := r["key"]; !ok {
					extra = append(extra, `"k\u0065y": "R-1"`)
				}
				b.WriteString(pick(extra...))
			}
			b.WriteString("}")
			if i < len(rows)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("]\n")
		return b.String(), mtime
	}
	b.WriteString(strings.Join(cols, ",") + "\n")
	for _, r := range rows {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = r[c]
			if strings.ContainsAny(r[c], ",\n\"") {
				cells[i] = `"` + strings.ReplaceAll(r[c], `"`, `""`) + `"`
			}
		}
		b.WriteString(strings.Join(cells, ",") + "\n")
	}
	return b.String(), mtime
}

// randomChanges returns a batch of changes to a file with the given ids
// and markers.
func randomChanges(rng *rand.Rand, ids, markers []string) []sdk.Change {
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	id := func() string {
		if len(ids) == 0 || rng.IntN(6) == 0 {
			return pick("F-1", "F-99", "nope", "F-2")
		}
		return ids[rng.IntN(len(ids))]
	}
	marker := func() string {
		if len(markers) > 0 && rng.IntN(3) == 0 {
			return markers[rng.IntN(len(markers))]
		}
		return pick("", "usmhub-a", "usmhub-b", "usmhub-new", " usmhub-c ")
	}
	fields := func() map[string]string {
		f := map[string]string{}
		for range rng.IntN(4) {
			switch rng.IntN(8) {
			case 0:
				f["title"] = pick("New title", "TODO", "  ")
			case 1:
				f["impact"] = pick("", "2", "9")
			case 2:
				f["owner"] = pick("", "bram")
			case 3:
				f["effort"] = pick("", "1.5")
			case 4:
				f["status"] = pick("accepted", "in_progress")
			case 5:
				f["description"] = pick("", "line one\r\nline two  ")
			case 6:
				f["colour"] = "red"
			case 7:
				f["likelihood"] = pick("3", "")
			}
		}
		return f
	}
	n := 1 + rng.IntN(6)
	changes := make([]sdk.Change, n)
	for k := range changes {
		switch rng.IntN(9) {
		case 0, 1, 2:
			f := fields()
			if rng.IntN(3) > 0 {
				f["title"] = pick("Created", "TODO")
			}
			changes[k] = sdk.Change{Op: sdk.OpCreate, Marker: marker(), Fields: f}
		case 3, 4, 5:
			changes[k] = sdk.Change{Op: sdk.OpUpdate, ExternalID: id(), Fields: fields()}
			if rng.IntN(3) == 0 {
				changes[k].Marker = marker()
			}
		case 6, 7:
			changes[k] = sdk.Change{Op: sdk.OpDelete, ExternalID: id()}
		case 8:
			changes[k] = sdk.Change{Op: "merge", ExternalID: id()}
		}
		if rng.IntN(5) == 0 && changes[k].Op != sdk.OpCreate {
			changes[k].Version = pick("1-0", "0-cbf29ce484222325")
		}
	}
	return changes
}

// A full pull delivers what the old connector delivered: every row, in
// file order, with the same ids, versions and fields, or the same error.
func TestFullPullMatchesLoadingTheWholeFile(t *testing.T) {
	for _, limit := range []int{4096, 3} {
		t.Run(fmt.Sprintf("exact %d", limit), func(t *testing.T) {
			defer setExactLimit(limit)()
			for seed := range seeds() {
				for _, format := range []string{formatCSV, formatJSON} {
					rng := rand.New(rand.NewPCG(seed, 11))
					content, mtime := randomRisks(rng, format)
					dir := t.TempDir()
					path := filepath.Join(dir, "risks."+format)
					if content != "" {
						writeFile(t, path, content)
						if err := os.Chtimes(path, mtime, mtime); err != nil {
							t.Fatal(err)
						}
					}
					want, wantErr := refFullPull(path, format)
					p, gotErr := tryPull(configured(t, dir, format), sdk.KindRisk, "")
					if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
						t.Fatalf("seed %d %s: error %v, want %v\n%s", seed, format, gotErr, wantErr, content)
					}
					if d := cmp.Diff(want, p.records); gotErr == nil && d != "" {
						t.Fatalf("seed %d %s: records (-old +streaming):\n%s\n%s", seed, format, d, content)
					}
				}
			}
		})
	}
}

// refFullPull is what the connector's full pull delivers, computed on the
// whole file in memory: the rows whose keys or ids clash (maps of every
// key and id) as one record with a problem an id, the others as records.
func refFullPull(path, format string) ([]sdk.Record, error) {
	tab, rows, fi, err := loadTable(path, format, riskColumns)
	if err != nil {
		return nil, fmt.Errorf("pull risks: %w", err)
	}
	if fi == nil {
		return nil, nil
	}
	// The ids as a pull reads them: an id cell, or derived (two rows
	// without one and with one key derive one id).
	seen := map[string]int64{}
	ids := make([]string, len(rows))
	byID, byKey := map[string][]int64{}, map[string][]int64{}
	keys := map[string]int64{}
	for i, r := range rows {
		id := normalise(tab.get(r, colID))
		if id == "" {
			base := derivedID(tab, r)
			id = base
			for n := 2; !strings.HasPrefix(base, "K-"); n++ {
				if _, dup := seen[id]; !dup {
					break
				}
				id = base + "-" + strconv.Itoa(n)
			}
		}
		if first, dup := seen[id]; dup {
			if len(byID[id]) == 0 {
				byID[id] = []int64{first}
			}
			byID[id] = append(byID[id], r.pos)
		} else {
			seen[id] = r.pos
		}
		ids[i] = id
		if key := liveKey(tab, r); key != "" {
			if first, dup := keys[key]; dup {
				if len(byKey[key]) == 0 {
					byKey[key] = []int64{first}
				}
				byKey[key] = append(byKey[key], r.pos)
			} else {
				keys[key] = r.pos
			}
		}
	}
	clash := tab.clashReasons(byKey, byID)
	tab, rr, f, err := openTable(path, format)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []sdk.Record
	told := map[string]bool{}
	for i := 0; ; i++ {
		r, err := rr.next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, err
		}
		fallback := fi.ModTime().UTC().Truncate(time.Second)
		if reason, ok := clash[r.pos]; ok {
			if !told[ids[i]] {
				told[ids[i]] = true
				at, stamped := rowUpdatedAt(tab, r)
				if !stamped {
					at = fallback
				}
				recs = append(recs, clashRecord(tab, r, ids[i], reason, at))
			}
			continue
		}
		recs = append(recs, riskRecord(tab, r, ids[i], fallback))
	}
}

// Past exactLimit ids, a file's ids and keys go into filters; an id or a
// key that comes again is still found, with the lines of all its rows, and
// the rows are sent as one record with a problem an id, in file order.
func TestIDsAgainPastTheExactLimit(t *testing.T) {
	defer setExactLimit(8)()
	var b strings.Builder
	b.WriteString("id,key,title\n")
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&b, "F-%d,,Risk %d\n", i, i)
	}
	b.WriteString(",R-7,Derived\n,R-7,Derived again\nK-R-7-2,,Explicit after derived\n") // lines 202–204
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.csv")
	writeFile(t, path, b.String())
	c := configured(t, dir, formatCSV)
	p := pull(t, c, sdk.KindRisk, "")
	if n := len(p.records); n != 202 {
		t.Fatalf("pull of 203 rows, two with key R-7: %d records, want 202", n)
	}
	want := path + ":202 and " + path + ":203 both have key R-7: give each row its own key (until then the hub takes none of them)"
	if r := p.records[200]; r.ExternalID != "K-R-7" || r.Problem != want || r.Fields[sdk.FieldKey] != "R-7" {
		t.Errorf("the clash of key R-7: %+v, want K-R-7 with problem %q", r, want)
	}
	if r := p.records[201]; r.ExternalID != "K-R-7-2" || r.Problem != "" {
		t.Errorf("the row after the clash: %+v", r)
	}
	writeFile(t, path, strings.Replace(b.String(), ",R-7,Derived\n", ",R-8,Derived\n", 1)+"F-150,,Copied row\n")
	p = pull(t, c, sdk.KindRisk, "")
	want = path + ":151 and " + path + ":205 both have id F-150: give each row its own id (until then the hub takes none of them)"
	if r := p.records[149]; r.ExternalID != "F-150" || r.Problem != want {
		t.Errorf("the clash of id F-150: %+v, want problem %q", r, want)
	}
	for _, r := range p.records {
		if r.Problem != "" && r.ExternalID != "F-150" {
			t.Errorf("a record with a problem that has none: %+v", r)
		}
	}
	if n := len(p.records); n != 203 {
		t.Errorf("pull of 204 rows, two with id F-150: %d records, want 203", n)
	}
	before := readFile(t, path)
	_, err := c.Push(context.Background(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{
		create("x"), {Op: sdk.OpUpdate, ExternalID: "F-150", Fields: map[string]string{sdk.FieldTitle: "Which?"}}}})
	if want := path + ":205: id F-150 again (first at " + path + ":151)"; err == nil || !strings.Contains(err.Error(), want) || sdk.ClassOf(err) != sdk.ClassPermanent {
		t.Errorf("an update of F-150, which two rows have = %v, want a permanent error with %q", err, want)
	}
	if readFile(t, path) != before {
		t.Errorf("a refused push changed the file")
	}
	// A push that changes neither row writes them as they were.
	res, err := c.Push(context.Background(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create("x")}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("a create beside the clash: %v %+v", err, res)
	}
	if got := strings.Count(readFile(t, path), "F-150,"); got != 2 {
		t.Errorf("after a create, %d rows with id F-150, want the 2", got)
	}
}

// A pull resumed from a mid-pull cursor goes on from where it stopped when
// the file is the same, and starts again from where the interrupted pull
// started when the file changed.
func TestMidPullCursors(t *testing.T) {
	dir := t.TempDir()
	c := configured(t, dir, formatCSV)
	const n = 1234
	changes := make([]sdk.Change, n)
	for i := range changes {
		changes[i] = create(fmt.Sprintf("r%04d", i))
	}
	mustOK(t, push(t, c, changes...))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rewriteTimes(t, c, func(i int) time.Time { return start.Add(time.Duration(i) * time.Minute) })
	full := pull(t, c, sdk.KindRisk, "")

	// Row 1000 is updated in place (a later time): a pull from the
	// full pull's cursor has it, and the newest row again.
	mustOK(t, push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: "F-1000", Fields: map[string]string{"owner": "anna"}}))
	inc := pull(t, c, sdk.KindRisk, full.cursor)
	if len(inc.records) != 2 {
		t.Fatalf("incremental pull: %d records, want 2", len(inc.records))
	}

	// Interrupted after its first batch, a full pull goes on at row 501.
	var first sdk.Batch
	stop := fmt.Errorf("stop")
	err := c.Pull(context.Background(), sdk.PullRequest{Kind: sdk.KindRisk}, func(b sdk.Batch) error { first = b; return stop })
	if err != stop || len(first.Records) != 500 {
		t.Fatalf("interrupted pull: %v, %d records", err, len(first.Records))
	}
	rest := pull(t, c, sdk.KindRisk, first.Cursor)
	if len(rest.records) != n-500 || rest.records[0].ExternalID != "F-501" {
		t.Errorf("resumed pull: %d records from %s, want %d from F-501", len(rest.records), rest.records[0].ExternalID, n-500)
	}
	if rest.cursor != inc.cursor {
		t.Errorf("resumed pull ends at %q, want the cursor of a whole pull %q", rest.cursor, inc.cursor)
	}
	// The file changes in between: the pull starts again (a full pull
	// here, as the interrupted one was).
	mustOK(t, push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: "F-3", Fields: map[string]string{"owner": "bram"}}))
	again := pull(t, c, sdk.KindRisk, first.Cursor)
	if len(again.records) != n {
		t.Errorf("pull from a mid-pull cursor of a changed file: %d records, want all %d", len(again.records), n)
	}
}

// When the guess that the connector wrote the file last is wrong (an
// editor that saves whole seconds), the pull reads the file a second time
// for the rows the first read left out: every row comes.
func TestPullOfAHandEditAtAWholeSecond(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.csv")
	c := configured(t, dir, formatCSV)
	var changes []sdk.Change
	for i := range 1200 {
		changes = append(changes, create(fmt.Sprintf("r%04d", i)))
	}
	mustOK(t, push(t, c, changes...))
	hourAgo := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	rewriteTimes(t, c, func(i int) time.Time { return hourAgo.Add(time.Duration(i) * time.Second) })
	full := pull(t, c, sdk.KindRisk, "")

	edited := strings.Replace(readFile(t, path), ",r0005,", ",r0005 (edited),", 1)
	writeFile(t, path, edited)
	at := time.Now().Truncate(time.Second)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
	var batches []sdk.Batch
	err := c.Pull(context.Background(), sdk.PullRequest{Kind: sdk.KindRisk, Cursor: full.cursor}, func(b sdk.Batch) error {
		batches = append(batches, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, b := range batches {
		for _, r := range b.Records {
			seen[r.ExternalID] = true
		}
	}
	if len(seen) != 1200 || !seen["F-6"] {
		t.Fatalf("pull after a hand edit: %d distinct records (F-6: %v), want all 1200", len(seen), seen["F-6"])
	}
	// Resumed from the middle of the second read, it goes on there.
	var mid string
	for _, b := range batches[:len(batches)-1] {
		if strings.Contains(decodeForTest(t, b.Cursor), `"ps":1`) {
			mid = b.Cursor
		}
	}
	if mid == "" {
		t.Fatalf("no batch of the second read has a cursor of it: %d batches", len(batches))
	}
	if rest := pull(t, c, sdk.KindRisk, mid); len(rest.records) == 0 || len(rest.records) >= 1200 || rest.cursor != batches[len(batches)-1].Cursor {
		t.Errorf("pull from a cursor of the second read: %d records, cursor %q", len(rest.records), rest.cursor)
	}
}

// decodeForTest returns the JSON inside a cursor.
func decodeForTest(t *testing.T, cursor string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
