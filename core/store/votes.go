package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/usmhub/usmhub/core/model"
)

// Votes returns the current votes on a risk (named by key or UUID), ordered
// by voter.
func (r *reader) Votes(riskID string) ([]model.Vote, error) {
	risk, err := r.resolveRisk(riskID)
	if err != nil {
		return nil, err
	}
	rows, err := r.query(`SELECT voter, weight, cast_at FROM votes WHERE risk_id = ? ORDER BY voter`, risk.id)
	if err != nil {
		return nil, fmt.Errorf("read votes on risk %s: %w", risk.key, err)
	}
	defer rows.Close()
	var votes []model.Vote
	for rows.Next() {
		v := model.Vote{RiskID: risk.id}
		var castAt string
		if err := rows.Scan(&v.Voter, &v.Weight, &castAt); err != nil {
			return nil, fmt.Errorf("read votes on risk %s: %w", risk.key, err)
		}
		if v.CastAt, err = parseTime(castAt); err != nil {
			return nil, fmt.Errorf("read votes on risk %s: %w", risk.key, err)
		}
		votes = append(votes, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read votes on risk %s: %w", risk.key, err)
	}
	return votes, nil
}

// Voters returns the distinct voters on an initiative's risks (on all risks
// when initiative is empty), sorted.
func (r *reader) Voters(initiative string) ([]string, error) {
	query, args := `SELECT DISTINCT voter FROM votes ORDER BY voter`, []any(nil)
	if initiative != "" {
		query = `SELECT DISTINCT v.voter FROM votes v JOIN risks r ON r.id = v.risk_id
			WHERE r.initiative = ? ORDER BY v.voter`
		args = []any{initiative}
	}
	rows, err := r.query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("read voters of initiative %q: %w", initiative, err)
	}
	defer rows.Close()
	var voters []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read voters of initiative %q: %w", initiative, err)
		}
		voters = append(voters, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read voters of initiative %q: %w", initiative, err)
	}
	return voters, nil
}

// CastVote records v.Voter's vote on the risk v.RiskID names (key or UUID),
// replacing an earlier vote of the same voter; CastAt defaults to now. The
// vote is audited as entity "vote" (entity_id the risk's UUID, field the
// voter, old and new the weights) and a changed total as the risk's "votes"
// field, which bumps the risk's version.
func (w *writer) CastVote(v model.Vote) error {
	if err := v.Validate(); err != nil {
		return fmt.Errorf("vote of %q on risk %s: %w", v.Voter, v.RiskID, err)
	}
	risk, err := w.Risk(v.RiskID)
	if err != nil {
		return fmt.Errorf("vote of %q: %w", v.Voter, err)
	}
	_, atText := now()
	castAt := atText
	if !v.CastAt.IsZero() {
		castAt = formatTime(v.CastAt)
	}
	old, err := w.voteWeight(risk.ID, v.Voter)
	if err != nil {
		return fmt.Errorf("vote of %q on risk %s: %w", v.Voter, risk.Key, err)
	}
	if _, err := w.exec(`INSERT INTO votes (risk_id, voter, weight, cast_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (risk_id, voter) DO UPDATE SET weight = excluded.weight, cast_at = excluded.cast_at`,
		risk.ID, v.Voter, v.Weight, castAt); err != nil {
		return fmt.Errorf("store vote of %q on risk %s: %w", v.Voter, risk.Key, err)
	}
	if newWeight := itoa(v.Weight); old != newWeight {
		if err := w.audit(atText, "vote", risk.ID, v.Voter, old, newWeight); err != nil {
			return err
		}
	}
	return w.recountVotes(&risk, atText)
}

// RetractVote removes voter's vote on the risk riskID names (key or UUID).
func (w *writer) RetractVote(riskID, voter string) error {
	risk, err := w.Risk(riskID)
	if err != nil {
		return fmt.Errorf("retract vote of %q: %w", voter, err)
	}
	old, err := w.voteWeight(risk.ID, voter)
	if err != nil {
		return fmt.Errorf("retract vote of %q on risk %s: %w", voter, risk.Key, err)
	}
	if old == "" {
		return fmt.Errorf("vote of %q on risk %s: %w", voter, risk.Key, ErrNotFound)
	}
	if _, err := w.exec(`DELETE FROM votes WHERE risk_id = ? AND voter = ?`, risk.ID, voter); err != nil {
		return fmt.Errorf("retract vote of %q on risk %s: %w", voter, risk.Key, err)
	}
	_, atText := now()
	if err := w.audit(atText, "vote", risk.ID, voter, old, ""); err != nil {
		return err
	}
	return w.recountVotes(&risk, atText)
}

// voteWeight returns the weight of voter's vote on the risk as audit text,
// "" when there is none.
func (w *writer) voteWeight(riskID, voter string) (string, error) {
	var weight int
	err := w.queryRow(`SELECT weight FROM votes WHERE risk_id = ? AND voter = ?`, riskID, voter).Scan(&weight)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return itoa(weight), nil
}

// recountVotes sets the risk's votes column to the sum of its votes' weights;
// a changed total bumps the risk's version and is audited.
func (w *writer) recountVotes(risk *model.Risk, atText string) error {
	var total int
	if err := w.queryRow(`SELECT COALESCE(SUM(weight), 0) FROM votes WHERE risk_id = ?`, risk.ID).Scan(&total); err != nil {
		return fmt.Errorf("count votes on risk %s: %w", risk.Key, err)
	}
	if total == risk.Votes {
		return nil
	}
	if _, err := w.exec(`UPDATE risks SET votes = ?, version = version + 1, updated_at = ?, change_seq = `+nextChange+` WHERE id = ?`,
		total, atText, risk.ID); err != nil {
		return fmt.Errorf("store vote total of risk %s: %w", risk.Key, err)
	}
	return w.audit(atText, "risk", risk.ID, "votes", itoa(risk.Votes), itoa(total))
}
