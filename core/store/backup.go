package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// BackupInfo describes a backup Backup made.
type BackupInfo struct {
	// Source is the database file that was copied.
	Source string `json:"source"`
	// Path is the backup file.
	Path string `json:"path"`
	// Bytes is the backup file's size.
	Bytes int64 `json:"bytes"`
	// SchemaVersion is the store's schema version in the backup: a usmhub
	// that knows at least this version can open it.
	SchemaVersion int `json:"schema_version"`
}

// Backup writes a consistent copy of the store to dest while it is in use,
// by this process or others (a running daemon): SQLite's VACUUM INTO copies
// one read transaction's snapshot, so writers go on meanwhile and the copy
// holds every transaction committed before it began and none after. The
// copy is written beside dest under a temporary name, checked (integrity
// and schema version), synced and then renamed to dest, so dest is either
// a whole, checked backup or absent. An existing dest is refused, never
// overwritten.
//
// The backup is a complete database with the same schema: restoring is
// copying it back as the store's file while no usmhub runs (see README.md,
// "Run it as a service").
func (s *SQLite) Backup(ctx context.Context, dest string) (BackupInfo, error) {
	info := BackupInfo{Source: s.path}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return info, fmt.Errorf("backup to %s: %w", dest, err)
	}
	info.Path = abs
	if abs == s.path {
		return info, fmt.Errorf("backup to %s: that is the store itself; name another file", dest)
	}
	if _, err := os.Lstat(abs); err == nil {
		return info, fmt.Errorf("backup to %s: the file exists; name a new file or remove it first", dest)
	} else if !errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("backup to %s: %w", dest, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".*.tmp")
	if err != nil {
		return info, fmt.Errorf("backup to %s: %w", dest, err)
	}
	tmpPath := tmp.Name()
	// VACUUM INTO wants a file that does not exist or is empty; the empty
	// one made here reserves the name with the store's private mode.
	_ = tmp.Chmod(0o600)
	_ = tmp.Close()
	// Removed in the end: after the link below, dest is the backup's name.
	defer func() { _ = os.Remove(tmpPath) }()

	// A connection of its own, not the query-only readers (VACUUM INTO
	// counts as a write for query_only) nor the writer (which it would hold
	// for the whole copy).
	db, err := sql.Open("sqlite3", dsn(s.path, url.Values{}))
	if err != nil {
		return info, fmt.Errorf("backup %s: %w", s.path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmpPath); err != nil {
		return info, fmt.Errorf("backup %s to %s: %w", s.path, dest, err)
	}
	if info.SchemaVersion, err = checkBackup(ctx, tmpPath); err != nil {
		return info, fmt.Errorf("backup %s to %s: the copy does not check out: %w", s.path, dest, err)
	}
	if err := syncFile(tmpPath); err != nil {
		return info, fmt.Errorf("backup to %s: %w", dest, err)
	}
	// A link does not replace a file another process made meanwhile.
	if err := os.Link(tmpPath, abs); err != nil {
		return info, fmt.Errorf("backup to %s: %w", dest, err)
	}
	if fi, err := os.Stat(abs); err == nil {
		info.Bytes = fi.Size()
	}
	if err := syncFile(filepath.Dir(abs)); err != nil {
		return info, fmt.Errorf("backup to %s: %w", dest, err)
	}
	return info, nil
}

// checkBackup opens a backup read-only and returns its schema version after
// SQLite's integrity check passed.
func checkBackup(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite3", dsn(path, url.Values{"mode": {"ro"}}))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&result); err != nil {
		return 0, fmt.Errorf("integrity check: %w", err)
	}
	if result != "ok" {
		return 0, fmt.Errorf("integrity check: %s", strings.TrimSpace(result))
	}
	var version int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return version, nil
}

// syncFile flushes a file or folder to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
