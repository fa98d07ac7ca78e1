package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/usmhub/usmhub/core/model"
)

// Audit streams the matching audit entries in the order they were committed.
// With a Limit it streams the newest Limit of them, still oldest first (like
// the tail of a log). An EntityID that is not a UUID is taken as a risk key
// (or else an item key) and resolved to its UUID (ErrNotFound when none has it).
func (r *reader) Audit(f AuditFilter, fn func(model.AuditEntry) error) error {
	if f.Limit < 0 {
		return fmt.Errorf("audit filter: limit must be 0 (no limit) or more, not %d", f.Limit)
	}
	var (
		conds []string
		args  []any
	)
	if f.EntityID != "" {
		id, ok := canonicalUUID(f.EntityID)
		if !ok {
			err := r.queryRow(`SELECT id FROM risks WHERE key = ?`, f.EntityID).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				err = r.queryRow(`SELECT id FROM items WHERE key = ?`, f.EntityID).Scan(&id)
			}
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("audit of risk or item %q: %w", f.EntityID, ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("audit of risk %q: %w", f.EntityID, err)
			}
		}
		conds = append(conds, "entity_id = ?")
		args = append(args, id)
	}
	if f.RunID != "" {
		// A run id may be given in full or by the short prefix `usmhub sync`
		// prints; run ids are lower-case hex and dashes, all below "~", so
		// the range is the prefix's and the index on run_id serves it.
		conds = append(conds, "run_id >= ? AND run_id < ? AND run_id != ''")
		args = append(args, strings.ToLower(f.RunID), strings.ToLower(f.RunID)+"~")
	}
	if !f.Since.IsZero() {
		conds = append(conds, "at >= ?")
		args = append(args, formatTime(f.Since))
	}
	query := `SELECT id, at, actor, run_id, entity, entity_id, field, old, new FROM audit`
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	if f.Limit > 0 {
		query = `SELECT * FROM (` + query + ` ORDER BY id DESC LIMIT ?)`
		args = append(args, f.Limit)
	}
	query += " ORDER BY id"

	// Not a cached statement: fn may run other queries while rows are open.
	rows, err := r.tx.QueryContext(r.ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e  model.AuditEntry
			at string
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.RunID, &e.Entity, &e.EntityID, &e.Field, &e.Old, &e.New); err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		if e.At, err = parseTime(at); err != nil {
			return fmt.Errorf("read audit entry %d: %w", e.ID, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read audit: %w", err)
	}
	return nil
}
