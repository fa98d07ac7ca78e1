package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// clock is the time a push stamps rows with (tests set it).
var clock = time.Now

// Push applies changes to the risks file, under the folder's write lock, in
// one atomic rewrite of the file. A change the file cannot take gets its own
// error (invalid values, a stale version, an unknown id); the others are
// applied. When nothing changes, the file is not written.
//
// A create carrying the marker of a live row returns that row (a retried
// create). An update writes the fields it names, and the marker when it
// carries one; if it carries a Version that is not the row's, it is
// refused as a conflict. A delete marks the row deleted; deleting it again
// succeeds.
//
// The push streams: it reads the old file row by row into the new one,
// changing the rows the changes name as they pass, and appends the creates
// at the end. It holds the changes (indexed by id), the rows they touch and
// a few bytes a row to tell ids apart (idset.go), never the whole file.
// The changes are applied in the order of the request, as if one by one;
// what one change does to a row depends only on that row, so a row can be
// written as it passes. Creates come last: whether a create is a retry of
// an earlier one (its marker on a live row) is known once every row and
// every change before it in the request was seen.
//
// Writing a row needs three facts only the end of the file tells: its
// newest updated_at (stamps never go back), whether it was edited by hand
// since the connector wrote it (then every row is stamped, see pull.go),
// and whether a change adds a column the file lacks. The push guesses them,
// from the modification time as a pull does, and writes the new file a
// second time when a guess was wrong: after a hand edit or when a change
// names a field the file has no column for, not in the steady state.
func (c *Connector) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	cfg, err := c.source()
	if err != nil {
		return nil, err
	}
	if req.Kind != sdk.KindRisk {
		return nil, sdk.Errorf(sdk.ClassPermanent, "the file connector pushes risks only, not %ss", req.Kind)
	}
	lock, err := lockDir(ctx, cfg.Dir)
	if err != nil {
		return nil, sdk.Errorf(sdk.ClassTransient, "push risks: %v", err)
	}
	defer lock.release()
	return pushRisks(ctx, lock, cfg.path(cfg.RisksFile), cfg.root(cfg.RisksFile), cfg.Format, req.Changes)
}

// pushRisks applies changes to the risks file at path; the caller holds
// the folder's write lock (nil: no lock file to remember writes in).
func pushRisks(ctx context.Context, lock *dirLock, path, root, format string, changes []sdk.Change) ([]sdk.Result, error) {
	src, err := openRisks(path, format)
	if err != nil {
		return nil, fmt.Errorf("push risks: %w", err)
	}
	defer src.close()
	plan := newPushPlan(changes)

	// The first pass guesses: the file was last written by the connector
	// (unless its modification time says otherwise), so its newest stamp
	// is its modification time; and no change adds a column. When the
	// lock file says the connector wrote the file as it is, the CSV rows
	// the push does not change are copied as they are.
	wall := clock().UTC().Truncate(time.Second)
	first := &pushPass{plan: plan, wall: wall, now: wall}
	if src.fi != nil {
		first.handEdited = likelyHandEdited(src.fi)
		if mt := src.fi.ModTime().UTC(); !first.handEdited && mt.After(wall) {
			first.now = mt
		}
		first.copyRows = format == formatCSV && lock.wrote(path, stampOf(src.fi)) && src.endsWithNewline()
	}
	// Where the new file goes. When it cannot be made (a folder the
	// connector may not write), the changes are still tried: a push that
	// changes nothing succeeds, as it writes nothing.
	var w io.Writer = io.Discard
	out, createErr := createAtomic(path, root)
	if createErr == nil {
		w = out
		defer func() {
			if out != nil {
				out.abort()
			}
		}()
	}
	if err := first.run(ctx, src, w); err != nil {
		return nil, err
	}
	p := first
	if first.changed && !first.exact() {
		if out != nil {
			if err := out.reset(); err != nil {
				return nil, sdk.Errorf(sdk.ClassTransient, "push risks: %v", err)
			}
		}
		p = first.corrected()
		if err := p.run(ctx, src, w); err != nil {
			return nil, err
		}
		if p.changed && !p.exact() {
			return nil, sdk.Errorf(sdk.ClassTransient, "push risks: %s changed while it was read", path)
		}
	}
	switch {
	case !p.changed:
		return p.results, nil
	case createErr != nil:
		return nil, sdk.Errorf(sdk.ClassTransient, "push risks: %v", createErr)
	}
	// A person who saved the file while the push ran (an editor takes no
	// lock) would lose that save to the rename: the push fails instead,
	// transiently, and the next run reads their save first. (A save in
	// the instant between this look and the rename is still possible.)
	if savedSince(path, src.fi) {
		return nil, sdk.Errorf(sdk.ClassTransient, "push risks: %s was saved while the push ran; it is pushed again after the next read", path)
	}
	// The file's modification time is its newest updated_at: how a later
	// read tells that no one else has written it since (see pull.go).
	err = out.commit(p.now) // removes the temporary file when it fails
	out = nil
	if err != nil {
		return nil, sdk.Errorf(sdk.ClassTransient, "push risks: %v", err)
	}
	lock.remember(path)
	return p.results, nil
}

