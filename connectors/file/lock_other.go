//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import (
	"os"
	"sync"
)

// Without flock, writers in this process exclude each other; separate
// processes writing the same folder are not excluded.
var processLock sync.Mutex

func tryLock(*os.File) (bool, error) { return processLock.TryLock(), nil }

func unlock(*os.File) error {
	processLock.Unlock()
	return nil
}
