package host

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestLaunchLockFile: a type recorded in the lock launches only with the
// recorded binary, and the refusal names both digests and the fix;
// RequirePins refuses a type pinned nowhere and takes either pin.
func TestLaunchLockFile(t *testing.T) {
	path := filepath.Join(binDir, "usmhub-connector-test")
	actual, err := FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("ab", 32)
	const lockFile = "/etc/usmhub/usmhub.lock.hcl"

	h := newHost(t, Options{Lock: map[string]string{"test": "sha256:" + actual}, LockFile: lockFile, RequirePins: true})
	i := launch(t, h, "")
	if i.Binary().SHA256 != actual {
		t.Errorf("Binary().SHA256 = %s", i.Binary().SHA256)
	}

	h = newHost(t, Options{Lock: map[string]string{"test": other}, LockFile: lockFile})
	_, err = h.Launch(context.Background(), "test", "main", "")
	if err == nil {
		t.Fatal("a binary the lock file does not record was launched")
	}
	for _, want := range []string{"sha256:" + actual, "sha256:" + other, lockFile, path, "run `usmhub plugins lock`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// The block's own pin does not overrule the lock file.
	if _, err = h.Launch(context.Background(), "test", "main", actual); err == nil {
		t.Error("a pinned binary the lock file does not record was launched")
	}

	h = newHost(t, Options{RequirePins: true, LockFile: lockFile})
	_, err = h.Launch(context.Background(), "test", "main", "")
	if err == nil || !strings.Contains(err.Error(), "hub.require_plugin_pins is set") || !strings.Contains(err.Error(), "usmhub plugins lock") {
		t.Fatalf("unpinned launch under RequirePins = %v", err)
	}
	launch(t, h, actual) // pinned in its block
	if n := len(h.Instances()); n != 1 {
		t.Errorf("%d instances, want 1", n)
	}
}