// savedSince reports whether the file at path is no longer the one read
// (read: nil when there was none): replaced, or written in place.
func savedSince(path string, read os.FileInfo) bool {
	now, err := os.Stat(path)
	if read == nil {
		return err == nil
	}
	if err != nil {
		return true
	}
	return !os.SameFile(read, now) || now.Size() != read.Size() || !now.ModTime().Equal(read.ModTime())
}

// risksFile is the old risks file a push reads (twice at most).
type risksFile struct {
	path, format string
	f            *os.File    // nil when there is no file yet
	fi           os.FileInfo // nil when there is no file yet
}

// openRisks opens the risks file; a missing one is a risksFile without f.
func openRisks(path, format string) (*risksFile, error) {
	src := &risksFile{path: path, format: format}
	_, _, f, err := openTable(path, format)
	if errors.Is(err, fs.ErrNotExist) {
		return src, nil
	}
	if err != nil {
		return nil, err
	}
	if src.fi, err = f.Stat(); err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	src.f = f
	return src, nil
}

// table reads the file from its start: its header, and a reader of its
// rows. Without a file it is an empty table with the columns of a new one.
func (src *risksFile) table() (*table, rowReader, error) {
	var (
		t    *table
		rows rowReader = noRows{}
	)
	if src.f == nil {
		t = newTable(src.path, src.format, riskColumns)
	} else {
		if _, err := src.f.Seek(0, io.SeekStart); err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", src.path, err)
		}
		var err error
		if t, rows, err = readTable(src.f, src.path, src.format); err != nil {
			return nil, nil, err
		}
	}
	return t, rows, nil
}

// ids returns the id giver of a read of the file.
func (src *risksFile) ids(rows rowReader) *rowIDs {
	if src.f == nil {
		return newRowIDs(nil, 0, rows)
	}
	return newRowIDs(&rereader{f: src.f, path: src.path, format: src.format}, src.fi.Size(), rows)
}

// endsWithNewline reports whether the file's last byte ends a line (rows
// copied as they are must end theirs: creates follow them).
func (src *risksFile) endsWithNewline() bool {
	b := make([]byte, 1)
	_, err := src.f.ReadAt(b, src.fi.Size()-1)
	return err == nil && b[0] == '\n'
}

func (src *risksFile) close() {
	if src.f != nil {
		src.f.Close()
	}
}

// noRows is the rows of a file that is not there.
type noRows struct{}

func (noRows) next() (row, error) { return row{}, io.EOF }
func (noRows) offset() int64      { return 0 }

// pushPlan is a push's changes, normalised and indexed.
type pushPlan struct {
	changes []change
	byID    map[string][]int // the updates and deletes (and unknown operations) of each id, in request order
	markers map[string]bool  // the markers of the creates
}

