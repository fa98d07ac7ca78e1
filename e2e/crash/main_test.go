// Package crash_test proves that a sync is safe to kill and re-run: usmhub
// and its connectors are built once (TestMain) and launched for real, and
// killed with SIGKILL.
//
// The specific crash tests (crash_test.go) kill at a deterministic point:
// the fault connector (internal/testconnectors/fault) is told a crash point
// (crash_at, e.g. push:after_commit:1) and, when it reaches it, reports it
// through a FIFO and holds, so the test kills the hub, or the plugin,
// exactly there: mid-pull after page N, as a push begins, after the remote
// saved a write the hub never heard of. The kill loop (killloop_test.go)
// kills a sync against the file connector at random moments, seeded
// (USMHUB_KILL_SEED replays one), and checks that every edit is accounted
// for.
package crash_test

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/usmhub/usmhub/internal/hubcli"
	"github.com/usmhub/usmhub/plugins/connectortest"
)

var (
	usmhubBin   string // the hub
	filePlugin  string // usmhub-connector-file next to it
	faultPlugin string // usmhub-connector-fault next to it
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "usmhub-e2e-crash-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	usmhubBin = filepath.Join(dir, "usmhub")
	if out, err := exec.Command("go", "build", "-o", usmhubBin, "../../cmd/usmhub").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build usmhub: %v\n%s", err, out)
		return 1
	}
	// The connectors next to usmhub, where its plugin discovery finds them.
	if filePlugin, err = connectortest.BuildBinary("../../connectors/file", "file", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if faultPlugin, err = connectortest.BuildBinary("../../internal/testconnectors/fault/cmd/usmhub-connector-fault", "fault", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// hub is a usmhub set up in a temporary folder.
type hub struct{ *hubcli.Hub }

func newHub(t *testing.T, config string) *hub {
	t.Helper()
	return &hub{hubcli.New(t, usmhubBin, config)}
}

// listed is a risk as `usmhub risk list -json` shows it.
type listed struct {
	Key        string `json:"key"`
	Title      string `json:"title"`
	Likelihood int    `json:"likelihood"`
	Status     string `json:"status"`
}

func (h *hub) list() []listed {
	h.T.Helper()
	var items []listed
	h.JSONOf(&items, "risk", "list")
	return items
}

// openRO opens the hub's database read-only with database/sql.
func openRO(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// integrityCheck runs PRAGMA integrity_check and foreign_key_check.
func integrityCheck(t *testing.T, path string) {
	t.Helper()
	db := openRO(t, path)
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Errorf("PRAGMA integrity_check = %q, %v", res, err)
	}
	rows, err := db.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Errorf("PRAGMA foreign_key_check reports violations")
	}
}

// sheet is the file connector's risks file as a user's editor sees it.
type sheet struct {
	header []string
	col    map[string]int
	rows   [][]string
}

func readSheet(t *testing.T, path string) *sheet {
	t.Helper()
	s, err := loadSheet(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loadSheet reads the sheet; nil when there is no file yet.
func loadSheet(path string) (*sheet, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	s := &sheet{header: recs[0], col: map[string]int{}, rows: recs[1:]}
	for i, c := range s.header {
		s.col[c] = i
	}
	return s, nil
}

func (s *sheet) get(r []string, col string) string {
	if i, ok := s.col[col]; ok && i < len(r) {
		return r[i]
	}
	return ""
}

func (s *sheet) set(r []string, col, v string) {
	r[s.col[col]] = v
}

// saveTo writes the sheet the way an editor saves: a new file renamed over
// the old one, with the modification time of now.
func (s *sheet) saveTo(path string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(s.header)
	_ = w.WriteAll(s.rows)
	if err := w.Error(); err != nil {
		return err
	}
	tmp := path + ".editor"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// flockDir takes the file connector's folder lock (.usmhub-file.lock), as
// a co-writer of its files must, and returns its release.
func flockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".usmhub-file.lock"), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// copyTree copies the regular files of src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
