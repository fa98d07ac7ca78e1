package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// A missing source is an error, not an empty list
//
// The data folder (dir) is the connector's remote. When it is not there (a
// typo in dir, a disk or share that is not mounted), a pull that answered
// "no records" would make the hub believe every record was deleted: a full
// sync would reject every linked risk, a votes binding would drop every
// vote. So every call that touches the folder (Check, Pull, Push, Find,
// Publish) first makes sure it is there and fails, classed permanent,
// naming the folder and what to check. The connector never creates the
// data folder.
//
// Inside an existing folder, a data file that is not there yet is an empty
// list: that is how a folder starts (the first push creates risks.csv; votes
// and scans may never be kept). Whether an empty list then deletes records
// the hub has linked is the hub's call (its deletion guard), not the
// connector's, which cannot know the links. But a file is "not there" only
// when its own folder exists and nothing is at its path: a file in a
// subfolder that is missing, or a symbolic link whose target is missing,
// is the same mistake as a missing data folder and fails the call. A file
// that is there but cannot be read (permissions, a folder in its place) is
// an error too.
//
// Configure does not look at the folder (the SDK's Configure does not reach
// the remote, so that `usmhub validate -offline` works where the data
// folder is not mounted); Check does, so `usmhub validate` reports it.

// errDataFolder is the error of a call whose data folder is missing or
// unusable: permanent, as retrying will not make the folder appear.
func errDataFolder(format string, args ...any) *sdk.Error {
	return sdk.Errorf(sdk.ClassPermanent, format, args...)
}

// checkDir makes sure the data folder exists and is a folder.
func (c *config) checkDir() error {
	fi, err := os.Stat(c.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errDataFolder("data folder %s does not exist: check that dir in the connector block names it (a typo?) "+
			"and that its disk or share is mounted; the file connector does not create it", c.Dir)
	case errors.Is(err, fs.ErrPermission):
		return errDataFolder("cannot open data folder %s: %v: check the folder's permissions for the user usmhub runs as", c.Dir, err)
	case err != nil:
		return sdk.Errorf(sdk.ClassTransient, "cannot open data folder %s: %v", c.Dir, err)
	case !fi.IsDir():
		return errDataFolder("dir %s is not a folder: point dir at the folder that holds the data files", c.Dir)
	}
	return nil
}

// source returns the config once the data folder is there: every call
// that touches the folder starts with it.
func (c *Connector) source() (*config, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	if err := cfg.checkDir(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// absent checks a path that may not be there yet (a data file, the
// reports folder): nil when it is there, or when nothing is at it and its
// folder is there (an empty list, a folder to make); else the error to fail
// the call with, naming what is missing: its folder, or the target of a
// symbolic link at path.
func absent(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // there (an error reading it is the caller's to report)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(path)
		return errDataFolder("%s is a link to %s, which does not exist: check that its disk or share is mounted, or remove the link", path, target)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errDataFolder("folder %s of %s does not exist: check the connector's dir and file names, and that the disk or share is mounted", dir, path)
	case err != nil:
		return errDataFolder("cannot open folder %s of %s: %v", dir, path, err)
	case !fi.IsDir():
		return errDataFolder("%s is not a folder, so %s cannot be there: check the connector's file names", dir, path)
	}
	return nil
}

// unreadable adds to an error opening a data file that is there what to
// check; it keeps wrapping err.
func unreadable(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: check the file's permissions for the user usmhub runs as", err)
	}
	return err
}
