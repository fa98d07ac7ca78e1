package store

import (
	"encoding/json"
	"fmt"

	"github.com/usmhub/usmhub/core/model"
)

// Scans returns an initiative's scans (all scans when initiative is empty)
// by date, oldest first (scans of one day in the order they were stored),
// with their scores in the order they were given. It runs two queries
// however many scans there are.
func (r *reader) Scans(initiative string) ([]model.Scan, error) {
	scansQ := `SELECT id, initiative, kind, method, method_version, taken_on, findings, created_at
		FROM scans ORDER BY taken_on, rowid`
	scoresQ := `SELECT scan_id, dimension, score, respondents, note FROM scan_scores ORDER BY scan_id, position`
	var args []any
	if initiative != "" {
		scansQ = `SELECT id, initiative, kind, method, method_version, taken_on, findings, created_at
			FROM scans WHERE initiative = ? ORDER BY taken_on, rowid`
		scoresQ = `SELECT c.scan_id, c.dimension, c.score, c.respondents, c.note
			FROM scan_scores c JOIN scans s ON s.id = c.scan_id
			WHERE s.initiative = ? ORDER BY c.scan_id, c.position`
		args = []any{initiative}
	}
	fail := func(err error) ([]model.Scan, error) {
		return nil, fmt.Errorf("read scans of initiative %q: %w", initiative, err)
	}

	rows, err := r.query(scansQ, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var scans []model.Scan
	byID := map[string]int{}
	for rows.Next() {
		var (
			s                 model.Scan
			findings, created string
		)
		if err := rows.Scan(&s.ID, &s.Initiative, (*string)(&s.Kind), &s.Method, &s.MethodVersion,
			&s.TakenOn, &findings, &created); err != nil {
			return fail(err)
		}
		if err := json.Unmarshal([]byte(findings), &s.Findings); err != nil {
			return fail(fmt.Errorf("scan %s: findings: %w", s.ID, err))
		}
		if len(s.Findings) == 0 {
			s.Findings = nil
		}
		if s.CreatedAt, err = parseTime(created); err != nil {
			return fail(fmt.Errorf("scan %s: %w", s.ID, err))
		}
		byID[s.ID] = len(scans)
		scans = append(scans, s)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if len(scans) == 0 {
		return nil, nil
	}

	scores, err := r.query(scoresQ, args...)
	if err != nil {
		return fail(err)
	}
	defer scores.Close()
	for scores.Next() {
		var (
			scanID string
			sc     model.ScanScore
		)
		if err := scores.Scan(&scanID, &sc.Dimension, &sc.Score, &sc.Respondents, &sc.Note); err != nil {
			return fail(err)
		}
		if i, ok := byID[scanID]; ok {
			scans[i].Scores = append(scans[i].Scores, sc)
		}
	}
	if err := scores.Err(); err != nil {
		return fail(err)
	}
	return scans, nil
}

// CreateScan stores a scan and its scores. s is only changed (ID,
// CreatedAt) when it was stored.
func (w *writer) CreateScan(s *model.Scan) error {
	what := fmt.Sprintf("%s scan of initiative %q on %s", s.Kind, s.Initiative, s.TakenOn)
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	id := s.ID
	if id == "" {
		id = newID()
	} else if c, ok := canonicalUUID(id); ok {
		id = c
	} else {
		return fmt.Errorf("%s: id %q is not a UUID", what, s.ID)
	}
	findings := []string{}
	if len(s.Findings) > 0 {
		findings = s.Findings
	}
	findingsJSON, err := json.Marshal(findings)
	if err != nil {
		return fmt.Errorf("%s: findings: %w", what, err)
	}

	at, atText := now()
	if _, err := w.exec(`INSERT INTO scans (id, initiative, kind, method, method_version, taken_on, findings, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, s.Initiative, string(s.Kind), s.Method, s.MethodVersion, s.TakenOn,
		string(findingsJSON), atText); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("%s: id %s is already taken: %w", what, id, ErrConflict)
		}
		return fmt.Errorf("store %s: %w", what, err)
	}
	for i, sc := range s.Scores {
		if _, err := w.exec(`INSERT INTO scan_scores (scan_id, position, dimension, score, respondents, note)
			VALUES (?, ?, ?, ?, ?, ?)`, id, i, sc.Dimension, sc.Score, sc.Respondents, sc.Note); err != nil {
			return fmt.Errorf("store %s, dimension %q: %w", what, sc.Dimension, err)
		}
	}
	if err := w.audit(atText, "scan", id, "created", "",
		fmt.Sprintf("%s scan, %s %s, taken on %s", s.Kind, s.Method, s.MethodVersion, s.TakenOn)); err != nil {
		return err
	}
	s.ID, s.CreatedAt = id, at
	return nil
}
