package main

import "os"

// fileStamp is what a cursor remembers of the file it read whole: when the
// file at the path has the same stamp, it is the same file, unchanged, and
// a pull from that cursor reads nothing.
//
// The modification time and size alone do not tell: the connector sets a
// file's modification time to its newest updated_at, to the second, so two
// of its writes within a second that keep the size would look the same. A
// write replaces the file (a new file renamed over it), so the file number
// (inode) and the change time, which no one can set back, tell them apart.
// Where the system has neither (see stamp_*.go), the time and size do what
// they can.
type fileStamp struct {
	M int64  `json:"m,omitempty"` // modification time, Unix ns
	S int64  `json:"s,omitempty"` // size; -1 when there was no file
	I uint64 `json:"i,omitempty"` // file number (inode), where the system has one
	D uint64 `json:"d,omitempty"` // device of the file number
	C int64  `json:"c,omitempty"` // change time (ctime; Windows: creation time), Unix ns
}

// noFile is the stamp of a file that is not there.
var noFile = fileStamp{S: -1}

// stampOf returns the stamp of a file from its FileInfo (of os.Stat or
// File.Stat: both follow a symbolic link to its target).
func stampOf(fi os.FileInfo) fileStamp {
	s := fileStamp{M: fi.ModTime().UnixNano(), S: fi.Size()}
	s.I, s.D, s.C = fileIdentity(fi)
	return s
}