// change is one change of a push, its fields and marker normalised.
type change struct {
	sdk.Change
	fields map[string]string
	marker string
}

func newPushPlan(changes []sdk.Change) *pushPlan {
	p := &pushPlan{changes: make([]change, len(changes)), byID: map[string][]int{}, markers: map[string]bool{}}
	for k, ch := range changes {
		c := change{Change: ch, fields: make(map[string]string, len(ch.Fields)), marker: normalise(ch.Marker)}
		for f, v := range ch.Fields {
			c.fields[f] = normalise(v)
		}
		p.changes[k] = c
		if ch.Op == sdk.OpCreate {
			if c.marker != "" {
				p.markers[c.marker] = true
			}
		} else {
			p.byID[ch.ExternalID] = append(p.byID[ch.ExternalID], k)
		}
	}
	return p
}

// pushPass is one read of the old file and write of the new one, with what
// it assumes and what it found.
type pushPass struct {
	plan *pushPlan
	wall time.Time // the clock, to the second

	// Assumed. The first pass guesses now and handEdited and leaves seed
	// and addedBy nil; a second pass knows them.
	copyRows   bool            // copy the rows it does not change as they are (see pushRisks)
	now        time.Time       // the stamp of changed rows: not before the newest in the file
	handEdited bool            // stamp every row
	seed       []string        // the columns of the new file, in order
	fileCols   map[string]bool // the canonical fields the old file has a column for
	addedBy    map[string]int  // the change that adds each column the file lacks (by its index)

	// Found.
	t         *table
	results   []sdk.Result
	applied   []bool // per change: it succeeded
	created   []bool // per create: it made a new row
	changed   bool   // the file changes
	rows      int
	newest    time.Time // the newest updated_at in the old file
	stale     bool      // a CSV column was added after the header was written
	absentHit bool      // a change found a column missing (first pass: in file order, not the request's)

	foundHandEdited bool // the old file was written by someone else since the connector wrote it
}

// exact reports whether what the pass assumed holds, so that what it
// wrote is what applying the changes one by one to the whole file gives.
func (p *pushPass) exact() bool {
	q := p.corrected()
	return !p.stale && (p.addedBy != nil || !p.absentHit) && p.now.Equal(q.now) &&
		(p.rows == 0 || p.handEdited == q.handEdited) && slices.Equal(p.t.columns, q.seed)
}

// corrected returns the pass to run again, assuming what this one found.
func (p *pushPass) corrected() *pushPass {
	q := &pushPass{plan: p.plan, wall: p.wall, now: p.wall, handEdited: p.foundHandEdited,
		fileCols: map[string]bool{}, addedBy: map[string]int{}}
	if p.newest.After(p.wall) {
		q.now = p.newest // stamps never go back
	}
	// The new file's columns: the old file's, in the order it showed them;
	// the columns the connector keeps that it lacks; and those the changes
	// add: in the order of the request, the fields that each update that
	// succeeded and each create that made a row name, and the file and the
	// changes before had no column for.
	q.seed = p.t.fileColumns()
	for _, c := range q.seed {
		q.fileCols[canonicalColumn(c)] = true
	}
	for _, c := range metaColumns {
		if !q.fileCols[c] {
			q.seed = append(q.seed, c)
		}
	}
	for k, ch := range p.plan.changes {
		if !p.applied[k] || !(ch.Op == sdk.OpUpdate || (ch.Op == sdk.OpCreate && p.created[k])) {
			continue
		}
		for _, f := range riskFields {
			if _, ok := ch.fields[f]; ok && !q.fileCols[f] {
				if _, done := q.addedBy[f]; !done {
					q.addedBy[f] = k
					q.seed = append(q.seed, f)
				}
			}
		}
	}
	return q
}

