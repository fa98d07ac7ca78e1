package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
)

// settleNow makes files count as settled at once (see settleTime) for the
// test.
func settleNow(t *testing.T) {
	old := settleTime
	settleTime = 0
	t.Cleanup(func() { settleTime = old })
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// hashes returns FileSHA256 of path and how many files it read in full.
func hashes(t *testing.T, path string) (string, int64) {
	t.Helper()
	before := digests.hashed.Load()
	sum, err := FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum, digests.hashed.Load() - before
}

func TestDigestCacheRehashesAChangedFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("requires Linux: the digest cache keys on its stat fields")
	}
	settleNow(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "bin")
	v1 := []byte(strings.Repeat("version 1 ", 1000))
	if err := os.WriteFile(path, v1, 0o755); err != nil {
		t.Fatal(err)
	}
	check := func(step string, want []byte, wantReads int64) {
		t.Helper()
		sum, reads := hashes(t, path)
		if sum != sha256Hex(want) || reads != wantReads {
			t.Errorf("%s: FileSHA256 = %s after %d reads, want %s after %d", step, sum, reads, sha256Hex(want), wantReads)
		}
	}
	check("first", v1, 1)
	check("unchanged", v1, 0)

	// Same size, written in place, mtime put back: ctime tells.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	v2 := []byte(strings.Repeat("version 2 ", 1000))
	if err := os.WriteFile(path, v2, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	check("rewritten in place, mtime restored", v2, 1)
	check("unchanged again", v2, 0)

	// Replaced by another file (a rename over it: another inode).
	other := filepath.Join(dir, "new")
	if err := os.WriteFile(other, v1, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	check("replaced", v1, 1)

	// A chmod only moves ctime: hashed again, same digest.
	if err := os.Chmod(path, 0o700); err != nil {
		t.Fatal(err)
	}
	check("chmod", v1, 1)
}

func TestDigestCacheForgetsNothingUnsettled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("requires Linux: the digest cache keys on its stat fields")
	}
	// settleTime as shipped: a file written just now is hashed every time.
	path := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(path, []byte("fresh"), 0o755); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if sum, reads := hashes(t, path); reads != 1 || sum != sha256Hex([]byte("fresh")) {
			t.Fatalf("FileSHA256 of a fresh file = %s after %d reads, want a full read", sum, reads)
		}
	}
}

// go-plugin's own check (SecureConfig.Check, right before exec) goes through
// pinHash: answered from the cache for the unchanged file, and a file
// changed since it was cached fails it.
func TestPinHashInSecureConfig(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("requires Linux: the digest cache keys on its stat fields")
	}
	settleNow(t)
	path := filepath.Join(t.TempDir(), "bin")
	v1 := []byte(strings.Repeat("one", 5000))
	if err := os.WriteFile(path, v1, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(v1)
	secureCheck := func() (bool, int64) {
		t.Helper()
		before := digests.hashed.Load()
		ok, err := (&plugin.SecureConfig{Checksum: sum[:], Hash: newPinHash()}).Check(path)
		if err != nil {
			t.Fatal(err)
		}
		return ok, digests.hashed.Load() - before
	}
	if ok, reads := secureCheck(); !ok || reads != 1 {
		t.Fatalf("first check = %v after %d reads, want true after 1", ok, reads)
	}
	if ok, reads := secureCheck(); !ok || reads != 0 {
		t.Fatalf("second check = %v after %d reads, want true from the cache (is go-plugin still handing the file to ReadFrom?)", ok, reads)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("two", 5000)), 0o755); err != nil {
		t.Fatal(err)
	}
	if ok, reads := secureCheck(); ok || reads != 1 {
		t.Fatalf("check of a changed file = %v after %d reads, want false after 1", ok, reads)
	}

	// Anything but one open file first is plain sha256.
	h := newPinHash()
	_, _ = h.Write([]byte("x"))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := h.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), sha256Hex(append([]byte("x"), []byte(strings.Repeat("two", 5000))...)); got != want {
		t.Errorf("pinHash of a write and a file = %s, want %s", got, want)
	}
}

// A pinned launch hashes an unchanged binary once per process; a binary
// changed since is hashed again and refused.
func TestPinnedLaunchRefusesAChangedBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("requires Linux: the digest cache keys on its stat fields")
	}
	settleNow(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "usmhub-connector-test")
	orig, err := os.ReadFile(filepath.Join(binDir, "usmhub-connector-test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, orig, 0o755); err != nil {
		t.Fatal(err)
	}
	pin := sha256Hex(orig)
	h := newHost(t, Options{Dirs: []string{dir}})
	launchPinned := func() (int64, error) {
		before := digests.hashed.Load()
		i, err := h.Launch(context.Background(), "test", "main", pin)
		if err == nil {
			_ = i.Close()
		}
		return digests.hashed.Load() - before, err
	}
	if reads, err := launchPinned(); err != nil || reads != 1 {
		t.Fatalf("first pinned launch: %v after %d full reads, want success after 1", err, reads)
	}
	if reads, err := launchPinned(); err != nil || reads != 0 {
		t.Fatalf("second pinned launch: %v after %d full reads, want success from the cache", err, reads)
	}

	// Changed in place, same size, mtime put back: refused before it runs.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := append([]byte{}, orig...)
	changed[len(changed)-1] ^= 1
	if err := os.WriteFile(path, changed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, time.Time{}, fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	reads, err := launchPinned()
	want := "connector test.main: plugin sha256 mismatch: expected " + pin + ", got " + sha256Hex(changed)
	if err == nil || !strings.HasPrefix(err.Error(), want) || reads != 1 {
		t.Fatalf("pinned launch of a changed binary: %v after %d full reads\nwant %s… after 1", err, reads, want)
	}

	// The original back in place: accepted again.
	if err := os.WriteFile(path, orig, 0o755); err != nil {
		t.Fatal(err)
	}
	if reads, err := launchPinned(); err != nil || reads == 0 {
		t.Fatalf("pinned launch of the original put back: %v after %d full reads, want success after a read", err, reads)
	}
}
