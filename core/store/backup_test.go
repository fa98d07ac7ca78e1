package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/model"
)

// TestBackupWhileWriting: a backup taken while another goroutine commits
// risks one transaction after another is a whole, consistent store: it
// opens, has every risk of a prefix of the commits (each commit is two
// risks, so an odd count would be a torn transaction), and the writer goes
// on after it.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	for i := range 200 {
		createRisks(t, s, threat("t", fmt.Sprintf("seed %d", i)))
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	var commits atomic.Int64
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			err := s.Update(ctx, alice, func(tx Tx) error {
				a, b := threat("t", fmt.Sprintf("pair %d a", i)), threat("t", fmt.Sprintf("pair %d b", i))
				if err := tx.CreateRisk(&a); err != nil {
					return err
				}
				return tx.CreateRisk(&b)
			})
			if err != nil {
				done <- err
				return
			}
			commits.Add(1)
		}
	}()
	dest := filepath.Join(t.TempDir(), "backup.db")
	for commits.Load() < 5 { // the writer is under way
		time.Sleep(time.Millisecond)
	}
	info, err := s.Backup(ctx, dest)
	during := commits.Load()
	for commits.Load() < during+5 { // and goes on after
		time.Sleep(time.Millisecond)
	}
	close(stop)
	if werr := <-done; werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	migs, _ := parseMigrations(migrationFiles, migrationDir)
	if info.SchemaVersion != len(migs) || info.Bytes <= 0 || info.Path != dest {
		t.Errorf("Backup info = %+v, want schema %d, a size, path %s", info, len(migs), dest)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), ".*tmp"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	b, err := Open(ctx, dest)
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer b.Close()
	var pairs, seeds int
	mustView(t, b, func(rd Reader) error {
		return rd.Risks(RiskFilter{}, func(r model.Risk) error {
			switch {
			case strings.HasPrefix(r.Title, "pair "):
				pairs++
			case strings.HasPrefix(r.Title, "seed "):
				seeds++
			}
			return nil
		})
	})
	if seeds != 200 || pairs%2 != 0 || pairs < 10 || int64(pairs/2) > commits.Load() {
		t.Errorf("backup holds %d seeds and %d pair risks (%d pairs committed in all); want 200 and whole pairs of at least the 5 before it began",
			seeds, pairs, commits.Load())
	}

	if _, err := s.Backup(ctx, dest); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a backup over an existing file: %v, want a refusal saying it exists", err)
	}
	if _, err := s.Backup(ctx, s.Path()); err == nil {
		t.Error("a backup over the store itself was not refused")
	}
}

// TestOpenMigratesAnOlderStoreForward: a store the previous release made
// (all migrations but the last) is brought up to date by Open, keeps its
// data, and is usable.
func TestOpenMigratesAnOlderStoreForward(t *testing.T) {
	ctx := context.Background()
	migs, err := parseMigrations(migrationFiles, migrationDir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "usmhub.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Make it as the previous release left it: rebuild it with one
	// migration fewer.
	os.Remove(path)
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	old, err := sql.Open("sqlite3", dsn(path, url.Values{"_txlock": {"immediate"}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, old, migs[:len(migs)-1]); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of the previous release's store: %v", err)
	}
	defer s.Close()
	var v int
	if err := s.write.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil || v != len(migs) {
		t.Fatalf("schema version after Open = %d, %v; want %d", v, err, len(migs))
	}
	createRisks(t, s, threat("t", "after the upgrade"))
}
