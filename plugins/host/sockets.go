package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Plugin sockets.
//
// go-plugin plugins listen on a unix socket they create in the folder named
// by PLUGIN_UNIX_SOCKET_DIR (else os.TempDir()). A plugin removes its socket
// when it exits normally, but one that is SIGKILLed (or whose hub is) leaves
// it behind. So each Host gives its plugins a folder of their own,
//
//	<os.TempDir()>/usmhub-plugins-<uid>/host-<pid>-<random>/
//
// holding a lock file the Host keeps flock'ed while it lives. The kernel
// drops that lock when the hub process dies, however it dies. On start a
// Host removes every host-* folder whose lock it can take: their owner is
// gone, and so are the plugins (parent-death signal), so every socket in
// there is stale. Host.Close removes its own folder. This is best effort: a
// failure is logged, never fatal, and nothing outside the usmhub-plugins-<uid>
// folder is touched (other programs' go-plugin sockets in os.TempDir() are
// theirs to clean).

const lockName = ".lock"

// socketDir is one Host's folder for plugin sockets.
type socketDir struct {
	path string
	lock *os.File // flock'ed while the Host lives; nil where unsupported
}

// socketBase is the folder holding every Host's socket folder.
func socketBase() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("usmhub-plugins-%d", os.Getuid()))
}

// openSocketDir cleans stale folders under base and makes this Host's.
// It returns the names of the stale folders it removed.
func openSocketDir(base string) (*socketDir, []string, error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, nil, fmt.Errorf("plugin socket folder: %w", err)
	}
	if err := checkOwnDir(base); err != nil {
		return nil, nil, err
	}
	removed := removeStale(base)
	path, err := os.MkdirTemp(base, fmt.Sprintf("host-%d-", os.Getpid()))
	if err != nil {
		return nil, removed, fmt.Errorf("plugin socket folder: %w", err)
	}
	lock, err := lockDir(path)
	if err != nil {
		_ = os.RemoveAll(path)
		return nil, removed, fmt.Errorf("plugin socket folder: %w", err)
	}
	return &socketDir{path: path, lock: lock}, removed, nil
}

// removeStale removes the host-* folders under base whose owner is gone.
func removeStale(base string) []string {
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "host-") {
			continue
		}
		dir := filepath.Join(base, e.Name())
		if ownerAlive(dir) {
			continue
		}
		if os.RemoveAll(dir) == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed
}

// ownerAlive says whether the Host owning dir still runs: it holds the lock
// (or, without a lock file, the folder is younger than a minute: its owner
// may be between creating it and locking it).
func ownerAlive(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0)
	if err != nil {
		fi, serr := os.Stat(dir)
		return serr == nil && time.Since(fi.ModTime()) < time.Minute
	}
	defer f.Close()
	return !tryLock(f) // taking it and closing f releases it again
}

// removeSocket removes a dead plugin's socket file, if it is in this folder.
func (d *socketDir) removeSocket(path string) {
	if d == nil || path == "" || filepath.Dir(path) != d.path {
		return
	}
	_ = os.Remove(path)
}

// close removes the folder and releases the lock.
func (d *socketDir) close() error {
	if d == nil {
		return nil
	}
	err := os.RemoveAll(d.path)
	if d.lock != nil {
		_ = d.lock.Close()
	}
	return err
}
