package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// Every bad change gets its own invalid result naming the problem; the good
// ones of the same batch are written.
func TestPushValidation(t *testing.T) {
	c := configured(t, t.TempDir(), formatCSV)
	with := func(k, v string) map[string]string {
		f := risk("ok")
		f[k] = v
		return f
	}
	bad := []struct {
		fields map[string]string
		want   string
	}{
		{with("likelihood", "high"), `invalid: likelihood must be a whole number from 1 to 5, not "high"`},
		{with("impact", "6"), `invalid: impact must be a whole number from 1 to 5, not "6"`},
		{with("effort", "-1"), `invalid: effort must be a number of 0 or more, not "-1"`},
		{with("kind", "risk"), `invalid: kind must be threat or opportunity, not "risk"`},
		{with("status", "done"), `invalid: status must be one of proposed, accepted, planned, in_progress, realized, rejected, not "done"`},
		{with("process", "plan"), `invalid: process must be agree, change, recover, operate, improve or empty, not "plan"`},
		{with("title", "  "), "invalid: title must not be empty"},
		{with("colour", "red"), `invalid: "colour" is not a risk field (the file connector stores key, title, description, kind, process, source, likelihood, impact, effort, owner, status)`},
		{map[string]string{"kind": "threat", "likelihood": "0"}, `invalid: likelihood must be a whole number from 1 to 5, not "0"; title is required`},
	}
	changes := []sdk.Change{create("first")}
	for i, b := range bad {
		changes = append(changes, sdk.Change{Op: sdk.OpCreate, Marker: fmt.Sprintf("usmhub-bad-%d", i), Fields: b.fields})
	}
	changes = append(changes, create("last"))
	res := push(t, c, changes...)
	for i, b := range bad {
		if r := res[i+1]; r.Err == nil || r.Err.Error() != b.want {
			t.Errorf("create with %v: %v, want %q", b.fields, r.Err, b.want)
		}
	}
	if res[0].Err != nil || res[len(res)-1].Err != nil {
		t.Errorf("the good creates beside the bad ones: %v, %v", res[0].Err, res[len(res)-1].Err)
	}
	if p := pull(t, c, sdk.KindRisk, ""); len(p.records) != 2 {
		t.Errorf("the file holds %d risks, want the 2 good ones", len(p.records))
	}
}

func TestPushConflictsAndMissingRecords(t *testing.T) {
	c := configured(t, t.TempDir(), formatCSV)
	r := mustOK(t, push(t, c, create("a")))[0]
	up := mustOK(t, push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: r.ExternalID, Version: r.Version, Fields: map[string]string{"impact": "5"}}))[0]
	if !strings.HasPrefix(up.Version, "2-") {
		t.Errorf("version after one update = %s, want 2-…", up.Version)
	}
	for _, tt := range []struct {
		change sdk.Change
		want   string
		class  sdk.ErrorClass
	}{
		{sdk.Change{Op: sdk.OpUpdate, ExternalID: r.ExternalID, Version: r.Version, Fields: map[string]string{"impact": "1"}},
			fmt.Sprintf("risk F-1 changed since version %s (it is at %s): pull it first", r.Version, up.Version), sdk.ClassConflict},
		{sdk.Change{Op: sdk.OpDelete, ExternalID: r.ExternalID, Version: r.Version},
			fmt.Sprintf("risk F-1 changed since version %s (it is at %s): pull it first", r.Version, up.Version), sdk.ClassConflict},
		{sdk.Change{Op: sdk.OpUpdate, ExternalID: "F-99", Fields: map[string]string{"impact": "1"}}, "no risk F-99 in ", sdk.ClassPermanent},
		{sdk.Change{Op: "merge", ExternalID: r.ExternalID}, `unknown operation "merge"`, sdk.ClassInvalid},
	} {
		got := push(t, c, tt.change)[0].Err
		if got == nil || got.Class != tt.class || !strings.HasPrefix(got.Message, tt.want) {
			t.Errorf("%s %s: %v, want %s: %s…", tt.change.Op, tt.change.ExternalID, got, tt.class, tt.want)
		}
	}
	del := mustOK(t, push(t, c, sdk.Change{Op: sdk.OpDelete, ExternalID: r.ExternalID}))[0]
	if again := push(t, c, sdk.Change{Op: sdk.OpDelete, ExternalID: r.ExternalID})[0]; again.Err != nil || again.Version != del.Version {
		t.Errorf("deleting again: %+v, want success with version %s", again, del.Version)
	}
	if got := push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: r.ExternalID, Fields: map[string]string{"impact": "1"}})[0].Err; got == nil || got.Message != "risk F-1 was deleted" {
		t.Errorf("update of a deleted risk: %v", got)
	}
}

