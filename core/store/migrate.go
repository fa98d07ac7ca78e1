package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema migrations, numbered from 0001: each file
// is NNNN_name.sql and runs once, in order, in the transaction that records
// it in schema_migrations. A released migration is never edited; a change
// of schema is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

const migrationDir = "migrations"

// ErrSchemaNewer is wrapped by Open's error when the database was migrated by
// a newer usmhub than this one: its schema has versions this binary does not
// know, so it must not write to it.
var ErrSchemaNewer = errors.New("database schema is newer than this usmhub")

// migration is one numbered schema change.
type migration struct {
	version int
	name    string // file name, e.g. 0001_init.sql
	sql     string
}

// parseMigrations reads the NNNN_name.sql files of dir in fsys and checks
// that their versions run 1, 2, 3 … without gaps or repeats.
func parseMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var migs []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql with NNNN from 0001", name)
		}
		if want := len(migs) + 1; v != want {
			return nil, fmt.Errorf("migration %s: version %d where %d was expected (versions run 1, 2, 3 … without gaps or repeats)", name, v, want)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		migs = append(migs, migration{version: v, name: name, sql: string(b)})
	}
	if len(migs) == 0 {
		return nil, fmt.Errorf("no migrations in %s", dir)
	}
	return migs, nil
}

// migrate applies the migrations the database does not have yet, all in one
// IMMEDIATE transaction, so that processes opening the same new file at once
// apply each migration exactly once. It refuses a database whose schema is
// newer than migs.
func migrate(ctx context.Context, db *sql.DB, migs []migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at TEXT    NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read the schema version: %w", err)
	}
	latest := migs[len(migs)-1].version
	if current > latest {
		return fmt.Errorf("%w: the database has schema version %d, this binary knows versions up to %d; use a usmhub at least as new as the one that last opened this database",
			ErrSchemaNewer, current, latest)
	}
	if current == latest {
		return nil // nothing to do; the deferred rollback ends the transaction
	}
	now := formatTime(time.Now())
	for _, m := range migs[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate: apply %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, now); err != nil {
			return fmt.Errorf("migrate: record %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
