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
// stamp of the file it read (stamp.go: its modification time, size, file
// number and change time). A pull from a cursor whose file is there with
// the same stamp reads nothing: it costs one stat, and delivers no record.
// Otherwise an incremental pull returns the rows with updated_at at or after
// the cursor's time less the lookback: rows may come again, none goes
// missing, because every write stamps the rows it changes with a time no
// older than any in the file (later than any earlier write) and the bound
// is inclusive.
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
// A pull reads the file row by row, and holds one batch of records (and,
// to tell ids and keys that come again, a few bytes a row: idset.go). It
// reads the file once for the rows that clash (clash.go) and once to send
// it. A row it cannot read (a syntax error) fails the pull there, naming
// the row: the batches before it have been sent (they hold rows that are
// fine), and a pull from their cursor fails at the same row until the file
// is mended. Whether
// the file was edited by hand is known only at its end (its newest
// updated_at), so the pull guesses from the modification time, which the
// connector sets to a whole second and an editor's save almost never
// hits: a guess of "by hand" lists every row (more than needed when
// wrong); a guess of "by the connector" that turns out wrong reads the file
// a second time, for the rows the first read left out.
//
// Rows are delivered in batches of batchSize, in file order (the second
// read's after the first's). Each batch's cursor says where the pull is: the
// newest time sent so far, and the file, pass and row it got to; a pull from
// it on the same file goes on from that row, and on a file that changed
// since starts again from the cursor the pull started from.

// cursor is the decoded pull cursor.
type cursor struct {
	V    int       `json:"v"`          // cursorVersion
	Kind string    `json:"k"`          // the entity kind it belongs to
	T    time.Time `json:"t,omitzero"` // risks: the newest updated_at delivered (mid-pull: so far)
	// fileStamp is the file as read whole; zero mid-pull (and S is -1
	// when there was no file).
	fileStamp
	P *resume `json:"p,omitempty"` // mid-pull: where the pull goes on
}

// resume is where a pull stopped between two batches.
type resume struct {
	From  time.Time `json:"f,omitzero"`   // the T of the cursor the pull started from
	File  fileStamp `json:"fs"`           // the file it was reading
	Pass  int       `json:"ps,omitempty"` // 0: the rows from Since on; 1: a second read, the rows before Since
	Rows  int64     `json:"n"`            // the rows of the file the pass went through
	Since int64     `json:"b"`            // the time bound of the pass, Unix ns (math.MinInt64: every row)
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
		return pullRisks(ctx, cfg.path(cfg.RisksFile), cfg.Format, cur, req.Cursor, req.Lookback, send)
	case sdk.KindVote:
		return pullListing(ctx, cfg.path(cfg.VotesFile), cfg.Format, votes, cur, req.Cursor, send)
	case sdk.KindScan:
		return pullListing(ctx, cfg.path(cfg.ScansFile), cfg.Format, scans, cur, req.Cursor, send)
	}
	return sdk.Errorf(sdk.ClassPermanent, "the file connector does not pull %ss", req.Kind)
}

