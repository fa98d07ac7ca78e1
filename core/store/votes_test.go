package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
)

func TestVotes(t *testing.T) {
	s := openTest(t)
	risks := createRisks(t, s, threat("ops", "Changes are not registered"), threat("ops", "Backups are never restored"),
		threat("hr", "Onboarding takes weeks"))
	r1, r2, r3 := risks[0], risks[1], risks[2]
	castAt := time.Date(2025, 3, 4, 10, 0, 0, 0, time.FixedZone("CET", 3600))

	type step struct {
		name       string
		retract    bool
		risk       string // ref
		voter      string
		weight     int
		wantTotal  int // of r1 afterwards
		wantErr    error
		errMessage string
	}
	steps := []step{
		{name: "first vote", risk: r1.Key, voter: "erik", weight: 1, wantTotal: 1},
		{name: "second voter, by uuid", risk: r1.ID, voter: "fatima", weight: 2, wantTotal: 3},
		{name: "re-vote replaces the weight", risk: r1.Key, voter: "erik", weight: 3, wantTotal: 5},
		{name: "same vote again changes nothing", risk: r1.Key, voter: "erik", weight: 3, wantTotal: 5},
		{name: "vote on another risk", risk: r2.Key, voter: "erik", weight: 1, wantTotal: 5},
		{name: "retract", retract: true, risk: r1.Key, voter: "fatima", wantTotal: 3},
		{name: "retract again", retract: true, risk: r1.Key, voter: "fatima", wantTotal: 3,
			wantErr: ErrNotFound, errMessage: `vote of "fatima" on risk R-1`},
		{name: "weight below 1", risk: r1.Key, voter: "gus", weight: 0, wantTotal: 3,
			errMessage: "weight: must be 1 or more, not 0"},
		{name: "no voter", risk: r1.Key, voter: " ", weight: 1, wantTotal: 3, errMessage: "voter: is required"},
		{name: "unknown risk", risk: "R-77", voter: "gus", weight: 1, wantTotal: 3,
			wantErr: ErrNotFound, errMessage: `risk "R-77"`},
		{name: "other initiative", risk: r3.Key, voter: "hanna", weight: 2, wantTotal: 3},
		{name: "last vote of its voter", risk: r1.Key, voter: "ivo", weight: 1, wantTotal: 4},
	}
	version := int64(1)
	total := 0
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := s.Update(context.Background(), alice, func(tx Tx) error {
				if st.retract {
					return tx.RetractVote(st.risk, st.voter)
				}
				return tx.CastVote(model.Vote{RiskID: st.risk, Voter: st.voter, Weight: st.weight, CastAt: castAt})
			})
			switch {
			case st.errMessage == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case st.errMessage != "" && err == nil:
				t.Fatalf("succeeded, want an error containing %q", st.errMessage)
			case err != nil:
				if st.wantErr != nil && !errors.Is(err, st.wantErr) {
					t.Errorf("error %q does not wrap %v", err, st.wantErr)
				}
				if !strings.Contains(err.Error(), st.errMessage) {
					t.Errorf("error %q does not contain %q", err, st.errMessage)
				}
			}
			got := readRisk(t, s, r1.Key)
			if got.Votes != st.wantTotal {
				t.Errorf("R-1 has %d votes, want %d", got.Votes, st.wantTotal)
			}
			if got.Votes != total {
				version++ // a changed total bumps the version
				total = got.Votes
			}
			if got.Version != version {
				t.Errorf("R-1 has version %d, want %d", got.Version, version)
			}
		})
	}

	mustView(t, s, func(rd Reader) error {
		votes, err := rd.Votes(r1.Key)
		if err != nil {
			return err
		}
		want := []model.Vote{
			{RiskID: r1.ID, Voter: "erik", Weight: 3, CastAt: castAt},
			{RiskID: r1.ID, Voter: "ivo", Weight: 1, CastAt: castAt},
		}
		if diff := cmp.Diff(want, votes); diff != "" {
			t.Errorf("Votes(R-1) (-want +got):\n%s", diff)
		}
		if votes, err := rd.Votes(r2.ID); err != nil || len(votes) != 1 || votes[0].Voter != "erik" {
			t.Errorf("Votes(R-2) = %+v, %v; want erik's vote", votes, err)
		}
		for _, tt := range []struct {
			initiative string
			want       []string
		}{
			{"ops", []string{"erik", "ivo"}},
			{"hr", []string{"hanna"}},
			{"", []string{"erik", "hanna", "ivo"}},
			{"nobody", nil},
		} {
			got, err := rd.Voters(tt.initiative)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Voters(%q) (-want +got):\n%s", tt.initiative, diff)
			}
		}
		return nil
	})

	var voteAudit []model.AuditEntry
	for _, e := range auditOf(t, s, AuditFilter{EntityID: r1.ID}) {
		if e.Field != "created" {
			voteAudit = append(voteAudit, e)
		}
	}
	vote := func(voter, old, new string) model.AuditEntry {
		return model.AuditEntry{Actor: alice.Name, Entity: "vote", EntityID: r1.ID, Field: voter, Old: old, New: new}
	}
	votesTotal := func(old, new string) model.AuditEntry {
		return model.AuditEntry{Actor: alice.Name, Entity: "risk", EntityID: r1.ID, Field: "votes", Old: old, New: new}
	}
	want := []model.AuditEntry{
		vote("erik", "", "1"), votesTotal("0", "1"),
		vote("fatima", "", "2"), votesTotal("1", "3"),
		vote("erik", "1", "3"), votesTotal("3", "5"),
		vote("fatima", "2", ""), votesTotal("5", "3"),
		vote("ivo", "", "1"), votesTotal("3", "4"),
	}
	if diff := cmp.Diff(want, voteAudit, ignoreAuditIDs); diff != "" {
		t.Errorf("audit of R-1's votes (-want +got):\n%s", diff)
	}
}

// A stale copy of a risk cannot be stored after a vote changed it.
func TestVoteBumpsVersion(t *testing.T) {
	s := openTest(t)
	r := createRisks(t, s, threat("ops", "Changes are not registered"))[0]
	mustUpdate(t, s, func(tx Tx) error { return tx.CastVote(model.Vote{RiskID: r.ID, Voter: "erik", Weight: 1}) })
	r.Owner = "carol"
	err := s.Update(context.Background(), alice, func(tx Tx) error { return tx.UpdateRisk(&r) })
	if !errors.Is(err, ErrConflict) {
		t.Errorf("UpdateRisk of a copy read before a vote: %v, want ErrConflict", err)
	}
}