// absent reports whether the table lacked column f when change k came, as
// if the changes were applied one by one (a change that names a field the
// file has no column for adds the column, and changes the row even when the
// value is empty).
func (p *pushPass) absent(t *table, f string, k int) bool {
	if p.addedBy == nil {
		if t.col(f) < 0 {
			p.absentHit = true
			return true
		}
		return false
	}
	by, added := p.addedBy[f]
	return !p.fileCols[f] && (!added || by >= k)
}

// markerMove is what a change did to the row's marker: the byMarker index
// of the original push, which tells a retried create, follows it.
type markerMove struct {
	from string // the row's marker before the change
	to   string // its new marker; "" when unchanged
	drop bool   // the row was deleted: its marker no longer finds it
}

// event is what a change did to a row of the old file, for the replay of
// the request at the end of the file.
type event struct {
	inFile bool
	ref    int // the row: its index in the file
	move   markerMove
}

// run reads the old file, writes the new one to w and fills in what it
// found.
func (p *pushPass) run(ctx context.Context, src *risksFile, w io.Writer) error {
	t, rows, err := src.table()
	if err != nil {
		return fmt.Errorf("push risks: %w", err)
	}
	p.t = t
	n := len(p.plan.changes)
	p.results, p.applied, p.created = make([]sdk.Result, n), make([]bool, n), make([]bool, n)
	// The columns: known to a second pass. A first pass of a CSV file has
	// its header and adds the columns the connector keeps after it; a JSON
	// file shows its columns row by row, so they are added when needed,
	// and the rest at its end, as if after the whole file.
	switch {
	case p.seed != nil:
		for _, c := range p.seed {
			if t.col(canonicalColumn(c)) < 0 {
				t.addColumn(c)
			}
		}
	case t.format != formatJSON:
		cols := len(t.columns)
		addMetaColumns(t)
		p.copyRows = p.copyRows && len(t.columns) == cols // the header as it was
	}
	span, canSpan := rows.(interface{ span() (int64, int64) })
	p.copyRows = p.copyRows && canSpan && !p.handEdited && p.seed == nil
	out, err := t.newRowWriter(w)
	if err != nil {
		return sdk.Errorf(sdk.ClassTransient, "push risks: write %s: %v", src.path, err)
	}
	write := func(r row) error {
		if err := out.write(r); err != nil {
			return sdk.Errorf(sdk.ClassTransient, "push risks: write %s: %v", src.path, err)
		}
		return nil
	}

	// The rows a create may find by its marker (the first live row with
	// it, as the changes before it leave them) and their state then.
	byMarker := map[string]int{}
	state := map[int]sdk.Result{}
	events := make([]event, n)
	stamp := p.now.Format(time.RFC3339Nano)
	ids := src.ids(rows)
	nextF := 1
	for i := 0; ; i++ {
		r, err := rows.next()
		if err == io.EOF {
			p.rows = i
			break
		}
		if err != nil {
			return fmt.Errorf("push risks: %w", err)
		}
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rid, err := ids.next(t, r)
		if err != nil {
			return fmt.Errorf("push risks: %w", err)
		}
		if rid.again && len(p.plan.byID[rid.id]) > 0 {
			// Which of the rows a change meant cannot be told: nothing is
			// written until they are mended (a pull quarantines them, so
			// the hub sends them no change; this one came before it knew).
			return sdk.Errorf(sdk.ClassPermanent, "push risks: %v", againErr(t, r, rid))
		}
		// A row whose id an earlier row has keeps its cells: writing the
		// id would not tell them apart either.
		id, derived := rid.id, rid.derived && !rid.again
		if n, ok := strings.CutPrefix(id, "F-"); ok {
			if k, err := strconv.Atoi(n); err == nil && k >= nextF {
				nextF = k + 1
			}
		}
		ts, stamped := rowUpdatedAt(t, r)
		if stamped && ts.After(p.newest) {
			p.newest = ts
		}
		if m := normalise(t.get(r, colMarker)); p.plan.markers[m] && !isDeleted(t.get(r, colDeleted)) {
			if _, taken := byMarker[m]; !taken {
				byMarker[m] = i
				state[i] = rowResult(t, r, id, p.now)
			}
		}
		if p.copyRows && !derived && stamped && len(p.plan.byID[id]) == 0 {
			// Neither changed nor stamped: its bytes are what writing it
			// would give.
			start, end := span.span()
			if err := out.copyRaw(src.f, start, end); err != nil {
				return sdk.Errorf(sdk.ClassTransient, "push risks: write %s: %v", src.path, err)
			}
			continue
		}
		for _, k := range p.plan.byID[id] {
			var changed bool
			p.results[k], changed, events[k].move = p.applyToRow(t, &r, id, k)
			events[k].inFile, events[k].ref = true, i
			p.applied[k] = p.results[k].Err == nil
			p.changed = p.changed || changed
		}
		// Rows written by hand get the id they were known by and a time;
		// after a hand edit every row gets the time of this write, so that
		// incremental pulls see what the editor changed.
		if derived {
			t.set(&r, colID, id)
		}
		if len(p.plan.byID[id]) > 0 {
			_, stamped = rowUpdatedAt(t, r) // as the changes left it
		}
		if !stamped || p.handEdited {
			t.set(&r, colUpdatedAt, stamp)
		}
		if err := write(r); err != nil {
			return err
		}
	}
	p.foundHandEdited = p.rows > 0 && src.fi != nil && !src.fi.ModTime().Equal(p.newest)
	addMetaColumns(t)

	// The request in order: the creates, the changes to rows it creates,
	// and what the changes to the file's rows did to the markers.
	var (
		added   []row
		addedID []string
		byNewID = map[string]int{}
	)
	move := func(ref int, mv markerMove) {
		if cur, ok := byMarker[mv.from]; ok && cur == ref && (mv.drop || mv.to != "") {
			delete(byMarker, mv.from)
		}
		if mv.to != "" && p.plan.markers[mv.to] {
			byMarker[mv.to] = ref
		}
	}
	for k := range p.plan.changes {
		ch := &p.plan.changes[k]
		switch {
		case ch.Op == sdk.OpCreate:
			if ref, ok := byMarker[ch.marker]; ok && ch.marker != "" {
				p.results[k], p.applied[k] = state[ref], true // a retried create
				continue
			}
			if err := validateRisk(ch.fields, true); err != nil {
				p.results[k] = sdk.Result{Err: err}
				continue
			}
			var r row
			id := "F-" + strconv.Itoa(nextF)
			nextF++
			t.set(&r, colID, id)
			for _, f := range riskFields {
				if v, ok := ch.fields[f]; ok {
					t.set(&r, f, v)
				}
			}
			t.set(&r, colMarker, ch.marker)
			t.set(&r, colVersion, "1")
			t.set(&r, colUpdatedAt, stamp)
			ref := p.rows + len(added)
			byNewID[id] = len(added)
			added, addedID = append(added, r), append(addedID, id)
			p.results[k] = rowResult(t, r, id, p.now)
			p.applied[k], p.created[k], p.changed = true, true, true
			state[ref] = p.results[k]
			if ch.marker != "" {
				byMarker[ch.marker] = ref
			}
		case events[k].inFile:
			if p.applied[k] {
				state[events[k].ref] = p.results[k]
				move(events[k].ref, events[k].move)
			}
		default:
			j, ok := byNewID[ch.ExternalID]
			if !ok {
				p.results[k] = sdk.Result{Err: sdk.Errorf(sdk.ClassPermanent, "no risk %s in %s", ch.ExternalID, t.path)}
				continue
			}
			var changed bool
			var mv markerMove
			p.results[k], changed, mv = p.applyToRow(t, &added[j], addedID[j], k)
			p.changed = p.changed || changed
			if p.applied[k] = p.results[k].Err == nil; p.applied[k] {
				state[p.rows+j] = p.results[k]
				move(p.rows+j, mv)
			}
		}
	}
	for _, r := range added {
		if err := write(r); err != nil {
			return err
		}
	}
	if err := out.close(); err != nil {
		return sdk.Errorf(sdk.ClassTransient, "push risks: write %s: %v", src.path, err)
	}
	p.stale = out.stale

	// A result has the fields the file has a column for when its change
	// comes: all the old file's (a JSON file shows some only in later
	// rows; a row without the key has an empty cell), and those the changes
	// up to it added.
	fileCols, addedBy := p.fileCols, p.addedBy
	if addedBy == nil {
		q := p.corrected()
		fileCols, addedBy = q.fileCols, q.addedBy
	}
	for k := range p.results {
		if res := &p.results[k]; res.Err == nil {
			fields := make(map[string]string, len(riskFields))
			for _, f := range riskFields {
				if by, added := addedBy[f]; fileCols[f] || (added && by <= k) {
					fields[f] = res.Fields[f]
				}
			}
			res.Fields = fields
		}
	}
	return nil
}

