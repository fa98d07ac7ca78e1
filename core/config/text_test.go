package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A config that is not UTF-8 text, or holds a NUL raw or escaped, is
// refused at the first such character. HCL refused bad bytes in quoted
// strings only, and took the rest (comments, JSON, NULs) silently.
func TestLoadRefusesBadText(t *testing.T) {
	tests := []struct {
		name, file, src, want string
	}{
		{"Latin-1 in a comment", "c.hcl", "# caf\xe9\ninitiative \"a\" {\n  name = \"x\"\n}\n", "c.hcl:1,6: Invalid character: This byte is not UTF-8."},
		{"a NUL byte in a string", "c.hcl", "initiative \"a\" {\n  name = \"x\x00y\"\n}\n", "c.hcl:2,12: Invalid character: A config may not hold a NUL byte."},
		{"an escaped NUL", "c.hcl", "initiative \"a\" {\n  name = \"é\\u0000\"\n}\n", "c.hcl:2,12: Invalid character: Text may not hold a NUL character"},
		{"a long escaped NUL", "c.hcl", "initiative \"a\" {\n  name = \"\\U00000000\"\n}\n", "c.hcl:2,11: Invalid character: Text may not hold a NUL character"},
		{"Latin-1 in JSON", "c.json", "{\"initiative\": {\"a\": {\"name\": \"caf\xe9\"}}}", "c.json:1,35: Invalid character: This byte is not UTF-8."},
		{"an escaped NUL in JSON", "c.json", "{\"initiative\": {\"a\": {\"name\": \"\\u0000\"}}}", "c.json:1,32: Invalid character: Text may not hold a NUL character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, []byte(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatalf("loaded; want %q", tt.want)
			}
			if got := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), ""); !strings.Contains(got, tt.want) {
				t.Errorf("error\n%s\nwant it to contain %q", got, tt.want)
			}
		})
	}
	// An escaped backslash before u0000 is no escape of a NUL.
	path := filepath.Join(t.TempDir(), "ok.hcl")
	if err := os.WriteFile(path, []byte("initiative \"a\" {\n  name = \"C:\\\\u0000\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("an escaped backslash: %v", err)
	}
	// file() refuses a file holding a NUL byte.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "title.txt"), []byte("a\x00b"), 0o600); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "f.hcl")
	if err := os.WriteFile(path, []byte("initiative \"a\" {\n  name = file(\"title.txt\")\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "holds a NUL byte") {
		t.Errorf("file() of a NUL: %v", err)
	}
}
