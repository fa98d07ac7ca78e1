package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// Pulling risks
//
// A cursor is base64url(JSON) of the newest updated_at delivered and the
// file's modification time and size when it was read. An incremental pull
// returns the rows with updated_at at or after the cursor's time less the
// lookback: rows may come again, none goes missing, because every write
// stamps the rows it changes with a time no older than any in the file
// (later than any earlier write) and the bound is inclusive.
//
// That holds for files only the connector writes. A person editing the file
// in a spreadsheet changes rows without touching updated_at; the connector
// tells, because after each write it sets the file's modification time to
// the newest updated_at in it, and an editor does not. When the file has been
// edited by hand since the connector's last write, and since the cursor was
// made, a pull lists every row (the hub skips those whose Version it knows:
// a Version includes a digest of the row, so hand edits show), and the
// connector's next write stamps every row, so that incremental pulls after
// it see the hand edits too.
//
// Rows are delivered in file order, in batches of batchSize, reading the
// file twice: once for the ids and times of the rows (checking ids are
// unique), once to send them. Only the current batch and, per row, its
// time are held in memory. Each batch's cursor is the oldest time of the
// rows not yet sent (capped at the newest sent), so a pull resumed from it
// misses nothing.

// cursor is the decoded pull cursor.
type cursor struct {
	V    int       `json:"v"`           // cursorVersion
	Kind string    `json:"k"`           // the entity kind it belongs to
	T    time.Time `json:"t,omitzero"`  // risks: pull from this updated_at on
	M    int64     `json:"m,omitempty"` // the file's modification time (Unix ns) when read whole; 0 mid-pull
	S    int64     `json:"s,omitempty"` // the file's size then; -1 when there was no file
}

// cursorVersion is the layout of cursors this connector makes.
const cursorVersion = 1

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor of kind; "" is the zero cursor (a full pull).
func decodeCursor(s string, kind sdk.EntityKind) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	switch {
	case err != nil:
		return cursor{}, sdk.Errorf(sdk.ClassInvalid, "cursor %q was not made by the file connector: %v", s, err)
	case c.V != cursorVersion:
		return cursor{}, sdk.Errorf(sdk.ClassInvalid, "cursor %q has layout %d, this file connector makes layout %d: pull in full", s, c.V, cursorVersion)
	case c.Kind != string(kind):
		return cursor{}, sdk.Errorf(sdk.ClassInvalid, "cursor %q belongs to %s, not %s", s, c.Kind, kind)
	}
	return c, nil
}

// fileStamp is what a cursor remembers of a file.
func fileStamp(fi os.FileInfo) (mtime, size int64) {
	if fi == nil {
		return 0, -1
	}
	return fi.ModTime().UnixNano(), fi.Size()
}

// Pull sends the records of kind changed since the cursor.
func (c *Connector) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	cfg, err := c.source()
	if err != nil {
		return err
	}
	cur, err := decodeCursor(req.Cursor, req.Kind)
	if err != nil {
		return err
	}
	switch req.Kind {
	case sdk.KindRisk:
		return pullRisks(ctx, cfg.path(cfg.RisksFile), cfg.Format, cur, req.Lookback, send)
	case sdk.KindVote:
		return pullListing(ctx, cfg.path(cfg.VotesFile), cfg.Format, votes, cur, req.Cursor, send)
	case sdk.KindScan:
		return pullListing(ctx, cfg.path(cfg.ScansFile), cfg.Format, scans, cur, req.Cursor, send)
	}
	return sdk.Errorf(sdk.ClassPermanent, "the file connector does not pull %ss", req.Kind)
}

