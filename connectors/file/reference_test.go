package main

// The file connector as it was before it streamed (commit 0a8b021): the
// whole risks file loaded, indexed and written back. The differential tests
// (stream_test.go) hold the streaming pull and push to the same results
// and the same files.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// loadTable reads a whole data file. A missing file is an empty table with
// the given columns.
func loadTable(path, format string, columns []string) (*table, []row, os.FileInfo, error) {
	t, rr, f, err := openTable(path, format)
	if errors.Is(err, fs.ErrNotExist) {
		return newTable(path, format, columns), nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	var rows []row
	for {
		r, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, err
		}
		r.cells = append([]string(nil), r.cells...)
		rows = append(rows, r)
	}
	return t, rows, fi, nil
}

// refRowIDs gives the rows of a risks file, read in file order, their
// external ids: the id cell, or one derived from the row. A derived id
// taken by an earlier row gets -2, -3, … (two rows titled "TODO" are two
// risks); an id cell that repeats an earlier id is an error, naming both
// rows.
type refRowIDs struct {
	seen map[string]int64 // id → pos of its row
}

func newRefRowIDs() *refRowIDs { return &refRowIDs{seen: map[string]int64{}} }

// next returns the id of the next row.
func (ids *refRowIDs) next(t *table, r row) (id string, derived bool, err error) {
	if id = normalise(t.get(r, colID)); id != "" {
		if _, dup := ids.seen[id]; dup {
			return id, false, nil
		}
	} else {
		base := derivedID(t, r)
		if _, dup := ids.seen[base]; dup && strings.HasPrefix(base, "K-") {
			return base, true, nil
		}
		id = base
		for n := 2; ; n++ {
			if _, dup := ids.seen[id]; !dup {
				break
			}
			id = base + "-" + strconv.Itoa(n)
		}
		derived = true
	}
	id = strings.Clone(id) // not a slice of the row's text: the map must not pin it
	ids.seen[id] = r.pos
	return id, derived, nil
}

// refRiskSet is the risks file in memory, indexed, while a push changes it.
type refRiskSet struct {
	t          *table
	rows       []row
	ids        []string            // external id of each row
	derived    []bool              // whether the row's id is derived (not in its id cell yet)
	byID       map[string]int      // external id → row
	byMarker   map[string]int      // marker → live row
	again      map[string][][2]int // ids that clash → (first row, a later row with it)
	nextF      int                 // the number of the next F-<n> id
	newest     time.Time           // the newest updated_at in the file
	handEdited bool                // written by someone else since the connector last wrote it
}

// newRefRiskSet indexes the rows; two rows with the same id are an error.
func newRefRiskSet(t *table, rows []row, fi os.FileInfo) (*refRiskSet, error) {
	s := &refRiskSet{t: t, rows: rows, ids: make([]string, len(rows)), derived: make([]bool, len(rows)),
		byID: make(map[string]int, len(rows)), byMarker: map[string]int{}, again: map[string][][2]int{}, nextF: 1}
	for _, c := range metaColumns { // the columns the connector keeps, after the user's
		if t.col(c) < 0 {
			t.addColumn(c)
		}
	}
	ids := newRefRowIDs()
	for i, r := range rows {
		id, derived, err := ids.next(t, r)
		if err != nil {
			return nil, err
		}
		s.ids[i], s.derived[i] = id, derived
		if first, again := s.byID[id]; again {
			s.again[id] = append(s.again[id], [2]int{first, i})
			s.derived[i] = false // keeps its cells
		} else {
			s.byID[id] = i
		}
		if n, ok := strings.CutPrefix(id, "F-"); ok {
			if k, err := strconv.Atoi(n); err == nil && k >= s.nextF {
				s.nextF = k + 1
			}
		}
		if m := normalise(t.get(r, colMarker)); m != "" && !isDeleted(t.get(r, colDeleted)) {
			if _, taken := s.byMarker[m]; !taken {
				s.byMarker[m] = i
			}
		}
		if ts, ok := rowUpdatedAt(t, r); ok && ts.After(s.newest) {
			s.newest = ts
		}
	}
	s.handEdited = len(rows) > 0 && fi != nil && !fi.ModTime().Equal(s.newest)
	return s, nil
}

