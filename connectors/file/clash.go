package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// Rows that clash
//
// Two rows with one id cannot be told apart by the hub, and two live rows
// with one key would become two hub risks, one of them under a key the
// connector did not choose. Neither is taken: a pull sends, for each id
// such rows have, one record with a problem (sdk.Record.Problem) that names
// every row of the clash, and the hub quarantines it with that reason. When
// the rows are mended, the ids come again without a problem and are taken
// as usual.
//
// Which rows clash is known only at the end of the file, and a pull sends
// its first batches before it gets there, so a pull that reads the file
// reads it once first for the clashes (a few bytes a row: the idSets of
// ids and keys, idset.go) and then again to send it.

// clashRecord is the record that stands for the rows of a clash with id:
// the problem, and the key and title of one of them to describe it.
func clashRecord(t *table, r row, id, reason string, at time.Time) sdk.Record {
	return sdk.Record{ExternalID: id, UpdatedAt: at, Problem: reason, Fields: map[string]string{
		sdk.FieldKey: normalise(t.get(r, sdk.FieldKey)), sdk.FieldTitle: normalise(t.get(r, sdk.FieldTitle))}}
}

// clashes maps the pos of each row that clashes to the reason.
type clashes map[int64]string

// findClashes reads the risks file open as f from its start, without moving
// f's offset, and returns its clashes.
func findClashes(f io.ReaderAt, path, format string, size int64) (clashes, error) {
	t, rows, err := readTable(io.NewSectionReader(f, 0, math.MaxInt64), path, format)
	if err != nil {
		return nil, err
	}
	again := &rereader{f: f, path: path, format: format}
	ids := newRowIDs(again, size, rows)
	keys := idSet{
		earlier: func(key string, n int) (int64, bool, error) { return again.find(key, n, liveKey) },
		rows:    estimateRows(size, rows),
	}
	byID := map[string][]int64{}  // ids that come again → their rows
	byKey := map[string][]int64{} // keys that come again → their rows
	for {
		r, err := rows.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		id, err := ids.next(t, r)
		if err != nil {
			return nil, err
		}
		if id.again {
			addClash(byID, id.id, id.first, r.pos)
		}
		key := liveKey(t, r)
		if key != "" {
			first, seen, err := keys.lookup(key)
			if err != nil {
				return nil, err
			}
			if seen {
				addClash(byKey, key, first, r.pos)
				keys.again()
				continue
			}
		}
		keys.add(key, r.pos)
	}
	return t.clashReasons(byKey, byID), nil
}

// clashReasons gives each row of the clashing keys and ids its reason.
func (t *table) clashReasons(byKey, byID map[string][]int64) clashes {
	if len(byID) == 0 && len(byKey) == 0 {
		return nil
	}
	c := clashes{}
	say := func(groups map[string][]int64, what string) {
		for v, rows := range groups {
			reason := fmt.Sprintf("%s %s %s %s: give each row its own %s (until then the hub takes none of them)",
				t.lines(rows), bothOrAll(len(rows)), "have "+what, v, what)
			for _, pos := range rows {
				if _, ok := c[pos]; !ok {
					c[pos] = reason
				}
			}
		}
	}
	say(byKey, "key")
	say(byID, "id")
	return c
}

// liveKey is the key of a row that is not a tombstone, "" when none (a key
// may come again after its row was deleted).
func liveKey(t *table, r row) string {
	if isDeleted(t.get(r, colDeleted)) {
		return ""
	}
	return normalise(t.get(r, sdk.FieldKey))
}

// addClash adds the rows first and pos to the clash of v.
func addClash(groups map[string][]int64, v string, first, pos int64) {
	rows := groups[v]
	if len(rows) == 0 {
		rows = append(rows, first)
	}
	groups[strings.Clone(v)] = append(rows, pos)
}

// lines names the rows at poss: "risks.csv:2 and risks.csv:5".
func (t *table) lines(poss []int64) string {
	poss = slices.Clone(poss)
	slices.Sort(poss)
	names := make([]string, len(poss))
	for i, pos := range poss {
		names[i] = t.where(row{pos: pos})
	}
	if len(names) > 5 {
		names = append(names[:4], fmt.Sprintf("%d more rows", len(poss)-4))
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func bothOrAll(n int) string {
	if n == 2 {
		return "both"
	}
	return "all"
}
