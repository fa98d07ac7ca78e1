//go:build unix

package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// New files — a created risks.csv, a report, the lock file — respect the
// umask: 0640 less it for data, 0600 less it for the lock file; and a
// replaced file keeps its own mode.
func TestNewFilesRespectTheUmask(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		umask      int
		data, lock fs.FileMode
	}{
		{0o022, 0o640, 0o600},
		{0o077, 0o600, 0o600},
		{0o027, 0o640, 0o600},
	} {
		old := syscall.Umask(tt.umask)
		dir := t.TempDir()
		c := configured(t, dir, formatCSV)
		if _, err := c.Push(ctx, sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create("nieuw")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Publish(ctx, sdk.Report{Key: "k", Title: "t", Markdown: "x"}); err != nil {
			t.Fatal(err)
		}
		syscall.Umask(old)
		for name, want := range map[string]fs.FileMode{"risks.csv": tt.data, "reports/k.md": tt.data, lockName: tt.lock} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("umask %03o: %s is %v, want %v", tt.umask, name, fi.Mode().Perm(), want)
			}
		}
		if fi, err := os.Stat(filepath.Join(dir, "reports")); err != nil || fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("umask %03o: reports folder %v %v, want no access for others", tt.umask, fi.Mode(), err)
		}
	}
	// A replaced file keeps its mode, whatever the umask.
	dir := t.TempDir()
	c := configured(t, dir, formatCSV)
	writeFile(t, filepath.Join(dir, "risks.csv"), "title\nold\n")
	if err := os.Chmod(filepath.Join(dir, "risks.csv"), 0o664); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(ctx, sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create("nieuw")}}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "risks.csv")); err != nil || fi.Mode().Perm() != 0o664 {
		t.Errorf("a replaced file's mode: %v %v, want 0664 kept", fi.Mode(), err)
	}
}

// A symbolic link planted in the connector's folder never leads a write
// out of it: not a report's file, not the reports folder, not risks.csv.
// The file outside stays as it was; a link inside the folder is followed.
func TestWritesNeverFollowALinkOut(t *testing.T) {
	ctx := context.Background()
	outside := filepath.Join(t.TempDir(), "victim")
	plant := func(t *testing.T, target, link string) {
		t.Helper()
		writeFile(t, outside, "precious\n")
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(t *testing.T, what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "symbolic link leads it out of the folder") {
			t.Errorf("%s through a link out of the folder = %v, want it refused", what, err)
		}
		if got := readFile(t, outside); got != "precious\n" {
			t.Errorf("%s wrote outside the folder: %q", what, got)
		}
	}
	t.Run("report file", func(t *testing.T) {
		dir := t.TempDir()
		plant(t, outside, filepath.Join(dir, "reports", "k.md"))
		_, err := configured(t, dir, formatCSV).Publish(ctx, sdk.Report{Key: "k", Title: "t", Markdown: "pwned"})
		refused(t, "Publish", err)
	})
	t.Run("reports folder", func(t *testing.T) {
		dir := t.TempDir()
		plant(t, filepath.Dir(outside), filepath.Join(dir, "reports"))
		_, err := configured(t, dir, formatCSV).Publish(ctx, sdk.Report{Key: "victim", Title: "t", Markdown: "pwned"})
		refused(t, "Publish", err)
	})
	t.Run("risks file", func(t *testing.T) {
		dir := t.TempDir()
		plant(t, outside, filepath.Join(dir, "risks.csv"))
		writeFile(t, outside, "title\nprecious\n")
		_, err := configured(t, dir, formatCSV).Push(ctx, sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create("nieuw")}})
		if err == nil || !strings.Contains(err.Error(), "symbolic link leads it out of the folder") || readFile(t, outside) != "title\nprecious\n" {
			t.Errorf("Push through a link out of the folder = %v, file %q; want it refused", err, readFile(t, outside))
		}
	})
	t.Run("link inside", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "real.md"), "old\n")
		if err := os.MkdirAll(filepath.Join(dir, "reports"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../real.md", filepath.Join(dir, "reports", "k.md")); err != nil {
			t.Fatal(err)
		}
		if _, err := configured(t, dir, formatCSV).Publish(ctx, sdk.Report{Key: "k", Title: "t", Markdown: "new"}); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, filepath.Join(dir, "real.md")); !strings.Contains(got, "new") {
			t.Errorf("a link inside the folder was not followed: %q", got)
		}
	})
}
