package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/usmhub/usmhub/core/model"
)

// riskColumns are read by scanRisk, in this order.
const riskColumns = `id, key, initiative, kind, title, description, process, source,
	likelihood, impact, effort, owner, status, votes, version, created_at, updated_at`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanRisk(sc scanner) (model.Risk, error) {
	var (
		r                         model.Risk
		likelihood, impact, votes int64
		created, updated          string
	)
	err := sc.Scan(&r.ID, &r.Key, &r.Initiative, (*string)(&r.Kind), &r.Title, &r.Description,
		(*string)(&r.Process), &r.Source, &likelihood, &impact, &r.Effort, &r.Owner,
		(*string)(&r.Status), &votes, &r.Version, &created, &updated)
	if err != nil {
		return r, err
	}
	r.Likelihood, r.Impact, r.Votes = int(likelihood), int(impact), int(votes)
	if r.CreatedAt, err = parseTime(created); err != nil {
		return r, fmt.Errorf("risk %s: %w", r.Key, err)
	}
	if r.UpdatedAt, err = parseTime(updated); err != nil {
		return r, fmt.Errorf("risk %s: %w", r.Key, err)
	}
	return r, nil
}

// canonicalUUID returns s in the canonical lower-case form when it is a UUID
// written as 36 characters (8-4-4-4-12).
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// riskBy returns the one risk the query selects; ok is false when there is
// none.
func (r *reader) riskBy(query string, args ...any) (model.Risk, bool, error) {
	risk, err := scanRisk(r.queryRow(query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return risk, false, nil
	}
	return risk, err == nil, err
}

// Risk returns the risk with that key or UUID.
func (r *reader) Risk(ref string) (model.Risk, error) {
	if id, ok := canonicalUUID(ref); ok {
		risk, found, err := r.riskBy(`SELECT `+riskColumns+` FROM risks WHERE id = ?`, id)
		if err != nil {
			return risk, fmt.Errorf("read risk %q: %w", ref, err)
		}
		if found {
			return risk, nil
		}
		// A key may look like a UUID: try it as a key too.
	}
	risk, found, err := r.riskBy(`SELECT `+riskColumns+` FROM risks WHERE key = ?`, ref)
	if err != nil {
		return risk, fmt.Errorf("read risk %q: %w", ref, err)
	}
	if !found {
		return risk, fmt.Errorf("risk %q: %w", ref, ErrNotFound)
	}
	return risk, nil
}

// riskRef is a risk's UUID, key and title, for writes that only refer to it.
type riskRef struct{ id, key, title string }

// resolveRisk finds the risk a key or UUID names.
func (r *reader) resolveRisk(ref string) (riskRef, error) {
	var rr riskRef
	scan := func(query, arg string) (bool, error) {
		err := r.queryRow(query, arg).Scan(&rr.id, &rr.key, &rr.title)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read risk %q: %w", ref, err)
		}
		return true, nil
	}
	if id, ok := canonicalUUID(ref); ok {
		if found, err := scan(`SELECT id, key, title FROM risks WHERE id = ?`, id); found || err != nil {
			return rr, err
		}
	}
	found, err := scan(`SELECT id, key, title FROM risks WHERE key = ?`, ref)
	if err != nil {
		return rr, err
	}
	if !found {
		return rr, fmt.Errorf("risk %q: %w", ref, ErrNotFound)
	}
	return rr, nil
}

// RiskByTitle returns the risk of the initiative with exactly that title;
// when several have it, the oldest.
func (r *reader) RiskByTitle(initiative, title string) (model.Risk, error) {
	risk, found, err := r.riskBy(`SELECT `+riskColumns+` FROM risks WHERE initiative = ? AND title = ? ORDER BY rowid LIMIT 1`,
		initiative, title)
	if err != nil {
		return risk, fmt.Errorf("read risk %q of initiative %q: %w", title, initiative, err)
	}
	if !found {
		return risk, fmt.Errorf("risk titled %q in initiative %q: %w", title, initiative, ErrNotFound)
	}
	return risk, nil
}

// riskWhere turns a filter into a WHERE clause (empty when f selects all)
// and its arguments, refusing values no risk can have.
func riskWhere(f RiskFilter) (string, []any, error) { return riskWhereAs("", f) }

