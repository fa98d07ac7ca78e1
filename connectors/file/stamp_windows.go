package main

import (
	"os"
	"syscall"
)

// fileIdentity returns no file number (FileInfo has none on Windows) and,
// for the change time, the creation time: every write of the connector
// creates a new file and renames it over the old one.
func fileIdentity(fi os.FileInfo) (ino, dev uint64, ctime int64) {
	d, ok := fi.Sys().(*syscall.Win32FileAttributeData)
	if !ok {
		return 0, 0, 0
	}
	return 0, 0, d.CreationTime.Nanoseconds()
}