// pullRisks pulls the risks file; see the comment at the top of the file.
func pullRisks(ctx context.Context, path, format string, cur cursor, lookback time.Duration, send func(sdk.Batch) error) error {
	t, rr, f, err := openTable(path, format)
	if errors.Is(err, fs.ErrNotExist) {
		_, s := fileStamp(nil)
		return send(sdk.Batch{Cursor: cursor{V: cursorVersion, Kind: string(sdk.KindRisk), T: cur.T, S: s}.encode()})
	}
	if err != nil {
		return fmt.Errorf("pull risks: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("pull risks: %w", err)
	}
	mtime, size := fileStamp(fi)

	// Rows without a readable updated_at date from the file's modification
	// time, to the second: never later than the stamps of a later write.
	fallback := fi.ModTime().UTC().Truncate(time.Second)

	// First pass: the time of every row, and unique ids.
	var (
		times  []int64 // updated_at of each row (Unix ns), in file order
		newest time.Time
		ids    = newRowIDs()
	)
	for {
		r, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("pull risks: %w", err)
		}
		if _, _, err := ids.next(t, r); err != nil {
			return fmt.Errorf("pull risks: %w", err)
		}
		ts, ok := rowUpdatedAt(t, r)
		if !ok {
			ts = fallback
		} else if ts.After(newest) {
			newest = ts
		}
		times = append(times, ts.UnixNano())
		if len(times)%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	ids = newRowIDs() // for the second pass, which gives the same ids

	// Which rows: those at or after the cursor's time, unless the file was
	// edited by hand since the connector wrote it and since the cursor was
	// made: then all.
	since := int64(math.MinInt64)
	handEdited := len(times) > 0 && !fi.ModTime().Equal(newest)
	unchanged := cur.M == mtime && cur.S == size
	if !cur.T.IsZero() && (unchanged || !handEdited) {
		since = cur.T.Add(-max(lookback, 0)).UnixNano()
	}
	// later[i] is the oldest time of the rows from i on that are sent.
	later := make([]int64, len(times)+1)
	later[len(times)] = math.MaxInt64
	for i := len(times) - 1; i >= 0; i-- {
		later[i] = later[i+1]
		if times[i] >= since {
			later[i] = min(later[i], times[i])
		}
	}

	// Second pass: send.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("pull risks: %w", err)
	}
	t, rr, err = readTable(f, path, format)
	if err != nil {
		return fmt.Errorf("pull risks: %w", err)
	}
	sent := cur.T // the newest time sent, or the cursor's
	batch := make([]sdk.Record, 0, batchSize)
	for i := 0; ; i++ {
		r, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("pull risks: %w", err)
		}
		if i >= len(times) {
			return fmt.Errorf("pull risks: %s changed while it was read", path)
		}
		id, _, err := ids.next(t, r)
		if err != nil {
			return fmt.Errorf("pull risks: %w", err)
		}
		if times[i] < since {
			continue
		}
		rec := riskRecord(t, r, id, fallback)
		if rec.UpdatedAt.After(sent) {
			sent = rec.UpdatedAt
		}
		batch = append(batch, rec)
		if len(batch) < batchSize {
			continue
		}
		// Mid-pull, resume from the oldest row not yet sent: its time is a
		// bound for everything after it, whether the file is in time order
		// or not. (Resumed on a file edited by hand, a pull lists all.)
		mid := cursor{V: cursorVersion, Kind: string(sdk.KindRisk), T: sent}
		if next := time.Unix(0, later[i+1]).UTC(); next.Before(mid.T) {
			mid.T = next
		}
		if err := send(sdk.Batch{Records: batch, Cursor: mid.encode()}); err != nil {
			return err
		}
		batch = make([]sdk.Record, 0, batchSize)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return send(sdk.Batch{Records: batch, Cursor: cursor{V: cursorVersion, Kind: string(sdk.KindRisk), T: sent, M: mtime, S: size}.encode()})
}

// Find returns the risk carrying marker: its live row, else its newest
// tombstone (Deleted set), else nil.
func (c *Connector) Find(ctx context.Context, kind sdk.EntityKind, marker string) (*sdk.Record, error) {
	cfg, err := c.source()
	if err != nil {
		return nil, err
	}
	if kind != sdk.KindRisk {
		return nil, sdk.Errorf(sdk.ClassPermanent, "the file connector finds risks only, not %ss", kind)
	}
	if marker == "" {
		return nil, nil
	}
	path := cfg.path(cfg.RisksFile)
	t, rr, f, err := openTable(path, cfg.Format)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("find: %w", err)
	}
	var found *sdk.Record
	ids := newRowIDs()
	for n := 0; ; n++ {
		r, err := rr.next()
		if err == io.EOF {
			return found, nil
		}
		if err != nil {
			return nil, fmt.Errorf("find: %w", err)
		}
		id, _, err := ids.next(t, r)
		if err != nil {
			return nil, fmt.Errorf("find: %w", err)
		}
		if normalise(t.get(r, colMarker)) != marker {
			continue
		}
		rec := riskRecord(t, r, id, fi.ModTime().UTC().Truncate(time.Second))
		if !rec.Deleted {
			return &rec, nil
		}
		if found == nil || rec.UpdatedAt.After(found.UpdatedAt) {
			found = &rec
		}
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}
