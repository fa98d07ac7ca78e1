//go:build !linux

package host

import "io/fs"

// keyOf reports no key outside Linux: plugin binaries are hashed in full
// at every launch there.
func keyOf(fs.FileInfo) (fileKey, bool) { return fileKey{}, false }