// apply makes one change; it reports whether the file changed.
func (s *refRiskSet) apply(ch sdk.Change, now time.Time) (sdk.Result, bool) {
	fields := make(map[string]string, len(ch.Fields))
	for k, v := range ch.Fields {
		fields[k] = normalise(v)
	}
	marker := normalise(ch.Marker)
	t := s.t

	if ch.Op == sdk.OpCreate {
		if i, ok := s.byMarker[marker]; ok && marker != "" {
			return s.result(i, now), false // a retried create
		}
		if err := validateRisk(fields, true); err != nil {
			return sdk.Result{Err: err}, false
		}
		var r row
		id := "F-" + strconv.Itoa(s.nextF)
		s.nextF++
		t.set(&r, colID, id)
		for _, f := range riskFields {
			if v, ok := fields[f]; ok {
				t.set(&r, f, v)
			}
		}
		t.set(&r, colMarker, marker)
		t.set(&r, colVersion, "1")
		t.set(&r, colUpdatedAt, now.Format(time.RFC3339Nano))
		s.rows = append(s.rows, r)
		s.ids = append(s.ids, id)
		s.derived = append(s.derived, false)
		i := len(s.rows) - 1
		s.byID[id] = i
		if marker != "" {
			s.byMarker[marker] = i
		}
		return s.result(i, now), true
	}

	i, ok := s.byID[ch.ExternalID]
	if !ok {
		return sdk.Result{Err: sdk.Errorf(sdk.ClassPermanent, "no risk %s in %s", ch.ExternalID, t.path)}, false
	}
	r := &s.rows[i]
	deleted := isDeleted(t.get(*r, colDeleted))
	switch {
	case ch.Op == sdk.OpDelete && deleted:
		return s.result(i, now), false // deleted before: a retried delete
	case ch.Op == sdk.OpUpdate && deleted:
		return sdk.Result{Err: sdk.Errorf(sdk.ClassPermanent, "risk %s was deleted", ch.ExternalID)}, false
	case ch.Op != sdk.OpUpdate && ch.Op != sdk.OpDelete:
		return sdk.Result{Err: sdk.Errorf(sdk.ClassInvalid, "unknown operation %q", ch.Op)}, false
	}
	if v := riskVersion(t, *r); ch.Version != "" && ch.Version != v {
		return sdk.Result{Err: sdk.Errorf(sdk.ClassConflict, "risk %s changed since version %s (it is at %s): pull it first", ch.ExternalID, ch.Version, v)}, false
	}

	changed := false
	if ch.Op == sdk.OpDelete {
		t.set(r, colDeleted, "true")
		if m := normalise(t.get(*r, colMarker)); s.byMarker[m] == i {
			delete(s.byMarker, m)
		}
		changed = true
	} else {
		if err := validateRisk(fields, false); err != nil {
			return sdk.Result{Err: err}, false
		}
		for _, f := range riskFields {
			if v, ok := fields[f]; ok && (normalise(t.get(*r, f)) != v || t.col(f) < 0) {
				t.set(r, f, v)
				changed = true
			}
		}
		if old := normalise(t.get(*r, colMarker)); marker != "" && marker != old {
			if s.byMarker[old] == i {
				delete(s.byMarker, old)
			}
			t.set(r, colMarker, marker)
			s.byMarker[marker] = i
			changed = true
		}
	}
	if changed {
		t.set(r, colVersion, strconv.FormatInt(rowVersion(t, *r)+1, 10))
		t.set(r, colUpdatedAt, now.Format(time.RFC3339Nano))
	}
	return s.result(i, now), changed
}

// result is the successful result of a change to row i.
func (s *refRiskSet) result(i int, now time.Time) sdk.Result {
	rec := riskRecord(s.t, s.rows[i], s.ids[i], now)
	return sdk.Result{ExternalID: rec.ExternalID, Version: rec.Version, Fields: rec.Fields}
}

// stamp prepares the rows for writing: rows written by hand get the id
// they were known by and a time; after a hand edit every row gets the time
// of this write, so that incremental pulls see what the editor changed.
func (s *refRiskSet) stamp(now time.Time) {
	stamp := now.Format(time.RFC3339Nano)
	for i := range s.rows {
		r := &s.rows[i]
		if s.derived[i] {
			s.t.set(r, colID, s.ids[i])
		}
		if _, ok := rowUpdatedAt(s.t, *r); !ok || s.handEdited {
			s.t.set(r, colUpdatedAt, stamp)
		}
	}
}

// refPush is the old Push, less the lock and the folder checks, at now.
func refPush(path, format string, req sdk.PushRequest, now time.Time) ([]sdk.Result, error) {
	t, rows, fi, err := loadTable(path, format, riskColumns)
	if err != nil {
		return nil, fmt.Errorf("push risks: %w", err)
	}
	s, err := newRefRiskSet(t, rows, fi)
	if err != nil {
		return nil, fmt.Errorf("push risks: %w", err)
	}
	// A change to an id that clashes is refused, naming the first later
	// row with it in file order.
	var refused [2]int
	for _, ch := range req.Changes {
		if ch.Op == sdk.OpCreate {
			continue
		}
		for _, pair := range s.again[ch.ExternalID] {
			if refused == [2]int{} || pair[1] < refused[1] {
				refused = pair
			}
		}
	}
	if refused != [2]int{} {
		r, first := rows[refused[1]], rows[refused[0]]
		what := "id " + s.ids[refused[1]] + " again ("
		if normalise(t.get(r, colID)) == "" {
			what = "key " + strings.TrimPrefix(s.ids[refused[1]], "K-") + " again, in a row without an id ("
		}
		return nil, sdk.Errorf(sdk.ClassPermanent, "push risks: %s: %sfirst at %s); give each row its own %s", t.where(r), what, t.where(first),
			map[bool]string{true: "key", false: "id"}[strings.HasPrefix(what, "key")])
	}
	if s.newest.After(now) {
		now = s.newest
	}
	results := make([]sdk.Result, len(req.Changes))
	changed := false
	for i, ch := range req.Changes {
		var ok bool
		results[i], ok = s.apply(ch, now)
		changed = changed || ok
	}
	if !changed {
		return results, nil
	}
	s.stamp(now)
	if err := writeAtomic(path, "", now, func(w io.Writer) error { return s.t.encode(w, s.rows) }); err != nil {
		return nil, sdk.Errorf(sdk.ClassTransient, "push risks: %v", err)
	}
	return results, nil
}
