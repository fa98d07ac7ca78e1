package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// Votes and scans are files the connector only reads: people keep them (a
// sounding board's votes, a scan tool's export), the hub pulls them.
//
//   - votes: risk (the risk's key, R-12, or its hub marker), voter, weight,
//     and optionally cast_at (RFC 3339 or YYYY-MM-DD). External id:
//     <risk>/<voter>; a voter has one vote per risk.
//   - scans: one row per scan and dimension: kind (baseline or progress),
//     method, method_version, date (YYYY-MM-DD), dimension, score,
//     respondents, note. External id: <method>/<method_version>/<date>/<dimension>.
//
// Two rows with the same external id make the file unreadable (the error
// names both lines). A pull lists every row, unless the file is unchanged
// since the cursor was made (the same stamp, stamp.go): then it reads
// nothing and lists none.
// A row removed from the file is not reported as deleted; the hub's full
// reconcile notices it is gone.

// voteColumns and scanColumns are the columns the connector reads.
var (
	voteColumns = []string{sdk.FieldVoteRisk, sdk.FieldVoteVoter, sdk.FieldVoteWeight, "cast_at"}
	scanColumns = []string{
		sdk.FieldScanKind, sdk.FieldScanMethod, sdk.FieldScanMethodVersion, sdk.FieldScanDate,
		sdk.FieldScanDimension, sdk.FieldScanScore, sdk.FieldScanRespondents, sdk.FieldScanNote,
	}
)

// listing describes a file the connector only reads.
type listing struct {
	kind   sdk.EntityKind
	fields []string // the canonical fields, each in the column of its name
	idOf   []string // the fields whose values, joined by "/", are the external id
	timeOf string   // the column holding the record's time
}

var (
	votes = listing{kind: sdk.KindVote, fields: voteColumns[:3], idOf: []string{sdk.FieldVoteRisk, sdk.FieldVoteVoter}, timeOf: "cast_at"}
	scans = listing{kind: sdk.KindScan, fields: scanColumns, timeOf: sdk.FieldScanDate,
		idOf: []string{sdk.FieldScanMethod, sdk.FieldScanMethodVersion, sdk.FieldScanDate, sdk.FieldScanDimension}}
)

// pullListing sends every row of a read-only file, unless the file is the
// one the cursor saw (same stamp: then it reads nothing). Mid-pull batches
// carry the cursor the pull started from: a pull resumed after a crash
// lists the file again.
func pullListing(ctx context.Context, path, format string, l listing, cur cursor, from string, send func(sdk.Batch) error) error {
	missing := func() error {
		return send(sdk.Batch{Cursor: cursor{V: cursorVersion, Kind: string(l.kind), fileStamp: noFile}.encode()})
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := absent(path); err != nil {
			return fmt.Errorf("pull %ss: %w", l.kind, err)
		}
		return missing()
	}
	if err != nil {
		return fmt.Errorf("pull %ss: %w", l.kind, unreadable(err))
	}
	if from != "" && cur.fileStamp == stampOf(fi) {
		return send(sdk.Batch{Cursor: from})
	}
	t, rr, f, err := openTable(path, format)
	if errors.Is(err, fs.ErrNotExist) {
		return missing() // removed since the stat
	}
	if err != nil {
		return fmt.Errorf("pull %ss: %w", l.kind, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return fmt.Errorf("pull %ss: %w", l.kind, err)
	}
	end := cursor{V: cursorVersion, Kind: string(l.kind), fileStamp: stampOf(fi)}.encode()

	fallback := fi.ModTime().UTC().Truncate(time.Second)
	again := &rereader{f: f, path: path, format: format}
	seen := idSet{
		earlier: func(id string, n int) (int64, bool, error) { return again.find(id, n, l.id) },
		rows:    estimateRows(fi.Size(), rr),
	}
	batch := make([]sdk.Record, 0, batchSize)
	for {
		r, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("pull %ss: %w", l.kind, err)
		}
		rec := l.record(t, r, fallback)
		first, dup, err := seen.lookup(rec.ExternalID)
		if err != nil {
			return fmt.Errorf("pull %ss: %w", l.kind, err)
		}
		if dup {
			return fmt.Errorf("pull %ss: %s: %s again (first at %s); the file may hold it once",
				l.kind, t.where(r), rec.ExternalID, t.where(row{pos: first}))
		}
		seen.add(rec.ExternalID, r.pos)
		batch = append(batch, rec)
		if len(batch) == batchSize {
			if err := send(sdk.Batch{Records: batch, Cursor: from}); err != nil {
				return err
			}
			batch = make([]sdk.Record, 0, batchSize)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return send(sdk.Batch{Records: batch, Cursor: end})
}

// record is the record of a row: its fields as they are (the hub checks
// them), an id from its key fields, a version from its content.
func (l listing) record(t *table, r row, fallback time.Time) sdk.Record {
	rec := sdk.Record{Fields: make(map[string]string, len(l.fields)), UpdatedAt: fallback}
	h := newDigest()
	for _, f := range l.fields {
		v := normalise(t.get(r, f))
		if t.col(f) >= 0 {
			rec.Fields[f] = v
		}
		h.add(v)
	}
	rec.ExternalID = l.id(t, r)
	rec.Version = fmt.Sprintf("%x", uint64(h))
	if ts, ok := parseTime(t.get(r, l.timeOf)); ok {
		rec.UpdatedAt = ts
	}
	return rec
}

// id is the external id of a row: its key fields, joined by "/".
func (l listing) id(t *table, r row) string {
	ids := make([]string, len(l.idOf))
	for i, f := range l.idOf {
		ids[i] = normalise(t.get(r, f))
	}
	return strings.Join(ids, "/")
}

// parseTime reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return ts.UTC(), true
	}
	if ts, err := time.Parse(time.DateOnly, s); err == nil {
		return ts, true
	}
	return time.Time{}, false
}
