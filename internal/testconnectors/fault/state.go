package fault

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The remote lives in a folder: state.json (the records, the change
// sequence and the call counts), faults.json (optional, re-read on every
// call) and .lock (the flock every reader and writer of state.json takes).
const (
	stateFile  = "state.json"
	faultsFile = "faults.json"
	lockFile   = ".lock"
)

// State is the remote: what a tool would hold, plus what tests count.
type State struct {
	// Seq is the change sequence: every change of a record takes the next
	// number, which becomes the record's Seq (and its version).
	Seq     int64              `json:"seq"`
	NextID  int                `json:"next_id"`
	Records map[string]*Record `json:"records"`
	// Calls counts the calls made, by RPC (pull, push, find, check).
	Calls map[string]int `json:"calls"`
	// DataCalls counts the calls transient_every applies to.
	DataCalls int `json:"data_calls"`
	// PushWrites counts the changes Push applied, ever.
	PushWrites int `json:"push_writes"`
	// PullCursors are the cursors Pull was called with, in order ("" for
	// a full listing).
	PullCursors []string `json:"pull_cursors,omitempty"`
	// Spent are the crash points reached (Faults.CrashAt), each once.
	Spent []string `json:"spent,omitempty"`
}

// Record is one remote record. Deleted records stay as tombstones.
type Record struct {
	ID      string            `json:"id"`
	Marker  string            `json:"marker,omitempty"`
	Fields  map[string]string `json:"fields"`
	Seq     int64             `json:"seq"`
	Deleted bool              `json:"deleted,omitempty"`
	Created time.Time         `json:"created"`
	Updated time.Time         `json:"updated"`
}

// Version is the record's version: its change sequence number.
func (r *Record) Version() string { return strconv.FormatInt(r.Seq, 10) }

func (s *State) init() {
	if s.Records == nil {
		s.Records = map[string]*Record{}
	}
	if s.Calls == nil {
		s.Calls = map[string]int{}
	}
}

// bump gives r the next change sequence number.
func (s *State) bump(r *Record) {
	s.Seq++
	r.Seq = s.Seq
	r.Updated = time.Now().UTC()
}

// Create adds a record, as a user of the tool (marker "") or a push would.
func (s *State) Create(marker string, fields map[string]string) *Record {
	s.init()
	s.NextID++
	r := &Record{ID: "X-" + strconv.Itoa(s.NextID), Marker: marker, Fields: maps.Clone(fields), Created: time.Now().UTC()}
	if r.Fields == nil {
		r.Fields = map[string]string{}
	}
	s.bump(r)
	s.Records[r.ID] = r
	return r
}

// Update sets fields of a live record; it reports whether anything changed.
func (s *State) Update(id string, fields map[string]string) (bool, error) {
	r, ok := s.Records[id]
	if !ok || r.Deleted {
		return false, fmt.Errorf("no live record %s", id)
	}
	changed := false
	for k, v := range fields {
		if old, ok := r.Fields[k]; !ok || old != v {
			r.Fields[k] = v
			changed = true
		}
	}
	if changed {
		s.bump(r)
	}
	return changed, nil
}

// Delete marks a record deleted (a tombstone an incremental pull lists).
func (s *State) Delete(id string) error {
	r, ok := s.Records[id]
	if !ok {
		return fmt.Errorf("no record %s", id)
	}
	if !r.Deleted {
		r.Deleted = true
		s.bump(r)
	}
	return nil
}

// Purge removes a record without a trace: only a full listing notices.
func (s *State) Purge(id string) { delete(s.Records, id) }

// Sorted returns every record (tombstones too) in creation order.
func (s *State) Sorted() []*Record {
	out := make([]*Record, 0, len(s.Records))
	for _, r := range s.Records {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return idNum(out[i].ID) < idNum(out[j].ID) })
	return out
}

// Live returns the records not deleted, in creation order.
func (s *State) Live() []*Record {
	var out []*Record
	for _, r := range s.Sorted() {
		if !r.Deleted {
			out = append(out, r)
		}
	}
	return out
}

// ByMarker returns the live records carrying marker.
func (s *State) ByMarker(marker string) []*Record {
	var out []*Record
	for _, r := range s.Live() {
		if r.Marker == marker {
			out = append(out, r)
		}
	}
	return out
}

func idNum(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "X-"))
	return n
}

// ReadState returns the remote state in dir (empty when none was written).
func ReadState(dir string) (*State, error) {
	var s *State
	err := withLock(dir, func() error {
		var err error
		s, err = load(dir)
		return err
	})
	return s, err
}

// EditRemote changes the remote in dir under its lock, as a user of the
// tool would (State.Create, Update, Delete bump the change sequence), and
// saves it atomically. fn returning an error saves nothing.
func EditRemote(dir string, fn func(*State) error) error {
	return withLock(dir, func() error {
		s, err := load(dir)
		if err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
		return save(dir, s)
	})
}

// SetFaults writes dir/faults.json: the connector takes it, over its config,
// from its next call on (a running plugin included).
func SetFaults(dir string, f Faults) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, faultsFile), b)
}

func load(dir string) (*State, error) {
	s := &State{}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read remote state: %w", err)
	}
	if err == nil {
		if err := json.Unmarshal(b, s); err != nil {
			return nil, fmt.Errorf("read remote state: %w", err)
		}
	}
	s.init()
	return s, nil
}

func save(dir string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, stateFile), b)
}

// writeAtomic replaces path with b: a temporary file, synced, renamed over
// it, and the folder synced, so a kill at any moment leaves one or the other.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// withLock runs fn holding the folder's exclusive flock (other processes
// and other open files of this one wait).
func withLock(dir string, fn func() error) error {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("remote lock: %w", err)
	}
	defer f.Close()
	if err := lock(f); err != nil {
		return fmt.Errorf("remote lock: %w", err)
	}
	defer unlock(f)
	return fn()
}
