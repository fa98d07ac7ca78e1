package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/core/ingest"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/progress"
	"github.com/usmhub/usmhub/core/store"
)

// One baseline per initiative; the same scan twice is stored once; a
// progress scan needs the baseline, and then compares with it.
func TestImportScan(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	actor := store.Actor{Name: "test"}
	scan := func(kind model.ScanKind, day string, score float64) model.Scan {
		return model.Scan{Initiative: "t", Kind: kind, Method: "quickscan", MethodVersion: "1", TakenOn: day,
			Scores: []model.ScanScore{{Dimension: "agree", Score: score}}}
	}
	if _, _, err := ImportScan(ctx, st, actor, scan(model.Progress, "2026-02-01", 3)); !errors.Is(err, progress.ErrNoBaseline) {
		t.Fatalf("progress before a baseline: %v", err)
	}
	if _, already, err := ImportScan(ctx, st, actor, scan(model.Baseline, "2026-01-01", 2)); err != nil || already {
		t.Fatalf("baseline: already %v, %v", already, err)
	}
	if _, already, err := ImportScan(ctx, st, actor, scan(model.Baseline, "2026-01-01", 2)); err != nil || !already {
		t.Fatalf("the baseline again: already %v, %v", already, err)
	}
	if _, _, err := ImportScan(ctx, st, actor, scan(model.Baseline, "2026-01-02", 2)); err == nil || !strings.Contains(err.Error(), "already has a baseline") {
		t.Fatalf("a second baseline: %v", err)
	}
	if _, _, err := ImportScan(ctx, st, actor, scan(model.Progress, "2026-02-01", 3.5)); err != nil {
		t.Fatal(err)
	}
	cmp, err := CompareScans(ctx, st, "t")
	if err != nil || len(cmp.Rows) != 1 || cmp.Rows[0].Delta == nil || *cmp.Rows[0].Delta != 1.5 {
		t.Fatalf("compare: %+v, %v", cmp, err)
	}
}

// A scan file's bad rows are named, every one, and a scan with no method
// is refused on one line; a good file gives the scan its scores.
func TestReadScan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	req := model.Scan{Initiative: "t", Kind: model.Baseline, Method: "quickscan", MethodVersion: "1", TakenOn: "2026-01-01"}
	scan, err := ReadScan(write("good.csv", "dimension,score\nagree,2\nchange,3.5\n"), req)
	if err != nil || len(scan.Scores) != 2 || scan.Scores[1].Score != 3.5 {
		t.Fatalf("a good file: %+v, %v", scan, err)
	}
	var rows ingest.Errors
	_, err = ReadScan(write("bad.csv", "dimension,score\nagree,x\nchange,y\n"), req)
	if !errors.As(err, &rows) || len(rows) != 2 || !strings.HasPrefix(err.Error(), "scan not imported: ") {
		t.Fatalf("two bad rows: %v", err)
	}
	req.Method, req.Kind = "", "other"
	_, err = ReadScan(write("good.csv", "dimension,score\nagree,2\n"), req)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), ";") {
		t.Fatalf("a scan without method and kind: %v", err)
	}
}
