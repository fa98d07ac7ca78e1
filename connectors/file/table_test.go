package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// stamps matches what the connector writes that changes from run to run.
var stamps = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)

// A spreadsheet saved in a Dutch locale: BOM, semicolons, its own column
// names and an extra column. The connector reads it, and writes it back
// keeping all of that, row order included.
func TestCSVSpreadsheetDialectSurvivesAWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.csv")
	writeFile(t, path, "\xEF\xBB\xBFKey;Title;Likelihood;Impact;Notes;Status\r\n"+
		"R-2;Wachttijden bij de servicedesk;4;3;\"zie notulen; 12 mei\";proposed\r\n"+
		"R-1;Geen change-kalender  ;2;5;;accepted\r\n")
	c := configured(t, dir, formatCSV)

	p := pull(t, c, sdk.KindRisk, "")
	got := map[string]map[string]string{}
	for _, r := range p.records {
		got[r.ExternalID] = r.Fields
	}
	want := map[string]map[string]string{
		"K-R-2": {"key": "R-2", "title": "Wachttijden bij de servicedesk", "likelihood": "4", "impact": "3", "status": "proposed"},
		"K-R-1": {"key": "R-1", "title": "Geen change-kalender", "likelihood": "2", "impact": "5", "status": "accepted"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("pulled fields (-want +got):\n%s", d)
	}

	v := p.byID["K-R-1"].Version
	mustOK(t, push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: "K-R-1", Version: v, Fields: map[string]string{"status": "planned"}}))
	wantFile := "\xEF\xBB\xBFKey;Title;Likelihood;Impact;Notes;Status;id;marker;updated_at;version;deleted\n" +
		"R-2;Wachttijden bij de servicedesk;4;3;zie notulen; 12 mei;proposed;K-R-2;;T;;\n" +
		"R-1;Geen change-kalender  ;2;5;;planned;K-R-1;;T;1;\n"
	wantFile = strings.Replace(wantFile, "zie notulen; 12 mei", `"zie notulen; 12 mei"`, 1)
	if d := cmp.Diff(wantFile, stamps.ReplaceAllString(readFile(t, path), "T")); d != "" {
		t.Errorf("file after a push (-want +got):\n%s", d)
	}
	if after := pull(t, c, sdk.KindRisk, ""); after.byID["K-R-2"].Version != p.byID["K-R-2"].Version {
		t.Errorf("the row the push did not touch changed version: %s → %s", p.byID["K-R-2"].Version, after.byID["K-R-2"].Version)
	}
}

func TestMalformedCSVNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.csv")
	c := configured(t, dir, formatCSV)
	for _, tt := range []struct{ content, want string }{
		{"id,title,likelihood\nF-1,Ok,3\nF-2,Too,few,columns,here\n", path + ":3: 5 columns, but the header has 3 (check the separators and quotes on this line)"},
		{"id,title\nF-1,\"Unclosed\nF-2,x\n", path + `:3: extraneous or missing " in quoted-field (in the row that starts on line 2)`},
		{"id,title\nF-1,A 5\" screen\n", path + `:2: bare " in non-quoted-field`},
	} {
		writeFile(t, path, tt.content)
		_, err := tryPull(c, sdk.KindRisk, "")
		if err == nil || !strings.HasSuffix(err.Error(), tt.want) {
			t.Errorf("pull of %q = %v, want an error ending %q", tt.content, err, tt.want)
		}
		if _, err := c.Push(context.Background(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: []sdk.Change{create("x")}}); err == nil {
			t.Errorf("push onto %q succeeded, want the file's error", tt.content)
		}
		if got := readFile(t, path); got != tt.content {
			t.Errorf("a failed push changed the file to %q", got)
		}
	}
}

