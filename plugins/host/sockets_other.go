//go:build !unix

package host

import "os"

// Without unix sockets (Windows) go-plugin listens on loopback TCP: there is
// nothing to clean, and the folder only exists for uniformity.

func lockDir(string) (*os.File, error) { return nil, nil }

func tryLock(*os.File) bool { return true }

func checkOwnDir(string) error { return nil }
