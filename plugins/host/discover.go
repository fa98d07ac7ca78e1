package host

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
)

// BinaryPrefix starts the file name of every connector plugin binary:
// usmhub-connector-<type>, e.g. usmhub-connector-redmine.
const BinaryPrefix = "usmhub-connector-"

// typeName is what a connector type may be called.
var typeName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Binary is a connector plugin binary found on disk.
// Its JSON is one entry of `usmhub plugins list -json`: what discovery
// found on disk, never what the binary says of itself.
type Binary struct {
	Type   string `json:"type"` // the connector type: the file name less BinaryPrefix
	Path   string `json:"path"`
	SHA256 string `json:"sha256"` // hex, lower case
}

// DefaultDirs returns the folders connector binaries are looked for in, in
// order: pluginDir (hub.plugin_dir; skipped when empty), then the folder of
// the running usmhub binary.
func DefaultDirs(pluginDir string) []string {
	var dirs []string
	if pluginDir != "" {
		dirs = append(dirs, pluginDir)
	}
	if exe, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		dirs = append(dirs, filepath.Dir(exe))
	}
	return dirs
}

// Discover lists the connector binaries in dirs: executable files named
// usmhub-connector-<type> (on Windows with .exe), sorted by type. When two
// folders hold the same type, the first folder wins. A folder that does not
// exist is skipped; one that cannot be read is an error. The list is
// never nil.
func Discover(dirs ...string) ([]Binary, error) {
	seen := map[string]bool{}
	found := []Binary{}
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("discover connector plugins in %s: %w", dir, err)
		}
		for _, e := range entries {
			typ, ok := binaryType(e.Name())
			if !ok || seen[typ] {
				continue
			}
			path := filepath.Join(dir, e.Name())
			if !isExecutable(path) {
				continue
			}
			sum, err := FileSHA256(path)
			if err != nil {
				return nil, fmt.Errorf("discover connector plugins in %s: %w", dir, err)
			}
			seen[typ] = true
			found = append(found, Binary{Type: typ, Path: path, SHA256: sum})
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Type < found[j].Type })
	return found, nil
}

// find returns the binary of one connector type, the first in dirs.
func find(typ string, dirs []string) (Binary, error) {
	if !typeName.MatchString(typ) {
		return Binary{}, fmt.Errorf("invalid connector type %q: use lower-case letters, digits, - and _", typ)
	}
	name := BinaryPrefix + typ
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		path := filepath.Join(dir, name)
		if !isExecutable(path) {
			continue
		}
		sum, err := FileSHA256(path)
		if err != nil {
			return Binary{}, err
		}
		return Binary{Type: typ, Path: path, SHA256: sum}, nil
	}
	return Binary{}, fmt.Errorf("no plugin binary %s in %s: build it (make build) or set hub.plugin_dir", name, strings.Join(nonEmpty(dirs), ", "))
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return []string{"(no folders)"}
	}
	return out
}

func binaryType(name string) (string, bool) {
	if runtime.GOOS == "windows" {
		var ok bool
		if name, ok = strings.CutSuffix(strings.ToLower(name), ".exe"); !ok {
			return "", false
		}
	}
	typ, ok := strings.CutPrefix(name, BinaryPrefix)
	if !ok || !typeName.MatchString(typ) {
		return "", false
	}
	return typ, true
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	return runtime.GOOS == "windows" || fi.Mode().Perm()&0o111 != 0
}

// FileSHA256 returns the hex sha256 of the file at path: the digest a
// connector's plugin_sha256 pins. A file this process hashed before and
// that has not changed since is not read again (see digestCache).
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash plugin binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := digests.hashFile(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// parsePin checks a plugin_sha256 value: 64 hex digits, optionally after
// "sha256:". It returns the digest in lower case.
func parsePin(pin string) (string, []byte, error) {
	p := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(pin, "sha256:")))
	raw, err := hex.DecodeString(p)
	if err != nil || len(raw) != sha256.Size {
		return "", nil, fmt.Errorf("plugin_sha256 %q is not a sha256 digest (64 hex digits)", pin)
	}
	return p, raw, nil
}