// JSON files keep their numbers as numbers and any key the connector does
// not know, whatever its value.
func TestJSONFileSurvivesAWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.json")
	writeFile(t, path, `[
  {"id": "F-7", "title": "Geen \u00e9\u00e9n CMDB", "likelihood": 3, "effort": 1.50, "tags": ["bir", "cmdb"], "owner": null, "reviewed": true},
  {"key": "R-9", "Title": "Handmatig <rapport> & co"}
]
`)
	c := configured(t, dir, formatJSON)
	p := pull(t, c, sdk.KindRisk, "")
	want := map[string]map[string]string{
		"F-7":   {"title": "Geen één CMDB", "likelihood": "3", "effort": "1.50", "owner": ""},
		"K-R-9": {"key": "R-9", "title": "Handmatig <rapport> & co", "likelihood": "", "effort": "", "owner": ""},
	}
	got := map[string]map[string]string{}
	for _, r := range p.records {
		got[r.ExternalID] = r.Fields
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("pulled fields (-want +got):\n%s", d)
	}

	mustOK(t, push(t, c, sdk.Change{Op: sdk.OpUpdate, ExternalID: "F-7", Fields: map[string]string{"impact": "2", "effort": "2"}}))
	wantFile := `[
  {"id": "F-7", "title": "Geen één CMDB", "likelihood": 3, "effort": 2, "tags": ["bir", "cmdb"], "owner": null, "reviewed": true, "updated_at": "T", "version": 1, "impact": 2},
  {"id": "K-R-9", "title": "Handmatig <rapport> & co", "key": "R-9", "updated_at": "T"}
]
`
	if d := cmp.Diff(wantFile, stamps.ReplaceAllString(readFile(t, path), "T")); d != "" {
		t.Errorf("file after a push (-want +got):\n%s", d)
	}
}

func TestMalformedJSONNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.json")
	c := configured(t, dir, formatJSON)
	for _, tt := range []struct{ content, want string }{
		{"[\n  {\"title\": \"a\"},\n  {\"title\": \"b\",}\n]\n", path + ":3: invalid character '}' looking for beginning of object key string"},
		{"[\n  {\"title\": \"a\"},\n  {\"title\": {\"nl\": \"b\"}}\n]\n", path + ":3: title: want a string, number or boolean, not an object"},
		{"{\"title\": \"a\"}\n", path + ":1: want a JSON array of objects, one per row, not {"},
		{"[\n  {\"title\": \"a\"},\n  \"b\"\n]\n", path + `:3: want an object per row, not "b"`},
		{"[\n  {\"title\": \"a\"}\n", path + ": unexpected end of file: the JSON array is not closed"},
	} {
		writeFile(t, path, tt.content)
		_, err := tryPull(c, sdk.KindRisk, "")
		if err == nil || !strings.HasSuffix(err.Error(), tt.want) {
			t.Errorf("pull of %q = %v, want an error ending %q", tt.content, err, tt.want)
		}
	}
}

// A write replaces the file atomically: no temporary file is left behind,
// whether it succeeded or failed, and a failed write leaves the old file.
func TestAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.csv")
	writeFile(t, path, "old\n")
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	failed := writeAtomic(path, "", time.Time{}, func(w io.Writer) error {
		io.WriteString(w, "half a fi")
		return errors.New("disk full")
	})
	if failed == nil || readFile(t, path) != "old\n" {
		t.Errorf("failed write: err %v, file %q; want an error and the old file", failed, readFile(t, path))
	}
	mtime := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if err := writeAtomic(path, "", mtime, func(w io.Writer) error { _, err := io.WriteString(w, "new\n"); return err }); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, path) != "new\n" || fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(mtime) {
		t.Errorf("after a write: %q, mode %v, mtime %v; want \"new\\n\", -rw-r-----, %v", readFile(t, path), fi.Mode().Perm(), fi.ModTime(), mtime)
	}
	wantOnly(t, dir, "risks.csv")

	// A symbolic link is followed: its target is replaced.
	target := filepath.Join(t.TempDir(), "shared.csv")
	writeFile(t, target, "shared\n")
	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("requires symbolic links, which this file system refuses: %v", err)
	}
	if err := writeAtomic(link, "", time.Time{}, func(w io.Writer) error { _, err := io.WriteString(w, "via link\n"); return err }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 || readFile(t, target) != "via link\n" {
		t.Errorf("writing through a link: link %v (%v), target %q; want the link kept and the target written", fi, err, readFile(t, target))
	}
}

// wantOnly fails the test unless dir holds exactly names.
func wantOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if d := cmp.Diff(names, got); d != "" {
		t.Errorf("folder %s holds (-want +got):\n%s", dir, d)
	}
}
