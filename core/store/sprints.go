package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/usmhub/usmhub/core/model"
)

const sprintColumns = `id, initiative, number, goal, "start", "end", capacity, used, status, policy, version, created_at`

func scanSprint(sc scanner) (model.Sprint, error) {
	var (
		s       model.Sprint
		created string
	)
	err := sc.Scan(&s.ID, &s.Initiative, &s.Number, &s.Goal, &s.Start, &s.End, &s.Capacity, &s.Used,
		(*string)(&s.Status), &s.Policy, &s.Version, &created)
	if err != nil {
		return s, err
	}
	if s.CreatedAt, err = parseTime(created); err != nil {
		return s, fmt.Errorf("sprint %d of initiative %q: %w", s.Number, s.Initiative, err)
	}
	return s, nil
}

// Sprint returns an initiative's sprint by number, with its items in the
// order they were chosen.
func (r *reader) Sprint(initiative string, number int) (model.Sprint, error) {
	s, err := scanSprint(r.queryRow(`SELECT `+sprintColumns+` FROM sprints WHERE initiative = ? AND number = ?`,
		initiative, number))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("sprint %d of initiative %q: %w", number, initiative, ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("read sprint %d of initiative %q: %w", number, initiative, err)
	}
	err = r.sprintItems(`SELECT sprint_id, risk_id, key, title, score, effort FROM sprint_items
		WHERE sprint_id = ? ORDER BY position`, []any{s.ID}, func(_ string, it model.SprintItem) {
		s.Items = append(s.Items, it)
	})
	if err != nil {
		return s, fmt.Errorf("read sprint %d of initiative %q: %w", number, initiative, err)
	}
	return s, nil
}