// An update that changes nothing leaves the record and the file alone (no
// new version: nothing to echo back to the hub).
func TestNoOpUpdateWritesNothing(t *testing.T) {
	dir := t.TempDir()
	c := configured(t, dir, formatCSV)
	r := mustOK(t, push(t, c, create("a")))[0]
	path := filepath.Join(dir, "risks.csv")
	before, _ := os.Stat(path)
	again := mustOK(t, push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: r.ExternalID, Marker: "usmhub-a", Fields: map[string]string{"title": " a  "}}))[0]
	after, _ := os.Stat(path)
	if again.Version != r.Version || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("a no-op update: version %s → %s, file modified %v → %v; want both unchanged", r.Version, again.Version, before.ModTime(), after.ModTime())
	}
}

// After a write, the file's modification time is its newest updated_at
// (how pulls tell the connector's writes from a person's), and the folder
// holds no temporary file.
func TestWritesLeaveTheFolderClean(t *testing.T) {
	dir := t.TempDir()
	c := configured(t, dir, formatCSV)
	for i := range 5 {
		mustOK(t, push(t, c, create(fmt.Sprint(i))))
	}
	if _, err := c.Publish(context.Background(), sdk.Report{Key: "register", Title: "Register", Markdown: "x"}); err != nil {
		t.Fatal(err)
	}
	wantOnly(t, dir, lockName, "reports", "risks.csv")
	wantOnly(t, filepath.Join(dir, "reports"), "register.md")

	tab, rows, fi, err := loadTable(filepath.Join(dir, "risks.csv"), formatCSV, nil)
	if err != nil {
		t.Fatal(err)
	}
	var newest time.Time
	for _, r := range rows {
		if ts, ok := rowUpdatedAt(tab, r); ok && ts.After(newest) {
			newest = ts
		}
	}
	if !fi.ModTime().Equal(newest) {
		t.Errorf("file modified %v, newest updated_at %v; want them equal", fi.ModTime(), newest)
	}
}

// Two connectors on one folder (two hubs, or a hub and a relaunched plugin)
// push at once: the lock file keeps their writes apart, and nothing is lost.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	dir := t.TempDir()
	conns := []*Connector{configured(t, dir, formatCSV), configured(t, dir, formatCSV)}
	var wg sync.WaitGroup
	const each = 10
	for w := range 8 {
		wg.Go(func() {
			for i := range each {
				res, err := conns[w%2].Push(context.Background(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create(fmt.Sprintf("w%d-%d", w, i))}})
				if err != nil || res[0].Err != nil {
					t.Errorf("push: %v %v", err, res)
				}
			}
		})
	}
	wg.Wait()
	p := pull(t, conns[0], sdk.KindRisk, "")
	if len(p.records) != 8*each {
		t.Errorf("the file holds %d risks, want %d", len(p.records), 8*each)
	}
}

func TestPushOtherKinds(t *testing.T) {
	c := configured(t, t.TempDir(), formatCSV)
	_, err := c.Push(context.Background(), sdk.PushRequest{Kind: sdk.KindVote, Changes: []sdk.Change{{Op: sdk.OpCreate}}})
	if sdk.ClassOf(err) != sdk.ClassPermanent || err.Error() != "permanent: the file connector pushes risks only, not votes" {
		t.Errorf("push of votes = %v", err)
	}
}

func TestPublish(t *testing.T) {
	dir := t.TempDir()
	c := configured(t, dir, formatCSV)
	ctx := context.Background()
	rep := sdk.Report{Key: "sprint-3", Kind: "sprint", Title: "Sprint 3\nresultaten", Markdown: "Klaar:  \r\n\r\n- R-1\r\n"}
	first, err := c.Publish(ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "reports", "sprint-3.md")
	want := sdk.Published{URL: "file://" + filepath.ToSlash(path), ExternalID: "sprint-3", Created: true}
	if d := cmp.Diff(want, first); d != "" {
		t.Errorf("first publish (-want +got):\n%s", d)
	}
	if got := readFile(t, path); got != "# Sprint 3 resultaten\n\nKlaar:  \n\n- R-1\n" {
		t.Errorf("report file = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "reports", "sprint-3.html")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a report without HTML left an .html file: %v", err)
	}
	// Published again with its HTML form: both files, the .html beside the .md.
	rep.HTML = "<!DOCTYPE html><title>Sprint 3</title><svg></svg>\n"
	second, err := c.Publish(ctx, rep)
	want.Created = false
	if d := cmp.Diff(want, second); err != nil || d != "" {
		t.Errorf("second publish: %v (-want +got):\n%s", err, d)
	}
	if got := readFile(t, filepath.Join(dir, "reports", "sprint-3.html")); got != rep.HTML {
		t.Errorf("HTML report file = %q", got)
	}
	for _, key := range []string{"", "../escape", "a/b", ".hidden", strings.Repeat("k", 201)} {
		if _, err := c.Publish(ctx, sdk.Report{Key: key, Title: "x"}); sdk.ClassOf(err) != sdk.ClassInvalid {
			t.Errorf("Publish(key %q) = %v, want class invalid", key, err)
		}
	}
}
