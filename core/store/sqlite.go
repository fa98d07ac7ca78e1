package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

// busyTimeout is how long a connection waits for another connection — in
// this process or another one — to release the database before it gives up
// with "database is locked".
const busyTimeout = 10 * time.Second

// SQLite is the embedded Store: one database file in WAL mode, written
// through a single connection whose transactions begin IMMEDIATE (so writers,
// also in other processes, queue on the file lock instead of failing on lock
// upgrades), and read through a separate pool of query-only connections that
// see consistent snapshots while a write is under way.
//
// Update must not be called from inside another Update's fn: the write
// connection is held by the outer transaction, so the inner call would wait
// until its context ends. View may be called from inside Update (it sees the
// state before the outer transaction commits).
type SQLite struct {
	path  string
	write *sql.DB // one connection: the writer
	read  *sql.DB // query-only connections for View

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*SQLite)(nil)

// Open opens the SQLite store at path, creating its folder (0700) and the
// database file (0600) when they are missing, and brings the schema up to
// date with the migrations built into this binary. A database written by a
// newer usmhub (a schema version this binary does not know) is refused with
// an error wrapping ErrSchemaNewer.
//
// ctx bounds the opening and the migrations only; the returned store lives
// until Close.
func Open(ctx context.Context, path string) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("store: open: no database path given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("store: create the database folder: %w", err)
	}
	// Create the file ourselves so that it (and the -wal and -shm files
	// SQLite gives the same mode) is private to the hub's user from the
	// start; an existing file keeps its mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}

	s := &SQLite{path: abs}
	s.write, err = sql.Open("sqlite3", dsn(abs, url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {"FULL"},
		"_txlock":       {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)

	migs, err := parseMigrations(migrationFiles, migrationDir)
	if err == nil {
		err = migrate(ctx, s.write, migs)
	}
	if err != nil {
		_ = s.write.Close()
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}

	// Readers never write: query_only makes SQLite refuse it. The journal
	// mode is a property of the file (set by the writer above), so readers
	// need not set it.
	s.read, err = sql.Open("sqlite3", dsn(abs, url.Values{"_query_only": {"1"}}))
	if err != nil {
		_ = s.write.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", abs, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.read.SetMaxOpenConns(readers)
	s.read.SetMaxIdleConns(readers)
	return s, nil
}

// dsn builds a go-sqlite3 URI filename for path with the settings every
// connection shares plus extra.
func dsn(path string, extra url.Values) string {
	q := url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeout.Milliseconds())},
		"_foreign_keys": {"on"},
	}
	for k, v := range extra {
		q[k] = v
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Path returns the absolute path of the database file.
func (s *SQLite) Path() string { return s.path }

// Update runs fn in one IMMEDIATE write transaction and commits when fn
// returns nil. An error from fn, a cancelled ctx or a panic in fn rolls the
// transaction back (the panic then continues). fn's error is returned as it
// is. actor.Name must be set: every audit row names who made the change.
func (s *SQLite) Update(ctx context.Context, actor Actor, fn func(Tx) error) error {
	if actor.Name == "" {
		return errors.New("store: update: no actor given; every change is audited under an actor name such as \"cli:alice\" or \"daemon\"")
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin write transaction: %w", err)
	}
	done := false
	defer func() {
		if !done { // fn failed or panicked
			_ = tx.Rollback()
		}
	}()
	w := &writer{reader: newReader(ctx, tx), actor: actor}
	if err := fn(w); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", errors.Join(err, ctx.Err()))
	}
	done = true
	return nil
}

// View runs fn in one read-only transaction: every read inside it sees the
// same committed state, whatever writers do meanwhile.
func (s *SQLite) View(ctx context.Context, fn func(Reader) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: begin read transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rd := newReader(ctx, tx)
	return fn(&rd)
}

// Close releases both connection pools. It is safe to call more than once.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		if err := errors.Join(s.read.Close(), s.write.Close()); err != nil {
			s.closeErr = fmt.Errorf("store: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) &&
		(se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}
