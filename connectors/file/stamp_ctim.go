//go:build linux || openbsd || dragonfly

package main

import (
	"os"
	"syscall"
)

// fileIdentity returns a file's number, its device and its change time.
func fileIdentity(fi os.FileInfo) (ino, dev uint64, ctime int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return uint64(st.Ino), uint64(st.Dev), st.Ctim.Nano()
}
