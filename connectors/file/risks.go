package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// The risks file has a column per canonical risk field (sdk.Field*) and
// these, which the connector keeps:
//
//   - id: the external id. The connector gives the risks it creates F-1,
//     F-2, … (one more than the highest F-number in the file). A row written
//     by hand without an id is known by one derived from its content: K-<key>
//     when it has a key, else T-<hash of the title>, else H-<hash of the
//     row>; the connector writes that id into the row on its next write, so
//     it never changes afterwards. Until then, editing the key (or the title
//     of a row without a key) changes the id: give such rows a key.
//   - marker: the hub marker of the risk (usmhub-<hub id>).
//   - updated_at: when the connector last wrote the row, RFC 3339 in UTC.
//   - version: a counter the connector bumps on every change of the row.
//   - deleted: "true" once the hub deleted the risk. Rows are never removed,
//     so that deletes can be pulled (a tombstone).
//
// Two live rows with the same key, or two rows with the same id, are a
// clash: a pull sends, for each of their ids, one record with a problem
// naming the lines (the hub quarantines it and takes none of the rows), and
// a push refuses to write a file whose ids clash, until the rows are mended.
// Values are kept as text; what the hub cannot use (likelihood "high") it
// quarantines, so a pull delivers them as they are.
const (
	colID        = "id"
	colMarker    = "marker"
	colUpdatedAt = "updated_at"
	colVersion   = "version"
	colDeleted   = "deleted"
)

// riskFields are the canonical risk fields, in the order of a new file's
// columns.
var riskFields = []string{
	sdk.FieldKey, sdk.FieldTitle, sdk.FieldDescription, sdk.FieldKind, sdk.FieldProcess, sdk.FieldSource,
	sdk.FieldLikelihood, sdk.FieldImpact, sdk.FieldEffort, sdk.FieldOwner, sdk.FieldStatus,
}

// metaColumns are the columns the connector keeps in the risks file.
var metaColumns = []string{colID, colMarker, colUpdatedAt, colVersion, colDeleted}

// riskColumns are the columns of a new risks file.
var riskColumns = slices.Concat([]string{colID}, riskFields, metaColumns[1:])

// known reports whether col is a column of the risks, votes or scans file.
func known(col string) bool {
	return slices.Contains(riskColumns, col) || slices.Contains(voteColumns, col) || slices.Contains(scanColumns, col)
}

// normalise gives a cell's value the hub's canonical form
// (sdk.NormaliseText), trimmed: blanks leading a spreadsheet cell are not
// content (a hub value that starts with them is written without them, and
// read back as written). Normalising twice changes nothing.
func normalise(s string) string { return strings.TrimSpace(sdk.NormaliseText(s)) }

// rowIDs gives the rows of a risks file, read in file order, their
// external ids: the id cell, or one derived from the row. A derived id
// taken by an earlier row gets -2, -3, … (two rows titled "TODO" are two
// risks), except one derived from a key (K-<key>): two rows with one key
// are a clash, as are an id cell that repeats an earlier id.
//
// It holds the ids of id cells in an idSet (idset.go: a few bytes a row)
// and the derived ones exactly: rows without an id are written by hand, and
// the connector writes their ids into them on its next write.
type rowIDs struct {
	cells   idSet            // the ids of the rows' id cells (and, while few, the derived ones)
	derived map[string]int64 // derived id → pos of its row
}

// newRowIDs returns the ids of the rows that rows reads from the file of
// size bytes that again reads from its start (nil: an in-memory table,
// every id kept exactly).
func newRowIDs(again *rereader, size int64, rows rowReader) *rowIDs {
	ids := &rowIDs{derived: map[string]int64{}}
	if again != nil {
		ids.cells.earlier = func(id string, n int) (int64, bool, error) {
			return again.find(id, n, idCell)
		}
		ids.cells.rows = estimateRows(size, rows)
	}
	return ids
}

