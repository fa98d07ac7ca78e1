package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

type appliedMigration struct {
	Version   int
	Name      string
	AppliedAt string
}

func appliedMigrations(t *testing.T, db *sql.DB) []appliedMigration {
	t.Helper()
	rows, err := db.Query(`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []appliedMigration
	for rows.Next() {
		var m appliedMigration
		if err := rows.Scan(&m.Version, &m.Name, &m.AppliedAt); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestOpenMigratesThenReopensWithoutReapplying(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usmhub.db")
	migs, err := parseMigrations(migrationFiles, migrationDir)
	if err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open a new database: %v", err)
	}
	first := appliedMigrations(t, s.write)
	if len(first) != len(migs) {
		t.Fatalf("applied %d migrations, want all %d: %+v", len(first), len(migs), first)
	}
	for i, m := range migs {
		if first[i].Version != m.version || first[i].Name != m.name {
			t.Errorf("applied[%d] = %d %s, want %d %s", i, first[i].Version, first[i].Name, m.version, m.name)
		}
	}
	stored := createRisks(t, s, threat("ops", "Changes are not registered"))[0]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if diff := cmp.Diff(first, appliedMigrations(t, s.write)); diff != "" {
		t.Errorf("schema_migrations changed on reopen (-first +reopened):\n%s", diff)
	}
	if diff := cmp.Diff(stored, readRisk(t, s, stored.Key)); diff != "" {
		t.Errorf("risk after reopen (-stored +read):\n%s", diff)
	}
}

func TestOpenSetsPragmas(t *testing.T) {
	s := openTest(t)
	tests := []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.write, "journal_mode", "wal"},
		{s.write, "synchronous", "2"}, // FULL
		{s.write, "foreign_keys", "1"},
		{s.write, "busy_timeout", "10000"},
		{s.read, "query_only", "1"},
		{s.read, "foreign_keys", "1"},
		{s.read, "busy_timeout", "10000"},
	}
	for _, tt := range tests {
		var got string
		if err := tt.db.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usmhub.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	migs, err := parseMigrations(migrationFiles, migrationDir)
	if err != nil {
		t.Fatal(err)
	}
	future := len(migs) + 1

	// A newer usmhub applied a migration this binary does not have.
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, '9999_future.sql', '2031-01-01T00:00:00.000000000Z')`, future); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	if !errors.Is(err, ErrSchemaNewer) {
		t.Errorf("error %q does not wrap ErrSchemaNewer", err)
	}
	for _, want := range []string{path, "schema version " + itoa(future), "up to " + itoa(len(migs))} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestOpenRefusesNonDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a text file succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "usmhub")
	path := filepath.Join(dir, "usmhub.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	createRisks(t, s, threat("ops", "Backups are never restored")) // makes SQLite write its -wal file

	tests := []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{path, 0o600},
		{path + "-wal", 0o600},
	}
	for _, tt := range tests {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeDir); got != tt.want {
			t.Errorf("%s has mode %v, want %v", filepath.Base(tt.path), got, tt.want)
		}
	}
}

func TestParseMigrations(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	tests := []struct {
		name     string
		files    fstest.MapFS
		versions []int
		wantErr  string
	}{
		{
			name: "in order, other files ignored",
			files: fstest.MapFS{
				"m/0002_votes.sql": file("B"),
				"m/0001_init.sql":  file("A"),
				"m/README.md":      file("notes"),
			},
			versions: []int{1, 2},
		},
		{
			name:     "gap",
			files:    fstest.MapFS{"m/0001_init.sql": file("A"), "m/0003_x.sql": file("C")},
			wantErr:  "0003_x.sql: version 3 where 2 was expected",
			versions: nil,
		},
		{
			name:    "repeat",
			files:   fstest.MapFS{"m/0001_a.sql": file("A"), "m/0001_b.sql": file("B")},
			wantErr: "0001_b.sql: version 1 where 2 was expected",
		},
		{
			name:    "not numbered",
			files:   fstest.MapFS{"m/init.sql": file("A")},
			wantErr: "init.sql: name must be NNNN_description.sql",
		},
		{
			name:    "starts at zero",
			files:   fstest.MapFS{"m/0000_init.sql": file("A")},
			wantErr: "0000_init.sql: name must be NNNN_description.sql",
		},
		{
			name:    "none",
			files:   fstest.MapFS{"m/README.md": file("notes")},
			wantErr: "no migrations in m",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			migs, err := parseMigrations(tt.files, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range migs {
				got = append(got, m.version)
			}
			if diff := cmp.Diff(tt.versions, got); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
		})
	}
}

// The path goes into a URI filename: characters with a meaning in URIs
// must not change which file is opened.
func TestOpenOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data 100% #1")
	path := filepath.Join(dir, "usm?hub&x=1.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	createRisks(t, s, threat("ops", "Changes are not registered"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"usm?hub&x=1.db"}, names); diff != "" {
		t.Errorf("files in the folder after Close (-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("database file: %v, %v; want a non-empty file", fi, err)
	}
}
