package host

import (
	"fmt"
	"sort"
	"strings"

	"github.com/usmhub/usmhub/core/config"
)

// Locked is one connector type LockConfig pinned: the binary found, its
// digest, and the digest the lock file held before ("" when none).
type Locked struct {
	Type   string
	SHA256 string
	Path   string
	Was    string
}

// LockConfig records in the config's lock file (config.LockFileName) the
// sha256 of the binary of each connector type the config uses, as found
// in hub.plugin_dir and beside the hub's binary, and returns them by type.
// A type without a binary, or whose binary differs from the block's
// plugin_sha256, locks nothing: the error lists every such connector at
// its FILE:LINE,COL with what to do.
func LockConfig(cfg *config.Config) ([]Locked, error) {
	dirs := DefaultDirs(cfg.Hub.PluginDir)
	found, err := Discover(dirs...)
	if err != nil {
		return nil, fmt.Errorf("find plugins: %w", err)
	}
	byType := map[string]Binary{}
	for _, b := range found {
		byType[b.Type] = b
	}
	digests := map[string]string{}
	var problems []string
	for _, c := range cfg.Connectors {
		b, ok := byType[c.Type]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: connector %s: no plugin binary %s%s in %s: build or install it, or set hub.plugin_dir",
				c.Range, c.ID(), BinaryPrefix, c.Type, strings.Join(dirs, ", ")))
		case c.PluginSHA256 != "" && c.PluginSHA256 != b.SHA256:
			problems = append(problems, fmt.Sprintf("%s: connector %s: plugin_sha256 pins sha256:%s, but %s has sha256:%s: install the pinned binary, or change the pin",
				c.Range, c.ID(), c.PluginSHA256, b.Path, b.SHA256))
		default:
			digests[c.Type] = b.SHA256
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("nothing locked:\n%s", strings.Join(problems, "\n"))
	}
	if err := config.WriteLock(cfg.Lock.Path, digests); err != nil {
		return nil, err
	}
	out := make([]Locked, 0, len(digests))
	for t, d := range digests {
		out = append(out, Locked{Type: t, SHA256: d, Path: byType[t].Path, Was: cfg.Lock.Digests[t]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out, nil
}
