package fault

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

func configured(t *testing.T, extra map[string]any) (sdk.Connector, string) {
	t.Helper()
	dir := t.TempDir()
	m := map[string]any{"dir": dir}
	for k, v := range extra {
		m[k] = v
	}
	cfg, err := sdk.ConfigFromMap(m)
	if err != nil {
		t.Fatal(err)
	}
	c := New()
	if err := c.Configure(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return c, dir
}

func pull(t *testing.T, c sdk.Connector, cursor string) []sdk.Batch {
	t.Helper()
	var out []sdk.Batch
	err := c.Pull(context.Background(), sdk.PullRequest{Kind: sdk.KindRisk, Cursor: cursor}, func(b sdk.Batch) error {
		out = append(out, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPushPullFind(t *testing.T) {
	ctx := context.Background()
	c, dir := configured(t, map[string]any{"page_size": 2})
	push := func(chs ...sdk.Change) []sdk.Result {
		t.Helper()
		res, err := c.Push(ctx, sdk.PushRequest{Kind: sdk.KindRisk, Changes: chs})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	create := func(marker, title string) sdk.Change {
		return sdk.Change{Op: sdk.OpCreate, Marker: marker, Fields: map[string]string{"title": title}}
	}
	res := push(create("usmhub-a", "A"), create("usmhub-b", "B"), create("usmhub-c", "C"))
	if res[2].ExternalID != "X-3" || res[2].Version != "3" || res[2].Err != nil {
		t.Fatalf("results = %+v", res)
	}
	// A create retried: the record carrying its marker, nothing written.
	if again := push(create("usmhub-b", "B")); again[0].ExternalID != "X-2" || again[0].Version != "2" {
		t.Fatalf("a retried create = %+v", again)
	}
	if st, _ := ReadState(dir); st.PushWrites != 3 || len(st.Records) != 3 {
		t.Fatalf("state: %d writes, %d records", st.PushWrites, len(st.Records))
	}

	batches := pull(t, c, "")
	if len(batches) != 2 || len(batches[0].Records) != 2 || batches[0].Cursor != "2" || batches[1].Cursor != "3" {
		t.Fatalf("batches = %+v", batches)
	}
	if b := pull(t, c, "3"); len(b) != 1 || len(b[0].Records) != 0 || b[0].Cursor != "3" {
		t.Fatalf("pull from the end = %+v", b)
	}

	// Optimistic concurrency, then an update and a delete.
	stale := push(sdk.Change{Op: sdk.OpUpdate, ExternalID: "X-1", Version: "0", Fields: map[string]string{"title": "A2"}})
	if stale[0].Err == nil || stale[0].Err.Class != sdk.ClassConflict {
		t.Fatalf("a stale update = %+v", stale[0])
	}
	push(sdk.Change{Op: sdk.OpUpdate, ExternalID: "X-1", Version: "1", Fields: map[string]string{"title": "A2"}},
		sdk.Change{Op: sdk.OpDelete, ExternalID: "X-2"})
	b := pull(t, c, "3")
	if len(b) != 1 || len(b[0].Records) != 2 || b[0].Records[0].Fields["title"] != "A2" || !b[0].Records[1].Deleted || b[0].Cursor != "5" {
		t.Fatalf("pull after an update and a delete = %+v", b)
	}
	rec, err := c.Find(ctx, sdk.KindRisk, "usmhub-c")
	if err != nil || rec == nil || rec.ExternalID != "X-3" {
		t.Fatalf("find = %+v, %v", rec, err)
	}
	st, _ := ReadState(dir)
	if st.Calls["push"] != 4 || st.Calls["pull"] != 3 || st.Calls["find"] != 1 {
		t.Errorf("calls = %v", st.Calls)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	c, dir := configured(t, map[string]any{"transient_every": 2, "retry_after_ms": 1500, "search_lag_ms": 60000})
	find := func() (*sdk.Record, error) { return c.Find(ctx, sdk.KindRisk, "usmhub-x") }
	if _, err := find(); err != nil {
		t.Fatalf("call 1: %v", err)
	}
	_, err := find()
	var se *sdk.Error
	if !errors.As(err, &se) || se.Class != sdk.ClassTransient || se.RetryAfter != 1500*time.Millisecond {
		t.Fatalf("call 2: err = %v, want transient with a Retry-After", err)
	}
	if err := EditRemote(dir, func(s *State) error { s.Create("usmhub-x", nil); return nil }); err != nil {
		t.Fatal(err)
	}
	// faults.json replaces the config's faults; the search lag hides the
	// record just made.
	if err := SetFaults(dir, Faults{SearchLagMS: 60000}); err != nil {
		t.Fatal(err)
	}
	if rec, err := find(); rec != nil || err != nil {
		t.Fatalf("find within the search lag = %+v, %v", rec, err)
	}
	if d, _ := c.Describe(ctx); d.SearchLag != time.Minute {
		t.Errorf("search lag = %s", d.SearchLag)
	}
	if err := SetFaults(dir, Faults{PermanentError: "401 unauthorized"}); err != nil {
		t.Fatal(err)
	}
	if _, err := find(); sdk.ClassOf(err) != sdk.ClassPermanent {
		t.Fatalf("err = %v, want permanent", err)
	}
	if err := SetFaults(dir, Faults{InvalidTitles: []string{"bad"}, ConflictOnUpdateIDs: []string{"X-1"}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Push(ctx, sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{
		{Op: sdk.OpCreate, Fields: map[string]string{"title": "bad"}},
		{Op: sdk.OpUpdate, ExternalID: "X-1", Fields: map[string]string{"title": "new"}},
		{Op: sdk.OpCreate, Fields: map[string]string{"title": "good"}},
	}})
	if err != nil || res[0].Err.Class != sdk.ClassInvalid || res[1].Err.Class != sdk.ClassConflict || res[2].Err != nil {
		t.Fatalf("push = %+v, %v", res, err)
	}
}

// Crash points are checked where they are set, and each fires once: the
// remote marks it spent as it fires. (Where the process dies, and how,
// e2e/crash proves with the built plugin.)
func TestCrashPoints(t *testing.T) {
	for _, tt := range []struct {
		at, how string
		ok      bool
	}{
		{"push:after_commit:1", "", true},
		{"push:before_apply:3", "hold", true},
		{"pull:after_page:2", "kill", true},
		{"pull:after_page:2", "exit", true},
		{"pull:after_commit:1", "", false}, // no such point of a pull
		{"push:after_commit:0", "", false},
		{"push:after_commit", "", false},
		{"push:after_commit:x", "", false},
		{"push:after_commit:1", "explode", false},
	} {
		err := Faults{CrashAt: tt.at, CrashHow: tt.how}.check()
		if (err == nil) != tt.ok {
			t.Errorf("crash_at %q, crash_how %q: err = %v, want ok %v", tt.at, tt.how, err, tt.ok)
		}
	}
	cfg, err := sdk.ConfigFromMap(map[string]any{"dir": t.TempDir(), "crash_at": "push:sideways:1"})
	if err != nil {
		t.Fatal(err)
	}
	var ce *sdk.ConfigError
	if err := New().Configure(context.Background(), cfg); !errors.As(err, &ce) || ce.Problems[0].Attribute != "crash_at" {
		t.Errorf("a bad crash_at in the config: err = %v, want a config error naming crash_at", err)
	}
	c, dir := configured(t, nil)
	if err := SetFaults(dir, Faults{CrashAt: "push:after_commit:one"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "faults.json") {
		t.Errorf("a bad crash_at in faults.json: err = %v, want one naming faults.json", err)
	}

	f := Faults{CrashAt: "push:after_commit:2"}
	s := &State{}
	if spend(s, f, crashPoint{"push", "after_commit", 1}) || spend(s, f, crashPoint{"push", "before_apply", 2}) {
		t.Fatal("a point that is not the crash point fired")
	}
	if !spend(s, f, crashPoint{"push", "after_commit", 2}) || spend(s, f, crashPoint{"push", "after_commit", 2}) {
		t.Fatal("the crash point did not fire once, then never again")
	}
	if len(s.Spent) != 1 || s.Spent[0] != "push:after_commit:2" {
		t.Errorf("spent = %q", s.Spent)
	}
}

// Pull records the cursor of each call, so tests see where a resumed pull
// started.
func TestPullCursorsRecorded(t *testing.T) {
	c, dir := configured(t, nil)
	pull(t, c, "")
	pull(t, c, "7")
	if st, _ := ReadState(dir); len(st.PullCursors) != 2 || st.PullCursors[0] != "" || st.PullCursors[1] != "7" {
		t.Errorf("pull cursors = %q, want \"\" then \"7\"", st.PullCursors)
	}
}
