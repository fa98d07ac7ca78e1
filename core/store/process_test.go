package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/model"
)

// The helper process reads its orders from these variables.
const (
	helperDBEnv   = "USMHUB_STORE_HELPER_DB"
	helperNameEnv = "USMHUB_STORE_HELPER_NAME"
	helperRisks   = 300
)

// TestHelperWriter is not a test: TestWriterProcesses runs the test binary
// again with only this function selected, once per writer process. It waits
// for its standard input to close (so that both writers start together),
// opens the store and creates helperRisks risks in transactions of one to
// three risks.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(helperDBEnv)
	if path == "" {
		t.Skip("runs only as the helper process of TestWriterProcesses, which sets USMHUB_STORE_HELPER_DB")
	}
	name := os.Getenv(helperNameEnv)
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < helperRisks; {
		batch := min(1+i%3, helperRisks-i)
		err := s.Update(ctx, Actor{Name: name}, func(tx Tx) error {
			for j := range batch {
				r := threat(name, fmt.Sprintf("%s risk %d", name, i+j))
				if err := tx.CreateRisk(&r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("after %d risks: %v", i, err)
		}
		i += batch
		// Leave the lock free for a moment: SQLite's busy handler polls,
		// so a writer that begins again at once would starve the other
		// one until it is done, and the commits would not interleave.
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("helper %s stored %d risks\n", name, helperRisks)
}

// Two processes write to one new database file at once: both open it
// (racing on the migrations) and store their risks in many small
// transactions. Every risk must be stored once, with keys R-1 … R-600.
func TestWriterProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts two processes")
	}
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	names := []string{"writer-a", "writer-b"}
	type proc struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   bytes.Buffer
	}
	procs := make([]*proc, len(names))
	for i, name := range names {
		p := &proc{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1", "-test.v")}
		p.cmd.Env = append(os.Environ(), helperDBEnv+"="+path, helperNameEnv+"="+name)
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
		var err error
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	for _, p := range procs { // go
		p.stdin.Close()
	}
	for i, p := range procs {
		err := p.cmd.Wait()
		if err != nil || !strings.Contains(p.out.String(), fmt.Sprintf("helper %s stored %d risks", names[i], helperRisks)) {
			t.Errorf("%s: %v\n%s", names[i], err, p.out.String())
		}
	}
	if t.Failed() {
		return
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var check string
	if err := s.write.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
	var fkViolations int
	if err := s.write.QueryRowContext(ctx, "SELECT COUNT(*) FROM pragma_foreign_key_check").Scan(&fkViolations); err != nil || fkViolations != 0 {
		t.Errorf("foreign_key_check: %d violations, %v", fkViolations, err)
	}
	migs, err := parseMigrations(migrationFiles, migrationDir)
	if err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := s.write.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&applied); err != nil || applied != len(migs) {
		t.Errorf("schema_migrations has %d rows (%v), want each of the %d migrations once", applied, err, len(migs))
	}

	keys := map[string]string{}   // key → title
	titles := map[string]bool{}   // every title once
	perWriter := map[string]int{} // initiative → risks
	mustView(t, s, func(rd Reader) error {
		return rd.Risks(RiskFilter{}, func(r model.Risk) error {
			if other, dup := keys[r.Key]; dup {
				t.Errorf("key %s is on %q and %q", r.Key, other, r.Title)
			}
			keys[r.Key] = r.Title
			if titles[r.Title] {
				t.Errorf("%q stored twice", r.Title)
			}
			titles[r.Title] = true
			perWriter[r.Initiative]++
			return nil
		})
	})
	total := len(names) * helperRisks
	if len(keys) != total {
		t.Errorf("%d risks stored, want %d", len(keys), total)
	}
	for n := 1; n <= total; n++ {
		if _, ok := keys["R-"+strconv.Itoa(n)]; !ok {
			t.Errorf("no risk R-%d: keys must run R-1 … R-%d", n, total)
			break
		}
	}
	for _, name := range names {
		if perWriter[name] != helperRisks {
			t.Errorf("%s stored %d risks, want %d", name, perWriter[name], helperRisks)
		}
	}
	entries := auditOf(t, s, AuditFilter{})
	if len(entries) != total {
		t.Errorf("%d audit entries, want one per risk (%d)", len(entries), total)
	}
	// How often the commits alternated between the writers shows whether
	// they really ran at the same time; it depends on scheduling, so it is
	// reported, not asserted.
	switches := 0
	for i := 1; i < len(entries); i++ {
		if entries[i].Actor != entries[i-1].Actor {
			switches++
		}
	}
	t.Logf("the writers' commits alternated %d times", switches)
}