// riskWhereAs is riskWhere with the risk columns qualified by a table alias
// ("r."), for joins.
func riskWhereAs(alias string, f RiskFilter) (string, []any, error) {
	var (
		conds []string
		args  []any
	)
	if f.Initiative != "" {
		conds = append(conds, alias+"initiative = ?")
		args = append(args, f.Initiative)
	}
	if len(f.Statuses) > 0 {
		marks := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			if !s.Valid() {
				return "", nil, fmt.Errorf("risk filter: unknown status %q", s)
			}
			marks[i] = "?"
			args = append(args, string(s))
		}
		conds = append(conds, alias+"status IN ("+strings.Join(marks, ", ")+")")
	}
	if f.Kind != "" {
		if !f.Kind.Valid() {
			return "", nil, fmt.Errorf("risk filter: unknown kind %q (threat or opportunity)", f.Kind)
		}
		conds = append(conds, alias+"kind = ?")
		args = append(args, string(f.Kind))
	}
	if f.Process != "" {
		if !f.Process.Valid() {
			return "", nil, fmt.Errorf("risk filter: unknown process %q", f.Process)
		}
		conds = append(conds, alias+"process = ?")
		args = append(args, string(f.Process))
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// Risks streams the matching risks in creation order.
func (r *reader) Risks(f RiskFilter, fn func(model.Risk) error) error {
	where, args, err := riskWhere(f)
	if err != nil {
		return err
	}
	// Not a cached statement: fn may run other queries, this one included,
	// while these rows are open.
	rows, err := r.tx.QueryContext(r.ctx, `SELECT `+riskColumns+` FROM risks`+where+` ORDER BY rowid`, args...)
	if err != nil {
		return fmt.Errorf("list risks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		risk, err := scanRisk(rows)
		if err != nil {
			return fmt.Errorf("list risks: %w", err)
		}
		if err := fn(risk); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list risks: %w", err)
	}
	return nil
}

// CountRisks counts the matching risks.
func (r *reader) CountRisks(f RiskFilter) (int, error) {
	where, args, err := riskWhere(f)
	if err != nil {
		return 0, err
	}
	var n int
	if err := r.queryRow(`SELECT COUNT(*) FROM risks`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count risks: %w", err)
	}
	return n, nil
}

// describeRisk names a risk in errors: its key when it has one, and its title.
func describeRisk(key, title string) string {
	if key == "" {
		return strconv.Quote(title)
	}
	return fmt.Sprintf("%s (%q)", key, title)
}

// keySeq returns n for a key of the form R-n (n ≥ 1, decimal digits).
func keySeq(key string) (int64, bool) {
	digits, ok := strings.CutPrefix(key, "R-")
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n >= 1
}

// peekSeq returns the n of the next generated R-n key.
func (w *writer) peekSeq() (int64, error) {
	if w.nextSeq == 0 {
		if err := w.queryRow(`SELECT COALESCE(MAX(seq), 0) + 1 FROM risks`).Scan(&w.nextSeq); err != nil {
			return 0, fmt.Errorf("next risk key: %w", err)
		}
	}
	return w.nextSeq, nil
}

// nextChange is the next value of the risks' change sequence (see
// migration 0004); writes are serialised, so it only grows.
const nextChange = `(SELECT coalesce(max(change_seq), 0) + 1 FROM risks)`

const riskInsert = `INSERT INTO risks (id, key, seq, initiative, kind, title, description, process, source,
	likelihood, impact, effort, owner, status, votes, version, created_at, updated_at, change_seq)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1, ?, ?, ` + nextChange + `)`

// CreateRisk stores a new risk. An empty Status becomes proposed. The risk
// is validated first; r is only changed (ID, Key, Version, timestamps) when
// it was stored.
func (w *writer) CreateRisk(r *model.Risk) error {
	status := r.Status
	if status == "" {
		status = model.Proposed
	}
	check := *r
	check.Status = status
	if err := check.Validate(); err != nil {
		return fmt.Errorf("risk %s: %w", describeRisk(r.Key, r.Title), err)
	}
	if r.Votes != 0 {
		return fmt.Errorf("risk %s: a new risk has no votes (not %d): cast them with CastVote once it is stored",
			describeRisk(r.Key, r.Title), r.Votes)
	}

	id := r.ID
	if id == "" {
		id = newID()
	} else if c, ok := canonicalUUID(id); ok {
		id = c
	} else {
		return fmt.Errorf("risk %s: id %q is not a UUID", describeRisk(r.Key, r.Title), r.ID)
	}

	key := r.Key
	var seq sql.NullInt64
	if key == "" {
		n, err := w.peekSeq()
		if err != nil {
			return err
		}
		key, seq = "R-"+strconv.FormatInt(n, 10), sql.NullInt64{Int64: n, Valid: true}
	} else {
		if strings.TrimSpace(key) != key {
			return fmt.Errorf("risk %s: key %q has leading or trailing spaces", describeRisk(r.Key, r.Title), key)
		}
		var other string
		err := w.queryRow(`SELECT title FROM risks WHERE key = ?`, key).Scan(&other)
		switch {
		case err == nil:
			return fmt.Errorf("risk %q: key %s is already taken by %q: %w", r.Title, key, other, ErrConflict)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("risk %s: check the key: %w", describeRisk(key, r.Title), err)
		}
		if n, ok := keySeq(key); ok {
			seq = sql.NullInt64{Int64: n, Valid: true}
		}
	}

	at, atText := now()
	if _, err := w.exec(riskInsert, id, key, seq, r.Initiative, string(r.Kind), r.Title, r.Description,
		string(r.Process), r.Source, r.Likelihood, r.Impact, r.Effort, r.Owner, string(status),
		atText, atText); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("risk %s: id %s is already taken: %w", describeRisk(key, r.Title), id, ErrConflict)
		}
		return fmt.Errorf("store risk %s: %w", describeRisk(key, r.Title), err)
	}
	if seq.Valid && w.nextSeq != 0 && seq.Int64 >= w.nextSeq {
		w.nextSeq = seq.Int64 + 1
	}
	if err := w.audit(atText, "risk", id, "created", "", key); err != nil {
		return err
	}
	r.ID, r.Key, r.Status, r.Version, r.CreatedAt, r.UpdatedAt = id, key, status, 1, at, at
	return nil
}

