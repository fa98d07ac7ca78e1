package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		marker := filepath.Join(h.dir, "shadow-ran")
		plantConnector(t, filepath.Join(h.dir, "plugins"), "file", marker)
		out := h.ok("plugins", "describe", "file")
		if !strings.Contains(out, `connector "file" "NAME" {`) {
			t.Errorf("describe file did not describe the real connector:\n%s", out)
		}
		notExecuted(t, marker, "plugins describe file")
		var listed []pluginInfo
		h.jsonOf(&listed, "plugins", "list")
		for _, p := range listed {
			if strings.HasPrefix(p.Path, h.dir) {
				t.Errorf("plugins list found %s in the config's folder", p.Path)
			}
		}
	})
	t.Run("plugin_dir first, listing runs nothing", func(t *testing.T) {
		h := newHub(t, testConfig)
		h.write("usmhub.hcl", strings.Replace(testConfig, `data_dir = "data"`, "data_dir = \"data\"\n  plugin_dir = \"extra\"", 1))
		marker := filepath.Join(h.dir, "evil-ran")
		evil := plantConnector(t, filepath.Join(h.dir, "extra"), "evil", marker)
		// A file connector in plugin_dir wins over the one next to usmhub.
		mine := filepath.Join(h.dir, "extra", "usmhub-connector-file")
		if err := os.Symlink(filepath.Join(filepath.Dir(usmhubBin), "usmhub-connector-file"), mine); err != nil {
			t.Fatal(err)
		}
		out := h.ok("plugins", "list", "-json")
		var listed []pluginInfo
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
		h.ok("plugins", "list")
		notExecuted(t, marker, "plugins list")
		// Only describe launches, and then it is the chosen one.
		if _, _, code := h.run("plugins", "describe", "evil"); code == 0 {
			t.Errorf("describe of a script that exits 1 succeeded")
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("plugins describe evil did not launch it: %v", err)
		}
	})
}