// applyToRow makes change k, an update or delete, to row r with external
// id id; it reports whether the row changed and what happened to its
// marker.
func (p *pushPass) applyToRow(t *table, r *row, id string, k int) (sdk.Result, bool, markerMove) {
	ch := &p.plan.changes[k]
	deleted := isDeleted(t.get(*r, colDeleted))
	switch {
	case ch.Op == sdk.OpDelete && deleted:
		return rowResult(t, *r, id, p.now), false, markerMove{} // deleted before: a retried delete
	case ch.Op == sdk.OpUpdate && deleted:
		return sdk.Result{Err: sdk.Errorf(sdk.ClassPermanent, "risk %s was deleted", ch.ExternalID)}, false, markerMove{}
	case ch.Op != sdk.OpUpdate && ch.Op != sdk.OpDelete:
		return sdk.Result{Err: sdk.Errorf(sdk.ClassInvalid, "unknown operation %q", ch.Op)}, false, markerMove{}
	}
	if v := riskVersion(t, *r); ch.Version != "" && ch.Version != v {
		return sdk.Result{Err: sdk.Errorf(sdk.ClassConflict, "risk %s changed since version %s (it is at %s): pull it first", ch.ExternalID, ch.Version, v)}, false, markerMove{}
	}

	changed := false
	var mv markerMove
	if ch.Op == sdk.OpDelete {
		t.set(r, colDeleted, "true")
		mv = markerMove{from: normalise(t.get(*r, colMarker)), drop: true}
		changed = true
	} else {
		if err := validateRisk(ch.fields, false); err != nil {
			return sdk.Result{Err: err}, false, markerMove{}
		}
		for _, f := range riskFields {
			if v, ok := ch.fields[f]; ok && (normalise(t.get(*r, f)) != v || p.absent(t, f, k)) {
				t.set(r, f, v)
				changed = true
			}
		}
		if old := normalise(t.get(*r, colMarker)); ch.marker != "" && ch.marker != old {
			t.set(r, colMarker, ch.marker)
			mv = markerMove{from: old, to: ch.marker}
			changed = true
		}
	}
	if changed {
		t.set(r, colVersion, strconv.FormatInt(rowVersion(t, *r)+1, 10))
		t.set(r, colUpdatedAt, p.now.Format(time.RFC3339Nano))
	}
	return rowResult(t, *r, id, p.now), changed, mv
}

// addMetaColumns adds the columns the connector keeps that t lacks, after
// the user's.
func addMetaColumns(t *table) {
	for _, c := range metaColumns {
		if t.col(c) < 0 {
			t.addColumn(c)
		}
	}
}

// rowResult is the successful result of a change to a row.
func rowResult(t *table, r row, id string, now time.Time) sdk.Result {
	rec := riskRecord(t, r, id, now)
	return sdk.Result{ExternalID: rec.ExternalID, Version: rec.Version, Fields: rec.Fields}
}
