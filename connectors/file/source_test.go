package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// wantSourceError fails the test unless err is a permanent error that
// names path and contains hint (what to check).
func wantSourceError(t *testing.T, call string, err error, path, hint string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s succeeded; want a permanent error naming %s", call, path)
	case sdk.ClassOf(err) != sdk.ClassPermanent:
		t.Errorf("%s = %v: class %s, want permanent", call, err, sdk.ClassOf(err))
	case !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), hint):
		t.Errorf("%s = %v; want it to name %s and say %q", call, err, path, hint)
	}
}

// A data folder that is gone (a typo, a disk not mounted) fails every call
// that touches it, in process and over gRPC, with a permanent error naming
// the folder; no call creates it. Before, a pull listed nothing (the hub
// took that for "everything deleted"), a push failed as transient and a
// publish created the mistyped folder.
func TestMissingDataFolderFailsEveryCall(t *testing.T) {
	for _, tt := range []struct {
		name string
		conn func(t *testing.T, dir string) sdk.Connector
	}{
		{"direct", func(t *testing.T, dir string) sdk.Connector { return configured(t, dir, formatCSV) }},
		{"grpc", func(t *testing.T, dir string) sdk.Connector {
			c := connectortest.InProcess(New)(t)
			cfg, _ := sdk.ConfigFromMap(map[string]any{"dir": dir})
			if err := c.Configure(t.Context(), cfg); err != nil {
				t.Fatalf("Configure: %v", err)
			}
			return c
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "sheet")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "risks.csv"), "key,title\nR-1,Een\n")
			writeFile(t, filepath.Join(dir, "votes.csv"), "risk,voter,weight\nR-1,anna,1\n")
			writeFile(t, filepath.Join(dir, "scans.csv"), "kind,method,method_version,date,dimension,score\nbaseline,USM,1,2026-01-01,agree,2\n")
			c := tt.conn(t, dir)
			// Cursors of pulls made while the folder was there: an
			// incremental pull must fail as well as a full one.
			cursors := map[sdk.EntityKind]string{}
			for _, kind := range []sdk.EntityKind{sdk.KindRisk, sdk.KindVote, sdk.KindScan} {
				err := c.Pull(ctx, sdk.PullRequest{Kind: kind}, func(b sdk.Batch) error { cursors[kind] = b.Cursor; return nil })
				if err != nil {
					t.Fatalf("pull %s with the folder there: %v", kind, err)
				}
			}
			// The disk is unmounted.
			if err := os.Rename(dir, dir+".away"); err != nil {
				t.Fatal(err)
			}
			const hint = "mounted"
			for kind, cur := range cursors {
				for _, from := range []string{"", cur} {
					err := c.Pull(ctx, sdk.PullRequest{Kind: kind, Cursor: from}, func(sdk.Batch) error { return nil })
					wantSourceError(t, "Pull("+string(kind)+", cursor "+from+")", err, dir, hint)
				}
			}
			_, err := c.Push(ctx, sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create("nieuw")}})
			wantSourceError(t, "Push", err, dir, hint)
			_, err = c.Find(ctx, sdk.KindRisk, "usmhub-nieuw")
			wantSourceError(t, "Find", err, dir, hint)
			_, err = c.Publish(ctx, sdk.Report{Key: "register-2026-W10", Kind: "register", Title: "Register", Markdown: "x"})
			wantSourceError(t, "Publish", err, dir, hint)
			err = c.Check(ctx)
			if err == nil || !strings.Contains(err.Error(), dir+" does not exist") || !strings.Contains(err.Error(), hint) {
				t.Errorf("Check = %v; want it to say %s does not exist and to check it is %s", err, dir, hint)
			}
			if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after the calls, %s is there (%v): the connector must not create its data folder", dir, err)
			}
		})
	}
}

// Inside an existing folder, a data file that is not there is an empty list
// (TestPullWithoutFiles); but a file whose own folder is missing, a link to
// nothing, or a file that cannot be read (as root, untested) fails the call.
func TestUnusableDataFilesFailTheCall(t *testing.T) {
	ctx := context.Background()
	t.Run("file in a missing subfolder", func(t *testing.T) {
		dir := t.TempDir()
		c := New().(*Connector)
		cfg, _ := sdk.ConfigFromMap(map[string]any{"dir": dir, "votes_file": "board/votes.csv", "reports_dir": "out/reports"})
		if err := c.Configure(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		board := filepath.Join(dir, "board")
		_, err := tryPull(c, sdk.KindVote, "")
		wantSourceError(t, "Pull(vote)", err, board, "does not exist")
		err = c.Check(ctx)
		wantSourceError(t, "Check", err, board, "does not exist")
		if err := os.Mkdir(board, 0o755); err != nil {
			t.Fatal(err)
		}
		err = c.Check(ctx)
		wantSourceError(t, "Check (reports_dir)", err, filepath.Join(dir, "out"), "does not exist")
		_, err = c.Publish(ctx, sdk.Report{Key: "k", Title: "t"})
		wantSourceError(t, "Publish", err, filepath.Join(dir, "out"), "does not exist")
		if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := c.Check(ctx); err != nil {
			t.Errorf("Check with every folder there = %v", err)
		}
		if p := pull(t, c, sdk.KindVote, ""); len(p.records) != 0 {
			t.Errorf("pull of votes from an empty board folder: %d records", len(p.records))
		}
		if _, err := c.Publish(ctx, sdk.Report{Key: "k", Title: "t"}); err != nil {
			t.Errorf("Publish makes the reports folder in a folder that is there: %v", err)
		}
	})
	t.Run("link to nothing", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(t.TempDir(), "unmounted", "risks.csv")
		if err := os.Symlink(target, filepath.Join(dir, "risks.csv")); err != nil {
			t.Skipf("requires symbolic links (os.Symlink failed: %v)", err)
		}
		c := configured(t, dir, formatCSV)
		_, err := tryPull(c, sdk.KindRisk, "")
		wantSourceError(t, "Pull(risk)", err, target, "mounted")
		_, err = c.Push(ctx, sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create("nieuw")}})
		wantSourceError(t, "Push", err, target, "mounted")
		if _, err := c.Find(ctx, sdk.KindRisk, "usmhub-x"); err == nil {
			t.Errorf("Find through a link to nothing succeeded")
		}
		if err := c.Check(ctx); err == nil {
			t.Errorf("Check with a link to nothing succeeded")
		}
		if fi, err := os.Lstat(filepath.Join(dir, "risks.csv")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link was replaced: %v", err)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir()
		votes := filepath.Join(dir, "votes.csv")
		if os.Geteuid() == 0 {
			// Root reads any file whatever its mode (CI runs as root): a
			// folder in the file's place cannot be read either.
			if err := os.Mkdir(votes, 0o755); err != nil {
				t.Fatal(err)
			}
		} else {
			writeFile(t, votes, "risk,voter,weight\nR-1,anna,1\n")
			if err := os.Chmod(votes, 0); err != nil {
				t.Fatal(err)
			}
		}
		_, err := tryPull(configured(t, dir, formatCSV), sdk.KindVote, "")
		wantSourceError(t, "Pull(vote)", err, votes, "")
	})
}
