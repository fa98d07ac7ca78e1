package main

// Helpers of the CLI tests that sync with the file connector (a built
// plugin binary next to the usmhub binary, as a user installs them). The
// kill loop and the crash tests are in e2e/crash.

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/reconcile"
	"github.com/usmhub/usmhub/internal/procs"
	"github.com/usmhub/usmhub/plugins/connectortest"
)

// The file connector plugin next to usmhubBin, where the hub's plugin
// discovery (the folder of the usmhub binary) finds it: the one TestMain
// built, else built here once.
var (
	fileConnOnce sync.Once
	fileConnPath string
	fileConnErr  error
)

func fileConnector(t *testing.T) string {
	t.Helper()
	fileConnOnce.Do(func() {
		fileConnPath = filepath.Join(filepath.Dir(usmhubBin), "usmhub-connector-file")
		if fi, err := os.Stat(fileConnPath); err == nil && fi.Mode().IsRegular() {
			return
		}
		fileConnPath, fileConnErr = connectortest.BuildBinary("github.com/usmhub/usmhub/connectors/file", "file", filepath.Dir(usmhubBin))
	})
	if fileConnErr != nil {
		t.Fatal(fileConnErr)
	}
	return fileConnPath
}

// syncConfig is a hub under strategy erp with one initiative and the file
// connector over the folder "remote", synced both ways as "risks".
func syncConfig(hubExtra, syncExtra string) string {
	return `
hub {
  data_dir = "data"
  strategy = "erp"
` + hubExtra + `
}

initiative "t" {
  name = "Kill loop"
}

connector "file" "sheet" {
  dir = "remote"
}

sync "risks" {
  kind      = "risk"
  connector = "file.sheet"
  direction = "both"
` + syncExtra + `
}
`
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

// sheet is the remote risks file as a user's editor sees it.
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

// TestSyncFullReconcileKeepsUnchanged: a full reconcile of records that did
// not change must leave them be (SYNC.md step 4 lists every remote record to
// find those that are gone, not those it merely did not need to merge).
func TestSyncFullReconcileKeepsUnchanged(t *testing.T) {
	plugin := fileConnector(t)
	h := newHub(t, syncConfig("", ""))
	if err := os.Mkdir(filepath.Join(h.Dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.Write("inventory.csv", inventory(20))
	h.OK("risk", "import", "inventory.csv")
	h.OK("sync")
	h.OK("sync")
	var results []reconcile.Result
	h.JSONOf(&results, "sync", "-full")
	if c := results[0].Counts; c.Changes() {
		t.Errorf("a full reconcile with nothing changed did: %+v", c)
	}
	var rejected []string
	for _, it := range h.list() {
		if it.Status == string(model.Rejected) {
			rejected = append(rejected, it.Key)
		}
	}
	if len(rejected) > 0 {
		t.Errorf("a full reconcile rejected %d risks whose remote records are all there: %v", len(rejected), rejected)
	}
	procs.WaitGone(t, plugin, 5*time.Second)
}