// Sprints returns an initiative's sprints by number (all sprints, by
// initiative and number, when initiative is empty), with their items. It
// runs two queries however many sprints there are.
func (r *reader) Sprints(initiative string) ([]model.Sprint, error) {
	sprintsQ := `SELECT ` + sprintColumns + ` FROM sprints ORDER BY initiative, number`
	itemsQ := `SELECT sprint_id, risk_id, key, title, score, effort FROM sprint_items ORDER BY sprint_id, position`
	var args []any
	if initiative != "" {
		sprintsQ = `SELECT ` + sprintColumns + ` FROM sprints WHERE initiative = ? ORDER BY number`
		itemsQ = `SELECT i.sprint_id, i.risk_id, i.key, i.title, i.score, i.effort
			FROM sprint_items i JOIN sprints s ON s.id = i.sprint_id
			WHERE s.initiative = ? ORDER BY i.sprint_id, i.position`
		args = []any{initiative}
	}
	rows, err := r.query(sprintsQ, args...)
	if err != nil {
		return nil, fmt.Errorf("read sprints of initiative %q: %w", initiative, err)
	}
	defer rows.Close()
	var sprints []model.Sprint
	byID := map[string]int{}
	for rows.Next() {
		s, err := scanSprint(rows)
		if err != nil {
			return nil, fmt.Errorf("read sprints of initiative %q: %w", initiative, err)
		}
		byID[s.ID] = len(sprints)
		sprints = append(sprints, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sprints of initiative %q: %w", initiative, err)
	}
	if len(sprints) == 0 {
		return nil, nil
	}
	err = r.sprintItems(itemsQ, args, func(sprintID string, it model.SprintItem) {
		if i, ok := byID[sprintID]; ok {
			sprints[i].Items = append(sprints[i].Items, it)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read sprints of initiative %q: %w", initiative, err)
	}
	return sprints, nil
}

// sprintItems runs an items query (columns sprint_id, risk_id, key, title,
// score, effort) and hands each row to add.
func (r *reader) sprintItems(query string, args []any, add func(sprintID string, it model.SprintItem)) error {
	rows, err := r.query(query, args...)
	if err != nil {
		return fmt.Errorf("read sprint items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sprintID string
			it       model.SprintItem
		)
		if err := rows.Scan(&sprintID, &it.RiskID, &it.Key, &it.Title, &it.Score, &it.Effort); err != nil {
			return fmt.Errorf("read sprint items: %w", err)
		}
		add(sprintID, it)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read sprint items: %w", err)
	}
	return nil
}

// validSprintStatus reports whether s is a known sprint status.
func validSprintStatus(s model.SprintStatus) bool {
	return s == model.SprintPlanned || s == model.SprintActive || s == model.SprintClosed
}

// CreateSprint stores a sprint and its items. An empty Status becomes
// planned. Each item names its risk by RiskID (or, when that is empty, by
// Key); the stored item carries the risk's UUID, and its key and title when
// the item left them empty. s is only changed when it was stored.
func (w *writer) CreateSprint(s *model.Sprint) error {
	status := s.Status
	if status == "" {
		status = model.SprintPlanned
	}
	if !validSprintStatus(status) {
		return fmt.Errorf("sprint of initiative %q: status must be planned, active or closed, not %q", s.Initiative, status)
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("sprint of initiative %q: %w", s.Initiative, err)
	}
	id := s.ID
	if id == "" {
		id = newID()
	} else if c, ok := canonicalUUID(id); ok {
		id = c
	} else {
		return fmt.Errorf("sprint of initiative %q: id %q is not a UUID", s.Initiative, s.ID)
	}
	var number int
	if err := w.queryRow(`SELECT COALESCE(MAX(number), 0) + 1 FROM sprints WHERE initiative = ?`,
		s.Initiative).Scan(&number); err != nil {
		return fmt.Errorf("number the sprint of initiative %q: %w", s.Initiative, err)
	}

	items := make([]model.SprintItem, len(s.Items))
	seen := make(map[string]bool, len(s.Items))
	for i, it := range s.Items {
		ref := it.RiskID
		if ref == "" {
			ref = it.Key
		}
		risk, err := w.resolveRisk(ref)
		if err != nil {
			return fmt.Errorf("sprint %d of initiative %q, item %d: %w", number, s.Initiative, i+1, err)
		}
		if seen[risk.id] {
			return fmt.Errorf("sprint %d of initiative %q: risk %s is an item twice: %w", number, s.Initiative, risk.key, ErrConflict)
		}
		seen[risk.id] = true
		it.RiskID = risk.id
		if it.Key == "" {
			it.Key = risk.key
		}
		if it.Title == "" {
			it.Title = risk.title
		}
		items[i] = it
	}

	at, atText := now()
	if _, err := w.exec(`INSERT INTO sprints (`+sprintColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
		id, s.Initiative, number, s.Goal, s.Start, s.End, s.Capacity, s.Used, string(status), s.Policy, atText); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("sprint %d of initiative %q: id %s is already taken: %w", number, s.Initiative, id, ErrConflict)
		}
		return fmt.Errorf("store sprint %d of initiative %q: %w", number, s.Initiative, err)
	}
	for i, it := range items {
		if _, err := w.exec(`INSERT INTO sprint_items (sprint_id, position, risk_id, key, title, score, effort)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, i, it.RiskID, it.Key, it.Title, it.Score, it.Effort); err != nil {
			return fmt.Errorf("store sprint %d of initiative %q, item %s: %w", number, s.Initiative, it.Key, err)
		}
	}
	if err := w.audit(atText, "sprint", id, "created", "",
		fmt.Sprintf("sprint %d of initiative %s (%d items)", number, s.Initiative, len(items))); err != nil {
		return err
	}
	if len(items) == 0 {
		items = nil // as a read returns it
	}
	s.ID, s.Number, s.Status, s.Items, s.Version, s.CreatedAt = id, number, status, items, 1, at
	return nil
}

// SetSprintStatus moves a sprint to a status, bumping its version; moving it
// to the status it has changes nothing.
func (w *writer) SetSprintStatus(initiative string, number int, status model.SprintStatus) error {
	if !validSprintStatus(status) {
		return fmt.Errorf("sprint %d of initiative %q: status must be planned, active or closed, not %q", number, initiative, status)
	}
	var id, old string
	err := w.queryRow(`SELECT id, status FROM sprints WHERE initiative = ? AND number = ?`, initiative, number).Scan(&id, &old)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sprint %d of initiative %q: %w", number, initiative, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read sprint %d of initiative %q: %w", number, initiative, err)
	}
	if old == string(status) {
		return nil
	}
	if _, err := w.exec(`UPDATE sprints SET status = ?, version = version + 1 WHERE id = ?`, string(status), id); err != nil {
		return fmt.Errorf("store status of sprint %d of initiative %q: %w", number, initiative, err)
	}
	_, atText := now()
	return w.audit(atText, "sprint", id, "status", old, string(status))
}
