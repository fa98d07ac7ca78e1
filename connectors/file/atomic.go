package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// newFilePerm is the permissions of a file the connector creates, less
// the umask: the risk register and reports are the programme's data, not
// the world's. A file replaced keeps its own permissions.
const newFilePerm fs.FileMode = 0o640

// writeAtomic replaces the file at path with what write produces, so that a
// reader (or a crash) sees the old file or the new one, never a mix: see
// atomicFile. root limits where a symbolic link may lead (see createAtomic).
func writeAtomic(path, root string, mtime time.Time, write func(io.Writer) error) error {
	a, err := createAtomic(path, root)
	if err != nil {
		return err
	}
	if err := write(a); err != nil {
		a.abort()
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	return a.commit(mtime)
}

// atomicFile is the new content of a file being replaced: a temporary file
// in the same folder, which commit syncs, gives the old file's permissions
// (newFilePerm less the umask for a new file) and a modification time,
// renames over the file and makes durable by syncing the folder. A
// symbolic link at the path is followed, within the root: its target is
// replaced. Until commit, the file is as it was; abort removes the
// temporary file.
type atomicFile struct {
	path string      // the file replaced (a link's target)
	dir  string      // its folder
	perm fs.FileMode // the old file's permissions
	keep bool        // the file exists: give the new one perm whole
	tmp  *os.File
	bw   *bufio.Writer
}

// createAtomic starts replacing the file at path. Unless root is "", the
// file written — path with every symbolic link on the way resolved — must
// lie inside root (resolved too): a link planted in the connector's folder
// never leads a write out of it, onto a file the hub's user may write but
// the folder's users should not.
func createAtomic(path, root string) (*atomicFile, error) {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("write %s: %w", path, err)
	} else if d, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		path = filepath.Join(d, filepath.Base(path))
	}
	if root != "" {
		if err := inside(root, path); err != nil {
			return nil, err
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	a := &atomicFile{path: path, dir: dir, perm: newFilePerm}
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		a.perm, a.keep = fi.Mode().Perm(), true
	}
	tmp, err := createTemp(dir, "."+base+".tmp-", a.perm)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	a.tmp, a.bw = tmp, bufio.NewWriterSize(tmp, 256<<10)
	return a, nil
}

// inside fails unless resolved, a path whose links are resolved, lies in
// root once root's links are resolved.
func inside(root, resolved string) error {
	r, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("write %s: %w", resolved, err)
	}
	rel, err := filepath.Rel(r, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return sdk.Errorf(sdk.ClassPermanent, "write %s: a symbolic link leads it out of the folder %s; the connector writes only inside its folder: remove the link, or configure the path it points to", resolved, r)
	}
	return nil
}

// Write adds to the new content.
func (a *atomicFile) Write(p []byte) (int, error) { return a.bw.Write(p) }

// reset empties the new content, to write it again.
func (a *atomicFile) reset() error {
	a.bw.Reset(a.tmp)
	if err := a.tmp.Truncate(0); err != nil {
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	if _, err := a.tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	return nil
}

// abort drops the new content and leaves the file as it was.
func (a *atomicFile) abort() {
	a.tmp.Close()
	os.Remove(a.tmp.Name())
}

// commit replaces the file with the new content, with the modification
// time mtime (unless zero). On failure the file is as it was.
func (a *atomicFile) commit(mtime time.Time) (err error) {
	defer func() {
		if err != nil {
			a.abort()
		}
	}()
	if err := a.bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	// Created less the umask, the temporary file gets a replaced file's
	// permissions whole; a new file keeps newFilePerm less the umask.
	if a.keep {
		if err := a.tmp.Chmod(a.perm); err != nil && runtime.GOOS != "windows" {
			return fmt.Errorf("write %s: %w", a.path, err)
		}
	}
	if err := a.tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", a.path, err)
	}
	if err := a.tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(a.tmp.Name(), mtime, mtime); err != nil {
			return fmt.Errorf("write %s: set modification time: %w", a.path, err)
		}
	}
	if err := os.Rename(a.tmp.Name(), a.path); err != nil {
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	if err := syncDir(a.dir); err != nil {
		return fmt.Errorf("write %s: sync folder: %w", a.path, err)
	}
	return nil
}

// createTemp creates a new file named prefix plus a random suffix in dir,
// with permissions perm less the umask.
func createTemp(dir, prefix string, perm fs.FileMode) (*os.File, error) {
	for range 10 {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		f, err := os.OpenFile(filepath.Join(dir, prefix+hex.EncodeToString(b)), os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, errors.New("cannot create a temporary file: too many name clashes")
}

// syncDir makes a rename in dir durable. Windows cannot sync a folder; its
// renames are durable once they return.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
