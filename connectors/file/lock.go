package main

import (
	"context"
	"fmt"
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

// lockDir takes the folder's write lock, waiting for it while ctx lives,
// and returns its release.
func lockDir(ctx context.Context, dir string) (func(), error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
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
			return func() {
				_ = unlock(f)
				f.Close()
			}, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: another writer holds it: %w", path, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}