// idCell is the id written in a row of a risks file, "" when none.
func idCell(t *table, r row) string { return normalise(t.get(r, colID)) }

// seen reports whether an earlier row has id, and its pos.
func (ids *rowIDs) seen(id string) (int64, bool, error) {
	if pos, ok := ids.derived[id]; ok {
		return pos, true, nil
	}
	return ids.cells.lookup(id)
}

// rowID is the external id of a row, and whether an earlier row has it.
type rowID struct {
	id      string
	derived bool  // derived from the row's content: the id cell is empty
	again   bool  // an earlier row has this id: a clash
	first   int64 // when again: the pos of the first row with it
}

// next returns the id of the next row.
func (ids *rowIDs) next(t *table, r row) (rowID, error) {
	id := idCell(t, r)
	derived := id == ""
	if !derived {
		first, dup, err := ids.seen(id)
		if err != nil {
			return rowID{}, err
		}
		if dup {
			ids.cells.again()
			return rowID{id: id, again: true, first: first}, nil
		}
	} else if base := derivedID(t, r); strings.HasPrefix(base, "K-") {
		first, dup, err := ids.seen(base)
		if err != nil {
			return rowID{}, err
		}
		if dup {
			ids.cells.again()
			return rowID{id: base, derived: true, again: true, first: first}, nil
		}
		id = strings.Clone(base) // not a slice of the row's text: the map must not pin it
		ids.derived[id] = r.pos
	} else {
		id = base
		for n := 2; ; n++ {
			_, taken, err := ids.seen(id)
			if err != nil {
				return rowID{}, err
			}
			if !taken {
				break
			}
			id = base + "-" + strconv.Itoa(n)
		}
		id = strings.Clone(id) // not a slice of the row's text: the map must not pin it
		ids.derived[id] = r.pos
	}
	ids.cells.add(id, r.pos)
	return rowID{id: id, derived: derived}, nil
}

// againErr is the error of a row whose id an earlier row has.
func againErr(t *table, r row, id rowID) error {
	if id.derived {
		return fmt.Errorf("%s: key %s again, in a row without an id (first at %s); give each row its own key", t.where(r), strings.TrimPrefix(id.id, "K-"), t.where(row{pos: id.first}))
	}
	return fmt.Errorf("%s: id %s again (first at %s); give each row its own id", t.where(r), id.id, t.where(row{pos: id.first}))
}

// derivedID is the id of a row without one: K-<key>, else T-<hash of the
// title>, else H-<hash of its non-empty cells>.
func derivedID(t *table, r row) string {
	if key := normalise(t.get(r, sdk.FieldKey)); key != "" {
		return "K-" + key
	}
	if title := normalise(t.get(r, sdk.FieldTitle)); title != "" {
		return "T-" + shortHash(title)
	}
	var cells []string
	for i, v := range r.cells {
		if v = normalise(v); v != "" && i < len(t.columns) {
			cells = append(cells, canonicalColumn(t.columns[i])+"="+v)
		}
	}
	slices.Sort(cells)
	return "H-" + shortHash(strings.Join(cells, "\n"))
}

// shortHash is a stable hex digest of s, short enough for an id.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// isDeleted reads the deleted column.
func isDeleted(cell string) bool {
	switch strings.ToLower(strings.TrimSpace(cell)) {
	case "true", "1", "yes", "x":
		return true
	}
	return false
}

// rowUpdatedAt reads the updated_at column; ok is false when it holds no
// RFC 3339 time.
func rowUpdatedAt(t *table, r row) (time.Time, bool) {
	v := strings.TrimSpace(t.get(r, colUpdatedAt))
	if v == "" {
		return time.Time{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false
	}
	return ts.UTC(), true
}

// rowVersion reads the version counter (0 when absent or not a number).
func rowVersion(t *table, r row) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(t.get(r, colVersion)), 10, 64)
	return n
}

