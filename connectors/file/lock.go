package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// lockName is the lock file the connector keeps in the data folder. Every
// write (push, publish) holds it exclusively, so that two connector
// processes (two hubs, or a hub and a relaunched plugin) never interleave
// their read-modify-write of a file. Readers need no lock: writes replace
// files atomically.
const lockName = ".usmhub-file.lock"

// dirLock is the folder's write lock, held.
type dirLock struct {
	f *os.File
}

// lockDir takes the folder's write lock, waiting for it while ctx lives.
func lockDir(ctx context.Context, dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			return &dirLock{f: f}, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: another writer holds it: %w", path, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}

// release gives the lock up.
func (l *dirLock) release() {
	_ = unlock(l.f)
	l.f.Close()
}

// The lock file also remembers the connector's last write of the risks
// file: its path and its stamp once renamed into place. A push that finds
// the file with that stamp knows every row is as the connector encodes it,
// and copies the rows it does not change byte for byte (push.go). Whatever
// else is in the lock file (nothing, a torn write, an older connector's
// empty file) says nothing.

// lastWrite is what the lock file remembers.
type lastWrite struct {
	Path  string    `json:"path"`
	Stamp fileStamp `json:"stamp"`
}

// wrote reports whether the connector's last write left the file at path
// with stamp st.
func (l *dirLock) wrote(path string, st fileStamp) bool {
	if l == nil {
		return false
	}
	b, err := io.ReadAll(io.NewSectionReader(l.f, 0, 4096))
	if err != nil {
		return false
	}
	var w lastWrite
	return json.Unmarshal(b, &w) == nil && w.Path == path && w.Stamp == st
}

// remember records that the connector just wrote the file at path (which
// it has renamed into place): its stamp now. It forgets first, so that a
// write that fails half way remembers nothing.
func (l *dirLock) remember(path string) {
	if l == nil {
		return
	}
	if err := l.f.Truncate(0); err != nil {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	b, err := json.Marshal(lastWrite{Path: path, Stamp: stampOf(fi)})
	if err != nil {
		return
	}
	_, _ = l.f.WriteAt(b, 0)
}
