package main

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestBackupWhileServingAndRestore: usmhub backup copies the store while
// serve holds it open; the copy, put in place of a store, is that store
// (restore); an existing file is refused.
func TestBackupWhileServingAndRestore(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("inventory.csv", inventory(300))
	h.OK("risk", "import", "inventory.csv")
	want := h.list()

	serve := exec.Command(usmhubBin, "serve", "-listen", freePort(t))
	serve.Dir = h.Dir
	serve.Env = append(os.Environ(), "USMHUB_CONFIG=")
	var logs lockedBuffer
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = serve.Process.Kill(); _ = serve.Wait() }()
	eventually(t, 20*time.Second, "serve started", func() bool { return strings.Contains(logs.String(), "daemon started") }, logs.String)

	out := h.OK("backup", "backup.db")
	if !strings.Contains(out, "backup.db") || !strings.Contains(out, "integrity ok") {
		t.Errorf("backup said: %q", out)
	}
	if _, errs, code := h.Run("backup", "backup.db"); code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("a second backup onto backup.db: exit %d, %q; want exit 1 saying it exists", code, errs)
	}

	// Restore: the backup as the store of a fresh hub.
	r := newHub(t, testConfig)
	if err := os.Mkdir(filepath.Join(r.Dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(h.Dir, "backup.db"))
	if err != nil {
		t.Fatal(err)
	}
	r.Write("data/usmhub.db", string(b))
	if diff := cmp.Diff(want, r.list()); diff != "" {
		t.Errorf("the restored store differs (-backed up +restored):\n%s", diff)
	}
}

// TestOlderBinaryRefusesNewerStore: a store a newer usmhub migrated is
// refused with a message that says what to do, and left as it was.
func TestOlderBinaryRefusesNewerStore(t *testing.T) {
	h := newHub(t, testConfig)
	h.OK("risk", "add", "-title", "kept")
	db, err := sql.Open("sqlite3", filepath.Join(h.Dir, "data", "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 'x')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, errs, code := h.Run("risk", "list")
	if code != 1 || !strings.Contains(errs, "database schema is newer than this usmhub") ||
		!strings.Contains(errs, "schema version 999") || !strings.Contains(errs, "use a usmhub at least as new") {
		t.Errorf("risk list on a newer store: exit %d, %q", code, errs)
	}
}
