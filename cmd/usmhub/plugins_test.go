package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/plugins/host"
)

// plantConnector writes a shell script named usmhub-connector-<typ> into
// dir that, when run, creates the file marker: proof that it was executed.
func plantConnector(t *testing.T, dir, typ, marker string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "usmhub-connector-"+typ)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho ran > '"+marker+"'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func notExecuted(t *testing.T, marker, what string) {
	t.Helper()
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("%s executed a planted connector binary", what)
	}
}

// TestPluginDiscovery: connectors are looked for in hub.plugin_dir (when
// set), then next to usmhub, and nowhere else; a binary planted in
// <config folder>/plugins shadows nothing, and `plugins list` executes
// nothing it lists.
func TestPluginDiscovery(t *testing.T) {
	t.Run("no implicit plugins folder", func(t *testing.T) {
		h := newHub(t, testConfig)
		marker := filepath.Join(h.Dir, "shadow-ran")
		plantConnector(t, filepath.Join(h.Dir, "plugins"), "file", marker)
		out := h.OK("plugins", "describe", "file")
		if !strings.Contains(out, `connector "file" "NAME" {`) {
			t.Errorf("describe file did not describe the real connector:\n%s", out)
		}
		notExecuted(t, marker, "plugins describe file")
		var listed []host.Binary
		h.JSONOf(&listed, "plugins", "list")
		for _, p := range listed {
			if strings.HasPrefix(p.Path, h.Dir) {
				t.Errorf("plugins list found %s in the config's folder", p.Path)
			}
		}
	})
	t.Run("plugin_dir first, listing runs nothing", func(t *testing.T) {
		h := newHub(t, testConfig)
		h.Write("usmhub.hcl", strings.Replace(testConfig, `data_dir = "data"`, "data_dir = \"data\"\n  plugin_dir = \"extra\"", 1))
		marker := filepath.Join(h.Dir, "evil-ran")
		evil := plantConnector(t, filepath.Join(h.Dir, "extra"), "evil", marker)
		// A file connector in plugin_dir wins over the one next to usmhub.
		mine := filepath.Join(h.Dir, "extra", "usmhub-connector-file")
		if err := os.Symlink(filepath.Join(filepath.Dir(usmhubBin), "usmhub-connector-file"), mine); err != nil {
			t.Fatal(err)
		}
		out := h.OK("plugins", "list", "-json")
		var listed []host.Binary
		if err := json.Unmarshal([]byte(out), &listed); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		paths := map[string]string{}
		for _, p := range listed {
			paths[p.Type] = p.Path
		}
		if paths["evil"] != evil || paths["file"] != mine {
			t.Errorf("plugins list: %+v; want evil at %s and file at %s", listed, evil, mine)
		}
		h.OK("plugins", "list")
		notExecuted(t, marker, "plugins list")
		// Only describe launches, and then it is the chosen one.
		if _, _, code := h.Run("plugins", "describe", "evil"); code == 0 {
			t.Errorf("describe of a script that exits 1 succeeded")
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("plugins describe evil did not launch it: %v", err)
		}
	})
}

// TestPluginsLock: `plugins lock` records the binary each connector type
// of the config uses; every launch verifies it (validate, describe), a
// changed binary is refused naming both digests and the fix, and
// hub.require_plugin_pins refuses a connector pinned nowhere.
func TestPluginsLock(t *testing.T) {
	h := newHub(t, "")
	writeConfig := func(require bool) {
		h.Write("usmhub.hcl", fmt.Sprintf(`
hub {
  data_dir            = "data"
  plugin_dir          = "extra"
  require_plugin_pins = %v
}
connector "file" "sheet" {
  dir = "sheet"
}
`, require))
	}
	writeConfig(false)
	if err := os.MkdirAll(filepath.Join(h.Dir, "sheet"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(h.Dir, "extra", "usmhub-connector-file")
	copyFile(t, filepath.Join(filepath.Dir(usmhubBin), "usmhub-connector-file"), bin)
	lockPath := filepath.Join(h.Dir, "usmhub.lock.hcl")

	out := h.OK("plugins", "lock")
	old := sha256Of(t, bin)
	if !strings.Contains(out, "sha256:"+old) || !strings.Contains(out, "(new)") {
		t.Errorf("plugins lock:\n%s", out)
	}
	if b, err := os.ReadFile(lockPath); err != nil || !strings.Contains(string(b), `connector "file" {`) || !strings.Contains(string(b), `sha256 = "sha256:`+old+`"`) {
		t.Fatalf("lock file: %v\n%s", err, b)
	}
	h.OK("validate")

	// The binary changes (an upgrade, or someone planting another one).
	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("changed"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	changed := sha256Of(t, bin)
	for _, args := range [][]string{{"validate"}, {"plugins", "describe", "file"}} {
		_, errs, code := h.Run(args...)
		if code == 0 {
			t.Errorf("usmhub %v launched a binary the lock file does not record", args)
		}
		for _, want := range []string{"sha256:" + old, "sha256:" + changed, lockPath, "usmhub plugins lock"} {
			if !strings.Contains(errs, want) {
				t.Errorf("usmhub %v: error lacks %q:\n%s", args, want, errs)
			}
		}
	}
	// After an intended upgrade: lock again.
	out = h.OK("plugins", "lock")
	if !strings.Contains(out, "sha256:"+changed) || !strings.Contains(out, "sha256:"+old) {
		t.Errorf("plugins lock after the change:\n%s", out)
	}
	h.OK("validate")

	// require_plugin_pins: no lock file and no plugin_sha256 refuses...
	writeConfig(true)
	if err := os.Remove(lockPath); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := h.Run("validate"); code == 0 || !strings.Contains(errs, "hub.require_plugin_pins is set") {
		t.Errorf("validate of an unpinned connector under require_plugin_pins: exit %d\n%s", code, errs)
	}
	// ... and either pin lets it run.
	h.OK("plugins", "lock")
	h.OK("validate")
	if err := os.Remove(lockPath); err != nil {
		t.Fatal(err)
	}
	h.Write("usmhub.hcl", strings.Replace(readFile(t, filepath.Join(h.Dir, "usmhub.hcl")), `dir = "sheet"`, "dir = \"sheet\"\n  plugin_sha256 = \"sha256:"+strings.ToUpper(changed)+"\"", 1))
	h.OK("validate")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func sha256Of(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
