package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// The plugin lock file.
//
// Like Terraform's .terraform.lock.hcl, the lock file beside the config
// (LockFileName in the config's folder) records, for each connector type
// the config uses, the sha256 of the plugin binary that `usmhub plugins
// lock` found. The hub verifies it at every launch of a connector: another
// binary is refused, naming both digests. It is written by usmhub, kept
// under version control with the config, and written again after an
// intended upgrade of a connector.
//
//	connector "file" {
//	  sha256 = "sha256:3f1c…"
//	}

// LockFileName is the name of the lock file in the config's folder.
const LockFileName = "usmhub.lock.hcl"

// Lock is a loaded lock file.
type Lock struct {
	// Path is the lock file's path, whether it exists or not.
	Path string
	// Digests maps a connector type to the sha256 recorded for its binary
	// (64 lower-case hex digits). Empty when there is no lock file.
	Digests map[string]string
}

type lockSchema struct {
	Connectors []*lockConnectorSchema `hcl:"connector,block"`
}

type lockConnectorSchema struct {
	Type        string    `hcl:"type,label"`
	SHA256      string    `hcl:"sha256"`
	TypeRange   hcl.Range `hcl:"type,label_range"`
	SHA256Range hcl.Range `hcl:"sha256,attr_value_range"`
	DefRange    hcl.Range `hcl:",def_range"`
}

// ParseSHA256 checks a plugin digest as the config, the lock file and the
// plugin host accept it: 64 hex digits in either case, optionally after
// "sha256:", blanks around ignored. It returns the digest in lower case.
func ParseSHA256(s string) (string, bool) {
	d := strings.ToLower(strings.TrimSpace(s))
	d = strings.TrimPrefix(d, "sha256:")
	if raw, err := hex.DecodeString(d); err != nil || len(raw) != 32 {
		return "", false
	}
	return d, true
}

// LoadLock reads the lock file at path. A missing file is an empty lock;
// any other problem is a *DiagError at the lock file's FILE:LINE,COL.
func LoadLock(path string) (*Lock, error) {
	lock := &Lock{Path: path, Digests: map[string]string{}}
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return lock, nil
	}
	if err != nil {
		return nil, &DiagError{Diags: hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read the plugin lock file",
			Detail:   fmt.Sprintf("%s; fix its permissions, or remove it and run `usmhub plugins lock`.", err),
		}}}
	}
	parser := hclparse.NewParser()
	diags := guardHCL(src, path)
	var file *hcl.File
	if !diags.HasErrors() {
		file, diags = parser.ParseHCL(src, path)
	}
	if diags.HasErrors() {
		return nil, &DiagError{Diags: diags, Files: parser.Files()}
	}
	var ls lockSchema
	diags = gohcl.DecodeBody(file.Body, nil, &ls)
	seen := map[string]hcl.Range{}
	for _, c := range ls.Connectors {
		if first, dup := seen[c.Type]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Duplicate connector %q in the lock file", c.Type),
				Detail: fmt.Sprintf("Connector type %q is already locked at %s; run `usmhub plugins lock` to write the lock file afresh.", c.Type, at(first)), Subject: c.DefRange.Ptr()})
			continue
		}
		seen[c.Type] = c.DefRange
		sum, ok := ParseSHA256(c.SHA256)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid sha256 in the lock file",
				Detail: fmt.Sprintf("%q is not a SHA-256 digest (sha256: and 64 hex digits); run `usmhub plugins lock` to write the lock file afresh.", c.SHA256), Subject: c.SHA256Range.Ptr()})
			continue
		}
		lock.Digests[c.Type] = sum
	}
	if diags.HasErrors() {
		sortDiagnostics(diags)
		return nil, &DiagError{Diags: diags, Files: parser.Files()}
	}
	return lock, nil
}

// lockHeader opens every lock file written by WriteLock.
const lockHeader = `# This file is maintained by "usmhub plugins lock": the sha256 of each
# connector plugin binary this hub may launch. usmhub refuses a connector
# whose binary has another digest. After an intended upgrade of a
# connector, run "usmhub plugins lock" again. Keep it with the config.

`

// WriteLock writes digests (connector type → sha256 hex) as the lock file
// at path, sorted by type. It writes a temporary file in the same folder
// and renames it over path, so a reader sees the old file or the new one.
func WriteLock(path string, digests map[string]string) error {
	types := make([]string, 0, len(digests))
	for t := range digests {
		types = append(types, t)
	}
	sort.Strings(types)
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	for i, t := range types {
		if i > 0 {
			body.AppendNewline()
		}
		b := body.AppendNewBlock("connector", []string{t}).Body()
		b.SetAttributeValue("sha256", cty.StringVal("sha256:"+digests[t]))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(lockHeader)
	if err == nil {
		_, err = f.WriteTo(tmp)
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write lock file %s: %w", path, err)
	}
	return nil
}
