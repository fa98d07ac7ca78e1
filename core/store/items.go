package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/usmhub/usmhub/core/model"
)

// itemColumns are read by scanItem, in this order.
const itemColumns = `id, key, name, type, status, owner, description, source, version, created_at, updated_at`

func scanItem(sc scanner) (model.Item, error) {
	var (
		it               model.Item
		created, updated string
	)
	err := sc.Scan(&it.ID, &it.Key, &it.Name, &it.Type, (*string)(&it.Status), &it.Owner, &it.Description,
		&it.Source, &it.Version, &created, &updated)
	if err != nil {
		return it, err
	}
	if it.CreatedAt, err = parseTime(created); err != nil {
		return it, fmt.Errorf("item %s: %w", it.Key, err)
	}
	if it.UpdatedAt, err = parseTime(updated); err != nil {
		return it, fmt.Errorf("item %s: %w", it.Key, err)
	}
	return it, nil
}

// Item returns the configuration item with that key (CI-12) or UUID.
func (r *reader) Item(ref string) (model.Item, error) {
	if id, ok := canonicalUUID(ref); ok {
		it, err := scanItem(r.queryRow(`SELECT `+itemColumns+` FROM items WHERE id = ?`, id))
		if err == nil {
			return it, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return it, fmt.Errorf("read item %q: %w", ref, err)
		}
	}
	it, err := scanItem(r.queryRow(`SELECT `+itemColumns+` FROM items WHERE key = ?`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return it, fmt.Errorf("item %q: %w", ref, ErrNotFound)
	}
	if err != nil {
		return it, fmt.Errorf("read item %q: %w", ref, err)
	}
	return it, nil
}

func itemWhere(f ItemFilter) (string, []any, error) {
	var (
		conds []string
		args  []any
	)
	if f.Status != "" {
		if !f.Status.Valid() {
			return "", nil, fmt.Errorf("item filter: unknown status %q", f.Status)
		}
		conds = append(conds, "status = ?")
		args = append(args, string(f.Status))
	}
	if f.Type != "" {
		conds = append(conds, "type = ?")
		args = append(args, f.Type)
	}
	if f.Source != "" {
		conds = append(conds, "source = ?")
		args = append(args, f.Source)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// Items streams the matching items by key order of their CI-n number, then
// by key.
func (r *reader) Items(f ItemFilter, fn func(model.Item) error) error {
	where, args, err := itemWhere(f)
	if err != nil {
		return err
	}
	// Not a cached statement: fn may run other queries while rows are open.
	rows, err := r.tx.QueryContext(r.ctx, `SELECT `+itemColumns+` FROM items`+where+` ORDER BY seq IS NULL, seq, key`, args...)
	if err != nil {
		return fmt.Errorf("list items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return fmt.Errorf("list items: %w", err)
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list items: %w", err)
	}
	return nil
}

// CountItems counts the matching items.
func (r *reader) CountItems(f ItemFilter) (int, error) {
	where, args, err := itemWhere(f)
	if err != nil {
		return 0, err
	}
	var n int
	if err := r.queryRow(`SELECT COUNT(*) FROM items`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count items: %w", err)
	}
	return n, nil
}

// Affects returns the keys of the items a risk affects, in the order given.
func (r *reader) Affects(riskRef string) ([]string, error) {
	rr, err := r.resolveRisk(riskRef)
	if err != nil {
		return nil, err
	}
	rows, err := r.query(`SELECT item_key FROM risk_affects WHERE risk_id = ? ORDER BY position`, rr.id)
	if err != nil {
		return nil, fmt.Errorf("read the items %s affects: %w", rr.key, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("read the items %s affects: %w", rr.key, err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// AffectedBy returns the keys of the risks that name an item, in creation
// order of the risks.
func (r *reader) AffectedBy(itemKey string) ([]string, error) {
	rows, err := r.query(`SELECT r.key FROM risk_affects a JOIN risks r ON r.id = a.risk_id
		WHERE a.item_key = ? ORDER BY r.rowid`, itemKey)
	if err != nil {
		return nil, fmt.Errorf("read the risks affecting %s: %w", itemKey, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("read the risks affecting %s: %w", itemKey, err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// itemSeq returns n for a key of the form CI-n (n ≥ 1, decimal digits).
func itemSeq(key string) (int64, bool) {
	digits, ok := strings.CutPrefix(key, model.ItemKeyPrefix)
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n >= 1
}

// CreateItem stores a new configuration item. An empty Status becomes
// in_use, an empty Key the next CI-n. The item is validated first; it is
// only changed (ID, Key, Status, Version, timestamps) when it was stored.
func (w *writer) CreateItem(it *model.Item) error {
	check := *it
	if check.Status == "" {
		check.Status = model.DefaultItemStatus
	}
	if err := check.Validate(); err != nil {
		return fmt.Errorf("item %s: %w", describeRisk(it.Key, it.Name), err)
	}
	id := it.ID
	if id == "" {
		id = newID()
	} else if c, ok := canonicalUUID(id); ok {
		id = c
	} else {
		return fmt.Errorf("item %s: id %q is not a UUID", describeRisk(it.Key, it.Name), it.ID)
	}
	key := check.Key
	var seq sql.NullInt64
	if key == "" {
		var n int64
		if err := w.queryRow(`SELECT COALESCE(MAX(seq), 0) + 1 FROM items`).Scan(&n); err != nil {
			return fmt.Errorf("next item key: %w", err)
		}
		key, seq = model.ItemKeyPrefix+strconv.FormatInt(n, 10), sql.NullInt64{Int64: n, Valid: true}
	} else {
		var other string
		err := w.queryRow(`SELECT name FROM items WHERE key = ?`, key).Scan(&other)
		switch {
		case err == nil:
			return fmt.Errorf("item %q: key %s is already taken by %q: %w", it.Name, key, other, ErrConflict)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("item %s: check the key: %w", describeRisk(key, it.Name), err)
		}
		if n, ok := itemSeq(key); ok {
			seq = sql.NullInt64{Int64: n, Valid: true}
		}
	}
	at, atText := now()
	if _, err := w.exec(`INSERT INTO items (id, key, seq, name, type, status, owner, description, source, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`, id, key, seq, check.Name, check.Type, string(check.Status), check.Owner,
		check.Description, check.Source, atText, atText); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("item %s: id %s is already taken: %w", describeRisk(key, it.Name), id, ErrConflict)
		}
		return fmt.Errorf("store item %s: %w", describeRisk(key, it.Name), err)
	}
	if err := w.audit(atText, "item", id, "created", "", key); err != nil {
		return err
	}
	it.ID, it.Key, it.Status, it.Version, it.CreatedAt, it.UpdatedAt = id, key, check.Status, 1, at, at
	return nil
}

// diffItem lists the fields an update may change that differ between a and b.
func diffItem(a, b *model.Item) []change {
	var cs []change
	for _, f := range model.ItemFields {
		if f == "key" {
			continue
		}
		if o, n := a.Field(f), b.Field(f); o != n {
			cs = append(cs, change{f, o, n})
		}
	}
	return cs
}

// UpdateItem stores it, found by ID (or by Key when ID is empty), if its
// Version still matches the stored one (ErrConflict otherwise), and audits
// each changed field. The key does not change. An update that changes
// nothing stores nothing and keeps the version.
func (w *writer) UpdateItem(it *model.Item) error {
	ref := it.ID
	if ref == "" {
		ref = it.Key
	}
	if ref == "" {
		return fmt.Errorf("update item %q: it has neither id nor key", it.Name)
	}
	old, err := w.Item(ref)
	if err != nil {
		return err
	}
	if it.Version != old.Version {
		return fmt.Errorf("item %s changed since it was read (version %d, expected %d): %w", old.Key, old.Version, it.Version, ErrConflict)
	}
	if it.Key != "" && it.Key != old.Key {
		return fmt.Errorf("item %s: the key cannot change (to %q)", old.Key, it.Key)
	}
	it.Key = old.Key
	if err := it.Validate(); err != nil {
		return fmt.Errorf("item %s: %w", describeRisk(old.Key, it.Name), err)
	}
	changes := diffItem(&old, it)
	it.ID, it.CreatedAt = old.ID, old.CreatedAt
	if len(changes) == 0 {
		it.UpdatedAt = old.UpdatedAt
		return nil
	}
	at, atText := now()
	res, err := w.exec(`UPDATE items SET name = ?, type = ?, status = ?, owner = ?, description = ?, source = ?,
		version = version + 1, updated_at = ? WHERE id = ? AND version = ?`,
		it.Name, it.Type, string(it.Status), it.Owner, it.Description, it.Source, atText, old.ID, old.Version)
	if err != nil {
		return fmt.Errorf("store item %s: %w", old.Key, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("item %s changed while it was being stored: %w", old.Key, errors.Join(ErrConflict, err))
	}
	for _, c := range changes {
		if err := w.audit(atText, "item", old.ID, c.field, c.old, c.new); err != nil {
			return err
		}
	}
	it.Version, it.UpdatedAt = old.Version+1, at
	return nil
}

// SetAffects replaces the items a risk affects (keys, in order; each once),
// audited as the risk's field "affects". Keys must be valid keys; they
// need not name items the register holds yet.
func (w *writer) SetAffects(riskRef string, keys []string) error {
	rr, err := w.resolveRisk(riskRef)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var clean []string
	for _, k := range keys {
		if !model.ValidKey(k) {
			return fmt.Errorf("risk %s: affects %q: %s", rr.key, k, model.KeyHint)
		}
		if !seen[k] {
			seen[k] = true
			clean = append(clean, k)
		}
	}
	old, err := w.Affects(rr.id)
	if err != nil {
		return err
	}
	if strings.Join(old, ",") == strings.Join(clean, ",") {
		return nil
	}
	if _, err := w.exec(`DELETE FROM risk_affects WHERE risk_id = ?`, rr.id); err != nil {
		return fmt.Errorf("risk %s: store affects: %w", rr.key, err)
	}
	for i, k := range clean {
		if _, err := w.exec(`INSERT INTO risk_affects (risk_id, position, item_key) VALUES (?, ?, ?)`, rr.id, i, k); err != nil {
			return fmt.Errorf("risk %s: store affects: %w", rr.key, err)
		}
	}
	_, atText := now()
	return w.audit(atText, "risk", rr.id, "affects", strings.Join(old, ","), strings.Join(clean, ","))
}
