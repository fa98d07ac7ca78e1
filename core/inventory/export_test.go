package inventory

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct{ format, path, want string }{
		{"", "", CSV}, {"", "out.XLSX", XLSX}, {"json", "out.xlsx", JSON}, {"", "out.csv", CSV},
	} {
		if got, err := Format(c.format, c.path); err != nil || got != c.want {
			t.Errorf("Format(%q, %q) = %q, %v; want %q", c.format, c.path, got, err, c.want)
		}
	}
	if _, err := Format("yaml", ""); err == nil || err.Error() != `-format must be csv, json or xlsx, not "yaml"` {
		t.Errorf("Format(yaml): %v", err)
	}
}

// An export that fails half-way leaves the file it would replace as it
// was, and no temporary file beside it.
func TestWriteFileWholeOrNotAtAll(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "risks.csv")
	if err := os.WriteFile(path, []byte("before\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFile(path, nil, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteFile: %v, want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "before\n" {
		t.Fatalf("the failed export changed the file: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left %d files behind, want only risks.csv", len(ents))
	}
	if err := WriteFile(path, nil, func(w io.Writer) error { _, err := io.WriteString(w, "after\n"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "after\n" {
		t.Fatalf("export wrote %q", b)
	}
	var out bytes.Buffer
	if err := WriteFile("", &out, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil || out.String() != "x" {
		t.Fatalf("to stdout: %q, %v", out.String(), err)
	}
}