// change is one changed field, with its old and new value as audit text.
type change struct{ field, old, new string }

// diffRisk lists the fields an update may change that differ between a and b,
// named as in the JSON form of a risk.
func diffRisk(a, b *model.Risk) []change {
	var cs []change
	add := func(field, old, new string) {
		if old != new {
			cs = append(cs, change{field, old, new})
		}
	}
	add("initiative", a.Initiative, b.Initiative)
	add("kind", string(a.Kind), string(b.Kind))
	add("title", a.Title, b.Title)
	add("description", a.Description, b.Description)
	add("process", string(a.Process), string(b.Process))
	add("source", a.Source, b.Source)
	add("likelihood", itoa(a.Likelihood), itoa(b.Likelihood))
	add("impact", itoa(a.Impact), itoa(b.Impact))
	add("effort", ftoa(a.Effort), ftoa(b.Effort))
	add("owner", a.Owner, b.Owner)
	add("status", string(a.Status), string(b.Status))
	return cs
}

const riskUpdate = `UPDATE risks SET initiative = ?, kind = ?, title = ?, description = ?, process = ?,
	source = ?, likelihood = ?, impact = ?, effort = ?, owner = ?, status = ?,
	version = version + 1, updated_at = ?, change_seq = ` + nextChange + `
	WHERE id = ? AND version = ?`

// UpdateRisk stores r, found by ID (or by Key when ID is empty). Key, Votes
// and the timestamps are not r's to change. An update that changes nothing
// stores nothing and keeps the version.
func (w *writer) UpdateRisk(r *model.Risk) error {
	ref := r.ID
	if ref == "" {
		ref = r.Key
	}
	if ref == "" {
		return fmt.Errorf("update risk %q: it has neither id nor key", r.Title)
	}
	old, err := w.Risk(ref)
	if err != nil {
		return err
	}
	return w.UpdateRiskFrom(old, r)
}

// UpdateRiskFrom stores r over old, the stored risk as read in this
// transaction (the reconciler reads it to merge, so it is not read twice).
func (w *writer) UpdateRiskFrom(old model.Risk, r *model.Risk) error {
	if r.ID != "" && r.ID != old.ID {
		return fmt.Errorf("update risk %q: it is not the risk read (%s)", r.Title, old.Key)
	}
	if r.Version != old.Version {
		return fmt.Errorf("risk %s changed since it was read (version %d, expected %d): %w",
			old.Key, old.Version, r.Version, ErrConflict)
	}
	if r.Key != "" && r.Key != old.Key {
		return fmt.Errorf("risk %s: the key cannot change (to %q)", old.Key, r.Key)
	}
	if r.Votes != old.Votes {
		return fmt.Errorf("risk %s: votes change only by casting or retracting votes (stored %d, given %d)",
			old.Key, old.Votes, r.Votes)
	}
	if err := model.CheckTransition(old.Status, r.Status); err != nil {
		return fmt.Errorf("risk %s: %w", old.Key, err)
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("risk %s: %w", describeRisk(old.Key, r.Title), err)
	}
	changes := diffRisk(&old, r)
	r.ID, r.Key, r.CreatedAt = old.ID, old.Key, old.CreatedAt
	if len(changes) == 0 {
		r.UpdatedAt = old.UpdatedAt
		return nil
	}

	at, atText := now()
	res, err := w.exec(riskUpdate, r.Initiative, string(r.Kind), r.Title, r.Description, string(r.Process),
		r.Source, r.Likelihood, r.Impact, r.Effort, r.Owner, string(r.Status), atText, old.ID, old.Version)
	if err != nil {
		return fmt.Errorf("store risk %s: %w", old.Key, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("risk %s changed while it was being stored: %w", old.Key, errors.Join(ErrConflict, err))
	}
	for _, c := range changes {
		if err := w.audit(atText, "risk", old.ID, c.field, c.old, c.new); err != nil {
			return err
		}
	}
	r.Version, r.UpdatedAt = old.Version+1, at
	return nil
}

// newID returns a new entity id: a version 7 UUID, whose leading bits are
// the time, so that ids of new rows land next to each other in the indexes.
func newID() string {
	u, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return u.String()
}