// riskVersion is the Version of a risk row: its counter, and a digest of
// its content, so that a row edited by hand (counter untouched) has a new
// version all the same.
func riskVersion(t *table, r row) string {
	return riskRecord(t, r, "", time.Time{}).Version
}

// riskRecord is the record of the risk row with external id id. fallback
// stands in for a missing or unreadable updated_at. Fields has every
// canonical field the file has a column for.
func riskRecord(t *table, r row, id string, fallback time.Time) sdk.Record {
	rec := sdk.Record{
		ExternalID: id,
		Marker:     normalise(t.get(r, colMarker)),
		Deleted:    isDeleted(t.get(r, colDeleted)),
		Fields:     make(map[string]string, len(riskFields)),
		UpdatedAt:  fallback,
	}
	if ts, ok := rowUpdatedAt(t, r); ok {
		rec.UpdatedAt = ts
	}
	h := newDigest()
	for k, i := range t.positions(riskFields) {
		v := ""
		if i >= 0 {
			if i < len(r.cells) {
				v = normalise(r.cells[i])
			}
			rec.Fields[riskFields[k]] = v
		}
		h.add(v)
	}
	h.add(rec.Marker)
	if rec.Deleted {
		h.add("deleted")
	}
	rec.Version = strconv.FormatInt(rowVersion(t, r), 10) + "-" + strconv.FormatUint(uint64(h), 16)
	return rec
}

// digest is a 64-bit FNV-1a hash of a sequence of strings: stable across
// processes and releases, as a Version must be.
type digest uint64

func newDigest() digest { return 14695981039346656037 }

// add hashes s and a terminating zero byte.
func (d *digest) add(s string) {
	h := uint64(*d)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	*d = digest(h * 1099511628211) // the zero byte
}

// Valid values of the enumerated risk fields, in the hub's spelling.
var (
	riskKinds     = []string{"threat", "opportunity"}
	riskProcesses = []string{"", "agree", "change", "recover", "operate", "improve"}
	riskStatuses  = []string{"proposed", "accepted", "planned", "in_progress", "realized", "rejected"}
)

// validateRisk checks the (normalised) fields of a change: every name is a
// canonical risk field and every value one the hub could hold; a create
// needs a title. It returns an error of class invalid naming every problem.
func validateRisk(fields map[string]string, create bool) *sdk.Error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := fields[name]
		switch name {
		case sdk.FieldTitle:
			if v == "" {
				add("title must not be empty")
			}
		case sdk.FieldKind:
			if v != "" && !slices.Contains(riskKinds, v) {
				add("kind must be threat or opportunity, not %q", v)
			}
		case sdk.FieldProcess:
			if !slices.Contains(riskProcesses, v) {
				add("process must be agree, change, recover, operate, improve or empty, not %q", v)
			}
		case sdk.FieldStatus:
			if v != "" && !slices.Contains(riskStatuses, v) {
				add("status must be one of %s, not %q", strings.Join(riskStatuses, ", "), v)
			}
		case sdk.FieldLikelihood, sdk.FieldImpact:
			if n, err := strconv.Atoi(v); v != "" && (err != nil || n < 1 || n > 5) {
				add("%s must be a whole number from 1 to 5, not %q", name, v)
			}
		case sdk.FieldEffort:
			if f, err := strconv.ParseFloat(v, 64); v != "" && (err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f)) {
				add("effort must be a number of 0 or more, not %q", v)
			}
		case sdk.FieldKey, sdk.FieldDescription, sdk.FieldSource, sdk.FieldOwner:
		default:
			add("%q is not a risk field (the file connector stores %s)", name, strings.Join(riskFields, ", "))
		}
	}
	if _, ok := fields[sdk.FieldTitle]; create && !ok {
		add("title is required")
	}
	if len(problems) == 0 {
		return nil
	}
	return sdk.Errorf(sdk.ClassInvalid, "%s", strings.Join(problems, "; "))
}
