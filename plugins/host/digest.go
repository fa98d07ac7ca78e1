package host

import (
	"crypto/sha256"
	"encoding"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"
)

// Digests of plugin binaries.
//
// A connector binary is 20–30 MB: its sha256 costs about 20 ms of CPU, and
// a pinned launch used to pay it twice (the Host's check in find, then
// go-plugin's SecureConfig just before exec), an unpinned one once (for the
// log and Instance.Binary). So the hub remembers, per path, the digest of
// the file it last hashed there together with that file's identity and
// times, (device, inode, size, mtime, ctime), read with fstat from the very
// file descriptor it hashed; while a later fstat of the file at that path
// returns the same five values, the file is the one hashed, and its digest
// is taken from memory. Any change sets ctime: the kernel stamps it on every
// write, truncate, chmod, rename or link of the file and user space cannot
// set it (utimes sets mtime, not ctime); a file replaced by another (a new
// build, a rename over it) is another inode. Either way the key differs and
// the file is hashed again, so a pinned binary that changed is refused as
// before.
//
// Timestamps have a granularity (the kernel's coarse clock, a file system's
// resolution), so a file changed again within the same tick as its last
// change keeps its ctime. As git does with a "racily clean" index, a digest
// is therefore only remembered for a file whose mtime and ctime are at least
// settleTime older than the moment the hash started, and whose fstat was
// the same before and after the hash: a file written during, or just
// before, the hash is hashed again at every launch until it has settled.
//
// The time-of-check to time-of-use window is the one go-plugin's
// SecureConfig always had: the file at the path is verified (now: by its
// digest, or by its unchanged identity and times since a full hash), then
// the path is executed. The cache is per process (never on disk) and only
// answers for the same path.

// settleTime is how much older than a hash a file's last change must be for
// its digest to be remembered. It exceeds the timestamp resolution of the
// file systems Linux uses for binaries (ns on ext4, xfs, btrfs; 1–2 s on
// some older or foreign ones) and the lag of the kernel's coarse clock.
var settleTime = 2 * time.Second

// fileKey identifies a file's content as the kernel reports it: equal keys
// mean nothing was written to the file in between (see above).
type fileKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // Unix nanoseconds
}

// settled says whether the file's last change was settleTime or more before
// t.
func (k fileKey) settled(t time.Time) bool {
	limit := t.Add(-settleTime).UnixNano()
	return k.mtime < limit && k.ctime < limit
}

// openFile is an open file: *os.File, or what wraps it on its way through
// io.Copy (see pinHash).
type openFile interface {
	io.Reader
	Name() string
	Stat() (fs.FileInfo, error)
}

// digestCache remembers the sha256 state after each path's file, by the
// file's key.
type digestCache struct {
	mu     sync.Mutex
	byPath map[string]digestEntry
	hashed atomic.Int64 // files read and hashed in full; tests read it
}

type digestEntry struct {
	key   fileKey
	state []byte // sha256 state after the whole file (encoding.BinaryMarshaler)
}

// digests is the process's digest cache: every Host shares it, as they share
// the files.
var digests = &digestCache{byPath: map[string]digestEntry{}}

// hashFile brings h, a fresh sha256 hash.Hash, to the state it has after
// the whole content of f was written to it: from the cache when f is the
// file hashed at that path before, else by reading f. It returns the bytes
// that stand for (the file's size when cached).
func (c *digestCache) hashFile(h hash.Hash, f openFile) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("hash plugin binary: %w", err)
	}
	key, cacheable := keyOf(fi)
	if cacheable {
		c.mu.Lock()
		e, ok := c.byPath[f.Name()]
		c.mu.Unlock()
		if ok && e.key == key {
			if u, ok := h.(encoding.BinaryUnmarshaler); ok && u.UnmarshalBinary(e.state) == nil {
				return key.size, nil
			}
			h.Reset() // not a sha256 state after all: hash the file
		}
	}
	start := time.Now()
	c.hashed.Add(1)
	// h as a plain Writer: should it be a ReaderFrom (a pinHash), it must
	// not be handed the file again.
	n, err := io.Copy(struct{ io.Writer }{h}, f)
	if err != nil {
		return n, fmt.Errorf("hash plugin binary %s: %w", f.Name(), err)
	}
	if !cacheable || n != key.size || !key.settled(start) {
		return n, nil
	}
	if fi, err := f.Stat(); err != nil {
		return n, nil
	} else if after, ok := keyOf(fi); !ok || after != key {
		return n, nil // changed while we read it
	}
	m, ok := h.(encoding.BinaryMarshaler)
	if !ok {
		return n, nil
	}
	state, err := m.MarshalBinary()
	if err != nil {
		return n, nil
	}
	c.mu.Lock()
	c.byPath[f.Name()] = digestEntry{key: key, state: state}
	c.mu.Unlock()
	return n, nil
}

// pinHash is the hash.Hash the host gives go-plugin's SecureConfig, which
// checks a pinned binary right before it executes it by copying the opened
// file into the hash (io.Copy, which hands the file to ReadFrom) and
// comparing the sum with the pin. It is sha256; ReadFrom, given an open file
// first thing, answers from the digest cache when that file is the one
// hashed there before (same device, inode, size, mtime and ctime, by fstat
// of the opened file) and hashes it otherwise. Any other use is plain
// sha256, so if go-plugin ever stops passing the file to ReadFrom, the check
// still holds and only gets slower.
type pinHash struct {
	hash.Hash
	used bool // something was written: ReadFrom may not start from the cache
}

func newPinHash() *pinHash { return &pinHash{Hash: sha256.New()} }

// Write adds p to the hash.
func (p *pinHash) Write(b []byte) (int, error) {
	p.used = true
	return p.Hash.Write(b)
}

// ReadFrom adds everything r yields to the hash, from the digest cache when
// r is an open file and nothing was written before.
func (p *pinHash) ReadFrom(r io.Reader) (int64, error) {
	if f, ok := r.(openFile); ok && !p.used {
		p.used = true
		return digests.hashFile(p.Hash, f)
	}
	p.used = true
	return io.Copy(struct{ io.Writer }{p.Hash}, r)
}

// Reset empties the hash.
func (p *pinHash) Reset() {
	p.used = false
	p.Hash.Reset()
}
