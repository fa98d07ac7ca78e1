package inventory

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/core/ingest"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

func openStore(t *testing.T) *store.SQLite {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// importFile writes body to a file named name and imports it.
func importFile(t *testing.T, st store.Store, name, body string, opts RiskOptions) (*RiskResult, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ImportRisks(context.Background(), st, path, f, opts)
}

func titles(t *testing.T, st store.Store) string {
	t.Helper()
	var out []string
	err := st.View(context.Background(), func(r store.Reader) error {
		return r.Risks(store.RiskFilter{}, func(risk model.Risk) error {
			out = append(out, risk.Key+"="+risk.Title)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ",")
}

// An import is all or nothing and idempotent: the same file twice changes
// nothing, a dry run stores nothing, a bad row stores nothing and is named.
func TestImportRisks(t *testing.T) {
	st := openStore(t)
	opts := RiskOptions{Initiative: "i", Actor: "cli:ann"}
	res, err := importFile(t, st, "risks.csv", "title,likelihood\nBadges,4\nPrinters,2\n", opts)
	if err != nil || res.Created != 2 || len(res.Creates) != 2 || res.Creates[1].Line != 3 {
		t.Fatalf("first import: %+v, %v", res, err)
	}
	res, err = importFile(t, st, "risks.csv", "title,likelihood\nBadges,4\nPrinters,2\n", opts)
	if err != nil || res.Created != 0 || res.Unchanged != 2 || len(res.MatchedByTitle) != 2 {
		t.Fatalf("same file again: %+v, %v", res, err)
	}
	before := titles(t, st)
	dry := opts
	dry.DryRun = true
	res, err = importFile(t, st, "risks.csv", "key,title\nR-1,Badges everywhere\n", dry)
	if err != nil || res.Updated != 1 || len(res.Changes) != 1 || res.Changes[0].Field != "title" || !res.DryRun {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if got := titles(t, st); got != before {
		t.Fatalf("the dry run stored %s (was %s)", got, before)
	}
	_, err = importFile(t, st, "bad.csv", "key,title,likelihood\nR-1,Badges everywhere,4\n,Third,9\n", opts)
	var rowErrs ingest.Errors
	if !errors.As(err, &rowErrs) || len(rowErrs) != 1 || !strings.Contains(rowErrs.Error(), "bad.csv:3") {
		t.Fatalf("bad row: %v", err)
	}
	if got := titles(t, st); got != before {
		t.Fatalf("a bad file stored %s (was %s)", got, before)
	}
}

// What ExportRisks writes imports back changing nothing, in every format.
func TestExportImportsBack(t *testing.T) {
	st := openStore(t)
	opts := RiskOptions{Initiative: "i"}
	if _, err := importFile(t, st, "risks.csv", "title,owner,effort\n\"=cmd, a formula\",ann,2.5\nPrinters,bob,1\n", opts); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{CSV, JSON, XLSX} {
		var buf bytes.Buffer
		if err := ExportRisks(context.Background(), st, store.RiskFilter{Initiative: "i"}, format, &buf); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		res, err := importFile(t, st, "back."+format, buf.String(), opts)
		if err != nil || res.Unchanged != 2 || res.Created+res.Updated != 0 {
			t.Errorf("%s export imported back: %+v, %v", format, res, err)
		}
	}
}

// Items: a row without a key matches the item of that name, so the same
// file twice changes nothing; the file's name is the source of what it
// creates.
func TestImportItems(t *testing.T) {
	st := openStore(t)
	rows := func(body string) []*ingest.ItemRow {
		t.Helper()
		rs, err := ingest.ReadItems("cis.csv", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	ctx := context.Background()
	res, err := ImportItems(ctx, st, "/tmp/cis.csv", rows("name,type\nMail server,server\n"), "cli:ann", false)
	if err != nil || res.Created != 1 {
		t.Fatalf("first import: %+v, %v", res, err)
	}
	res, err = ImportItems(ctx, st, "/tmp/cis.csv", rows("name,type\nMail server,server\n"), "cli:ann", false)
	if err != nil || res.Created != 0 || res.Unchanged != 1 {
		t.Fatalf("again: %+v, %v", res, err)
	}
	var buf bytes.Buffer
	if err := ExportItems(ctx, st, JSON, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"source": "import:cis.csv"`) {
		t.Fatalf("exported items:\n%s", buf.String())
	}
}
