package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// reader implements Reader on one SQLite transaction. Statements for point
// queries are prepared once per transaction and reused (a batch of a
// thousand inserts compiles each statement once). Streaming queries (Risks,
// Audit) are not taken from that cache: their rows stay open while the
// caller's fn runs, and fn may run any other query meanwhile.
type reader struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func newReader(ctx context.Context, tx *sql.Tx) reader {
	return reader{ctx: ctx, tx: tx, stmts: make(map[string]*sql.Stmt)}
}

// stmt returns the transaction's prepared statement for query. The
// statements close with the transaction.
func (r *reader) stmt(query string) (*sql.Stmt, error) {
	if st, ok := r.stmts[query]; ok {
		return st, nil
	}
	st, err := r.tx.PrepareContext(r.ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	r.stmts[query] = st
	return st, nil
}

// queryRow runs a prepared query expected to return at most one row.
func (r *reader) queryRow(query string, args ...any) *sql.Row {
	st, err := r.stmt(query)
	if err != nil {
		// Let the error surface from Scan, like database/sql does.
		return r.tx.QueryRowContext(r.ctx, query, args...)
	}
	return st.QueryRowContext(r.ctx, args...)
}

// query runs a prepared query whose rows the caller reads to the end (or
// closes) before running the same query again.
func (r *reader) query(query string, args ...any) (*sql.Rows, error) {
	st, err := r.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(r.ctx, args...)
}

// exec runs a prepared statement.
func (r *reader) exec(query string, args ...any) (sql.Result, error) {
	st, err := r.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(r.ctx, args...)
}

// writer implements Tx: a reader that also writes, auditing as actor.
type writer struct {
	reader
	actor Actor
	// nextSeq is the n of the next generated R-n key once known; the
	// transaction holds the write lock, so nobody else can take it.
	nextSeq int64
}

const auditInsert = `INSERT INTO audit (at, actor, run_id, entity, entity_id, field, old, new) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// audit records one changed field of one entity.
func (w *writer) audit(at, entity, entityID, field, old, new string) error {
	if _, err := w.exec(auditInsert, at, w.actor.Name, w.actor.RunID, entity, entityID, field, old, new); err != nil {
		return fmt.Errorf("audit %s %s %s: %w", entity, entityID, field, err)
	}
	return nil
}

// timeLayout is how timestamps are stored: UTC, fixed width, so that text
// order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored timestamp %q: %w", s, err)
	}
	return t, nil
}

// now is the time a change is stored at, as a value and as stored text, so
// that what the caller gets back equals what a later read returns.
func now() (time.Time, string) {
	t := time.Now().UTC()
	return t, formatTime(t)
}

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