// pullRisks pulls the risks file; see the comment at the top of the file.
func pullRisks(ctx context.Context, path, format string, cur cursor, from string, lookback time.Duration, send func(sdk.Batch) error) error {
	start := cur.T // where a pull of a changed file starts
	if cur.P != nil {
		start = cur.P.From
	}
	missing := func() error {
		return send(sdk.Batch{Cursor: cursor{V: cursorVersion, Kind: string(sdk.KindRisk), T: start, fileStamp: noFile}.encode()})
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := absent(path); err != nil {
			return fmt.Errorf("pull risks: %w", err)
		}
		return missing()
	}
	if err != nil {
		return fmt.Errorf("pull risks: %w", unreadable(err))
	}
	if from != "" && cur.P == nil && cur.fileStamp == stampOf(fi) {
		return send(sdk.Batch{Cursor: from}) // the file the cursor read, unchanged
	}

	t, rows, f, err := openTable(path, format)
	if errors.Is(err, fs.ErrNotExist) {
		return missing() // removed since the stat
	}
	if err != nil {
		return fmt.Errorf("pull risks: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return fmt.Errorf("pull risks: %w", err)
	}
	p := &riskPull{ctx: ctx, path: path, format: format, f: f, fi: fi, stamp: stampOf(fi), start: start, send: send,
		// Rows without a readable updated_at date from the file's
		// modification time, to the second: never later than the stamps
		// of a later write.
		fallback: fi.ModTime().UTC().Truncate(time.Second)}

	if p.clashes, err = findClashes(f, path, format, fi.Size()); err != nil {
		return fmt.Errorf("pull risks: %w", err)
	}
	var skip int64
	if r := cur.P; r != nil && r.File == p.stamp {
		p.pass, p.since, p.sent, skip = r.Pass, r.Since, cur.T, r.Rows // go on where it stopped
	} else {
		p.since, p.sent = math.MinInt64, start
		if !start.IsZero() && !likelyHandEdited(fi) {
			p.since = start.Add(-max(lookback, 0)).UnixNano()
		}
	}

	if p.pass == 0 {
		n, handEdited, err := p.read(t, rows, skip)
		if err != nil {
			return err
		}
		if !handEdited || p.since == math.MinInt64 {
			return p.end() // every row due was sent
		}
		// Edited by hand after all (the guess was wrong): the rows before
		// since are due too.
		p.pass, skip, p.rows0 = 1, 0, n
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("pull risks: %w", err)
	}
	if t, rows, err = readTable(f, path, format); err != nil {
		return fmt.Errorf("pull risks: %w", err)
	}
	if _, _, err := p.read(t, rows, skip); err != nil {
		return err
	}
	return p.end()
}

// likelyHandEdited guesses whether a file was last written by someone
// other than the connector, which sets modification times to a whole
// second (see the comment at the top of the file).
func likelyHandEdited(fi os.FileInfo) bool { return fi.ModTime().Nanosecond() != 0 }

// riskPull is one pull of the risks file.
type riskPull struct {
	ctx          context.Context
	path, format string
	f            *os.File
	fi           os.FileInfo
	stamp        fileStamp
	fallback     time.Time // the time of rows without updated_at
	start        time.Time // the T of the cursor the pull started from
	send         func(sdk.Batch) error

	pass  int       // 0: rows at or after since; 1: rows before it
	since int64     // Unix ns; math.MinInt64 for every row
	sent  time.Time // the newest time sent, or the start's
	rows0 int64     // the rows the first pass read (0 when not read)
	batch []sdk.Record

	clashes clashes         // the rows that clash (clash.go)
	told    map[string]bool // the ids of clashes sent in this pass
}

// read goes through the rows (the first skip of them without sending any,
// as a batch before sent them), sending the pass's rows in batches. It
// returns how many rows the file holds and whether it was edited by hand
// since the connector wrote it.
func (p *riskPull) read(t *table, rows rowReader, skip int64) (n int64, handEdited bool, err error) {
	ids := newRowIDs(&rereader{f: p.f, path: p.path, format: p.format}, p.fi.Size(), rows)
	p.told = map[string]bool{}
	var newest time.Time
	for ; ; n++ {
		r, err := rows.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, false, fmt.Errorf("pull risks: %w", err)
		}
		if p.rows0 > 0 && n >= p.rows0 {
			return 0, false, fmt.Errorf("pull risks: %s changed while it was read", p.path)
		}
		id, err := ids.next(t, r)
		if err != nil {
			return 0, false, fmt.Errorf("pull risks: %w", err)
		}
		ts, ok := rowUpdatedAt(t, r)
		if !ok {
			ts = p.fallback
		} else if ts.After(newest) {
			newest = ts
		}
		if n%4096 == 0 && p.ctx.Err() != nil {
			return 0, false, p.ctx.Err()
		}
		var rec sdk.Record
		if reason, clash := p.clashes[r.pos]; clash {
			// Sent whatever its time (the rows it clashes with may be
			// new), once an id and pass.
			if n < skip || p.told[id.id] {
				continue
			}
			p.told[id.id] = true
			rec = clashRecord(t, r, id.id, reason, ts)
		} else if id.again {
			return 0, false, fmt.Errorf("pull risks: %s changed while it was read", p.path)
		} else if n < skip || (ts.UnixNano() >= p.since) != (p.pass == 0) {
			continue
		} else {
			rec = riskRecord(t, r, id.id, p.fallback)
		}
		if rec.UpdatedAt.After(p.sent) {
			p.sent = rec.UpdatedAt
		}
		if p.batch = append(p.batch, rec); len(p.batch) < batchSize {
			continue
		}
		mid := cursor{V: cursorVersion, Kind: string(sdk.KindRisk), T: p.sent,
			P: &resume{From: p.start, File: p.stamp, Pass: p.pass, Rows: n + 1, Since: p.since}}
		if err := p.send(sdk.Batch{Records: p.batch, Cursor: mid.encode()}); err != nil {
			return 0, false, err
		}
		p.batch = make([]sdk.Record, 0, batchSize)
		if err := p.ctx.Err(); err != nil {
			return 0, false, err
		}
	}
	return n, n > 0 && !p.fi.ModTime().Equal(newest), nil
}

// end sends the last batch, with the cursor of the whole file.
func (p *riskPull) end() error {
	return p.send(sdk.Batch{Records: p.batch, Cursor: cursor{V: cursorVersion, Kind: string(sdk.KindRisk), T: p.sent, fileStamp: p.stamp}.encode()})
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
	ids := newRowIDs(&rereader{f: f, path: path, format: cfg.Format}, fi.Size(), rr)
	for n := 0; ; n++ {
		r, err := rr.next()
		if err == io.EOF {
			return found, nil
		}
		if err != nil {
			return nil, fmt.Errorf("find: %w", err)
		}
		id, err := ids.next(t, r)
		if err != nil {
			return nil, fmt.Errorf("find: %w", err)
		}
		if normalise(t.get(r, colMarker)) != marker {
			continue
		}
		rec := riskRecord(t, r, id.id, fi.ModTime().UTC().Truncate(time.Second))
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
