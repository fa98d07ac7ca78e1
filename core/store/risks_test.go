package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usmhub/usmhub/core/model"
)

func TestCreateRiskRoundTrip(t *testing.T) {
	s := openTest(t)
	full := model.Risk{
		ID:          "6F9619FF-8B86-4011-B42D-00C04FC964FF", // stored in canonical lower case
		Key:         "IMP-7",
		Initiative:  "service-desk",
		Kind:        model.Opportunity,
		Title:       "Use one intake form for all requests",
		Description: "Requests arrive by mail, phone and three portals.\nOne form with routing.",
		Process:     model.Agree,
		Source:      "redmine#42",
		Likelihood:  5,
		Impact:      2,
		Effort:      0.5,
		Owner:       "bob",
		Status:      model.Accepted,
	}
	tests := []struct {
		name    string
		risk    model.Risk
		wantKey string
		wantID  string
	}{
		{name: "minimal gets R-1 and proposed", risk: threat("ops", "Changes are not registered"), wantKey: "R-1"},
		{name: "next key", risk: threat("ops", "Incidents are closed without a cause"), wantKey: "R-2"},
		{name: "every field, own key and id", risk: full, wantKey: "IMP-7", wantID: "6f9619ff-8b86-4011-b42d-00c04fc964ff"},
		{name: "given R-n key", risk: threat("other", "Nobody owns the CMDB"), wantKey: "R-40"},
		{name: "sequence continues after a given R-n, across initiatives", risk: threat("ops", "Releases skip the CAB"), wantKey: "R-41"},
	}
	tests[3].risk.Key = "R-40"

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.risk
			mustUpdate(t, s, func(tx Tx) error { return tx.CreateRisk(&r) })

			if r.Key != tt.wantKey {
				t.Errorf("Key = %q, want %q", r.Key, tt.wantKey)
			}
			if tt.wantID != "" && r.ID != tt.wantID {
				t.Errorf("ID = %q, want %q", r.ID, tt.wantID)
			}
			if _, ok := canonicalUUID(r.ID); !ok {
				t.Errorf("ID %q is not a UUID", r.ID)
			}
			if r.Version != 1 || r.CreatedAt.IsZero() || !r.UpdatedAt.Equal(r.CreatedAt) || r.CreatedAt.Location().String() != "UTC" {
				t.Errorf("Version %d, CreatedAt %v, UpdatedAt %v: want version 1 and equal UTC timestamps", r.Version, r.CreatedAt, r.UpdatedAt)
			}
			want := tt.risk
			want.ID, want.Key, want.Version, want.CreatedAt, want.UpdatedAt = r.ID, r.Key, 1, r.CreatedAt, r.UpdatedAt
			if want.Status == "" {
				want.Status = model.Proposed
			}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("CreateRisk changed more than id, key, status, version, timestamps (-want +got):\n%s", diff)
			}

			mustView(t, s, func(rd Reader) error {
				for _, ref := range []string{r.Key, r.ID, strings.ToUpper(r.ID)} {
					got, err := rd.Risk(ref)
					if err != nil {
						return err
					}
					if diff := cmp.Diff(r, got); diff != "" {
						t.Errorf("Risk(%q) (-stored +read):\n%s", ref, diff)
					}
				}
				got, err := rd.RiskByTitle(r.Initiative, r.Title)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(r, got); diff != "" {
					t.Errorf("RiskByTitle (-stored +read):\n%s", diff)
				}
				return nil
			})
		})
	}
}

func TestRiskNotFound(t *testing.T) {
	s := openTest(t)
	createRisks(t, s, threat("ops", "Changes are not registered"))
	tests := []struct {
		name string
		read func(Reader) error
		want string
	}{
		{"key", func(rd Reader) error { _, err := rd.Risk("R-99"); return err }, `risk "R-99"`},
		{"uuid", func(rd Reader) error {
			_, err := rd.Risk("00000000-0000-4000-8000-000000000000")
			return err
		}, `risk "00000000-0000-4000-8000-000000000000"`},
		{"title", func(rd Reader) error { _, err := rd.RiskByTitle("ops", "No such risk"); return err }, `"No such risk" in initiative "ops"`},
		{"title of another initiative", func(rd Reader) error {
			_, err := rd.RiskByTitle("other", "Changes are not registered")
			return err
		}, `initiative "other"`},
		{"votes", func(rd Reader) error { _, err := rd.Votes("R-99"); return err }, `risk "R-99"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.View(context.Background(), tt.read)
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("error %v, want ErrNotFound", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestCreateRiskRefuses(t *testing.T) {
	s := openTest(t)
	existing := createRisks(t, s, threat("ops", "Changes are not registered"))[0]

	invalid := threat("ops", " ")
	invalid.Likelihood = 0
	withVotes := threat("ops", "Votes smuggled in")
	withVotes.Votes = 3
	takenKey := threat("ops", "Second with the key")
	takenKey.Key = existing.Key
	takenID := threat("ops", "Second with the id")
	takenID.ID = existing.ID
	badID := threat("ops", "Id is not a UUID")
	badID.ID = "risk-1"
	spacedKey := threat("ops", "Key with spaces")
	spacedKey.Key = " R-5"

	tests := []struct {
		name     string
		risk     model.Risk
		conflict bool
		fields   []string // *model.FieldError fields the error must carry
		contains []string
	}{
		{name: "invalid", risk: invalid, fields: []string{"title", "likelihood"}, contains: []string{"likelihood: must be 1 to 5, not 0"}},
		{name: "votes", risk: withVotes, contains: []string{"CastVote", "Votes smuggled in"}},
		{name: "key taken", risk: takenKey, conflict: true, contains: []string{"key R-1 is already taken by \"Changes are not registered\""}},
		{name: "id taken", risk: takenID, conflict: true, contains: []string{existing.ID + " is already taken"}},
		{name: "id not a uuid", risk: badID, contains: []string{`id "risk-1" is not a UUID`}},
		{name: "key with spaces", risk: spacedKey, contains: []string{"spaces"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.risk
			err := s.Update(context.Background(), alice, func(tx Tx) error { return tx.CreateRisk(&r) })
			if err == nil {
				t.Fatal("CreateRisk succeeded")
			}
			if errors.Is(err, ErrConflict) != tt.conflict {
				t.Errorf("errors.Is(%q, ErrConflict) = %v, want %v", err, !tt.conflict, tt.conflict)
			}
			var got []string
			for _, e := range unwrapAll(err) {
				if fe, ok := e.(*model.FieldError); ok {
					got = append(got, fe.Field)
				}
			}
			if diff := cmp.Diff(tt.fields, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("field errors (-want +got):\n%s", diff)
			}
			for _, want := range tt.contains {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if diff := cmp.Diff(tt.risk, r); diff != "" {
				t.Errorf("a refused CreateRisk changed the risk (-before +after):\n%s", diff)
			}
		})
	}
	mustView(t, s, func(rd Reader) error {
		n, err := rd.CountRisks(RiskFilter{})
		if n != 1 {
			t.Errorf("%d risks stored, want only the first", n)
		}
		return err
	})
}

// unwrapAll flattens a tree of wrapped and joined errors.
func unwrapAll(err error) []error {
	out := []error{err}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
	case interface{ Unwrap() error }:
		if e := u.Unwrap(); e != nil {
			out = append(out, unwrapAll(e)...)
		}
	}
	return out
}

// ignoreAuditIDs leaves the id and time out of audit comparisons.
var ignoreAuditIDs = cmpopts.IgnoreFields(model.AuditEntry{}, "ID", "At")

func TestUpdateRiskStoresAndAuditsEachField(t *testing.T) {
	s := openTest(t)
	r := createRisks(t, s, threat("ops", "Changes are not registered"))[0]
	created := r

	run := Actor{Name: "sync:redmine", RunID: "run-7"}
	r.Title = "Changes are not registered in the CMDB"
	r.Effort = 3.5
	r.Status = model.Accepted
	r.Process = model.Change
	if err := s.Update(context.Background(), run, func(tx Tx) error { return tx.UpdateRisk(&r) }); err != nil {
		t.Fatal(err)
	}
	if r.Version != 2 || !r.CreatedAt.Equal(created.CreatedAt) || !r.UpdatedAt.After(created.UpdatedAt) {
		t.Errorf("after update: version %d, created %v, updated %v; want version 2, same creation, later update",
			r.Version, r.CreatedAt, r.UpdatedAt)
	}
	if diff := cmp.Diff(r, readRisk(t, s, r.Key)); diff != "" {
		t.Errorf("stored risk (-updated +read):\n%s", diff)
	}

	want := []model.AuditEntry{
		{Actor: "cli:alice", Entity: "risk", EntityID: r.ID, Field: "created", New: "R-1"},
		{Actor: "sync:redmine", RunID: "run-7", Entity: "risk", EntityID: r.ID, Field: "title",
			Old: "Changes are not registered", New: "Changes are not registered in the CMDB"},
		{Actor: "sync:redmine", RunID: "run-7", Entity: "risk", EntityID: r.ID, Field: "process", Old: "", New: "change"},
		{Actor: "sync:redmine", RunID: "run-7", Entity: "risk", EntityID: r.ID, Field: "effort", Old: "2", New: "3.5"},
		{Actor: "sync:redmine", RunID: "run-7", Entity: "risk", EntityID: r.ID, Field: "status", Old: "proposed", New: "accepted"},
	}
	got := auditOf(t, s, AuditFilter{EntityID: "R-1"})
	if diff := cmp.Diff(want, got, ignoreAuditIDs); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	for _, e := range got[1:] {
		if !e.At.Equal(r.UpdatedAt) {
			t.Errorf("audit entry %s at %v, want the update's time %v", e.Field, e.At, r.UpdatedAt)
		}
	}

	// Storing the same risk again changes nothing: no version, no audit.
	same := r
	mustUpdate(t, s, func(tx Tx) error { return tx.UpdateRisk(&same) })
	if diff := cmp.Diff(r, same); diff != "" {
		t.Errorf("an update without changes changed the risk (-before +after):\n%s", diff)
	}
	if n := len(auditOf(t, s, AuditFilter{EntityID: r.ID})); n != len(want) {
		t.Errorf("%d audit entries after an empty update, want %d", n, len(want))
	}
}

func TestUpdateRiskRefuses(t *testing.T) {
	s := openTest(t)
	base := createRisks(t, s, threat("ops", "Changes are not registered"))[0]
	// Move it to version 2 so that the original copy is stale.
	current := base
	current.Owner = "carol"
	mustUpdate(t, s, func(tx Tx) error { return tx.UpdateRisk(&current) })

	edit := func(f func(r *model.Risk)) model.Risk {
		r := current
		f(&r)
		return r
	}
	tests := []struct {
		name       string
		risk       model.Risk
		conflict   bool
		transition bool
		contains   []string
	}{
		{name: "stale version", risk: func() model.Risk { r := base; r.Owner = "dave"; return r }(), conflict: true,
			contains: []string{"risk R-1 changed since it was read (version 2, expected 1)"}},
		{name: "skips a status", risk: edit(func(r *model.Risk) { r.Status = model.InProgress }), transition: true,
			contains: []string{"risk R-1", "from proposed to in_progress", "accepted, rejected"}},
		{name: "unknown status", risk: edit(func(r *model.Risk) { r.Status = "done" }),
			contains: []string{`unknown status "done"`}},
		{name: "invalid field", risk: edit(func(r *model.Risk) { r.Impact = 9 }),
			contains: []string{"R-1", "impact: must be 1 to 5, not 9"}},
		{name: "votes change", risk: edit(func(r *model.Risk) { r.Votes = 4 }),
			contains: []string{"votes change only by casting or retracting votes"}},
		{name: "unknown risk", risk: edit(func(r *model.Risk) { r.ID = "00000000-0000-4000-8000-000000000000" }),
			contains: []string{`risk "00000000-0000-4000-8000-000000000000": not found`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.risk
			err := s.Update(context.Background(), alice, func(tx Tx) error { return tx.UpdateRisk(&r) })
			if err == nil {
				t.Fatal("UpdateRisk succeeded")
			}
			if errors.Is(err, ErrConflict) != tt.conflict {
				t.Errorf("errors.Is(%q, ErrConflict) != %v", err, tt.conflict)
			}
			if errors.Is(err, model.ErrTransition) != tt.transition {
				t.Errorf("errors.Is(%q, model.ErrTransition) != %v", err, tt.transition)
			}
			for _, want := range tt.contains {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}

	// Found by its key when the id is left out.
	byKey := current
	byKey.ID, byKey.Initiative = "", "other"
	mustUpdate(t, s, func(tx Tx) error { return tx.UpdateRisk(&byKey) })
	if byKey.ID != current.ID || byKey.Version != 3 {
		t.Errorf("update by key: id %q version %d, want %q version 3", byKey.ID, byKey.Version, current.ID)
	}

	r := byKey
	r.Key = "R-2"
	err := s.Update(context.Background(), alice, func(tx Tx) error { return tx.UpdateRisk(&r) })
	if err == nil || !strings.Contains(err.Error(), "the key cannot change") {
		t.Errorf("changing the key: error %v, want one saying the key cannot change", err)
	}
}

func TestRiskStatusFlow(t *testing.T) {
	s := openTest(t)
	r := createRisks(t, s, threat("ops", "Changes are not registered"))[0]
	steps := []struct {
		to      model.Status
		wantErr bool
	}{
		{model.Accepted, false},
		{model.Realized, true},
		{model.Planned, false},
		{model.InProgress, false},
		{model.Accepted, false}, // back to the pool
		{model.Planned, false},
		{model.InProgress, false},
		{model.Realized, false},
		{model.Rejected, true}, // realized is final
		{model.Proposed, true},
	}
	for _, st := range steps {
		next := r
		next.Status = st.to
		from := r.Status
		err := s.Update(context.Background(), alice, func(tx Tx) error { return tx.UpdateRisk(&next) })
		if (err != nil) != st.wantErr {
			t.Fatalf("%s → %s: error %v, want error %v", from, st.to, err, st.wantErr)
		}
		if err != nil {
			if !strings.Contains(err.Error(), string(from)) || !strings.Contains(err.Error(), string(st.to)) {
				t.Errorf("error %q does not name both %s and %s", err, from, st.to)
			}
			continue
		}
		r = next
	}
	if got := readRisk(t, s, r.Key); got.Status != model.Realized || got.Version != 8 {
		t.Errorf("stored status %s version %d, want realized version 8 (7 moves)", got.Status, got.Version)
	}
}

func TestUpdateRollsBack(t *testing.T) {
	s := openTest(t)
	boom := errors.New("boom")
	tests := []struct {
		name string
		fn   func(tx Tx) error
	}{
		{"fn error", func(tx Tx) error {
			r := threat("ops", "Rolled back")
			if err := tx.CreateRisk(&r); err != nil {
				return err
			}
			return fmt.Errorf("later: %w", boom)
		}},
		{"panic", func(tx Tx) error {
			r := threat("ops", "Rolled back")
			if err := tx.CreateRisk(&r); err != nil {
				return err
			}
			panic(boom)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			recovered := func() (p any) {
				defer func() { p = recover() }()
				err = s.Update(context.Background(), alice, tt.fn)
				return nil
			}()
			if recovered != nil && recovered != boom {
				t.Fatalf("recovered %v, want boom re-panicked", recovered)
			}
			if recovered == nil && !errors.Is(err, boom) {
				t.Fatalf("Update error %v, want fn's error", err)
			}
			mustView(t, s, func(rd Reader) error {
				n, err := rd.CountRisks(RiskFilter{})
				if n != i { // one per earlier committed transaction
					t.Errorf("%d risks stored, want %d: the transaction rolled back", n, i)
				}
				return err
			})
			// The write connection is free again.
			createRisks(t, s, threat("ops", "After "+tt.name))
		})
	}
	if n := len(auditOf(t, s, AuditFilter{})); n != 2 {
		t.Errorf("%d audit entries, want only those of the two committed risks", n)
	}
}

func TestUpdateNeedsActorAndLiveContext(t *testing.T) {
	s := openTest(t)
	noop := func(Tx) error { return nil }
	if err := s.Update(context.Background(), Actor{}, noop); err == nil || !strings.Contains(err.Error(), "actor") {
		t.Errorf("Update without actor: %v, want an error about the actor", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Update(ctx, alice, noop); !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context: %v, want context.Canceled", err)
	}
	if err := s.View(ctx, func(Reader) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("View with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestViewIsReadOnly(t *testing.T) {
	s := openTest(t)
	mustView(t, s, func(rd Reader) error {
		if _, ok := rd.(Tx); ok {
			t.Error("View's Reader is also a Tx")
		}
		return nil
	})
	if _, err := s.read.Exec(`INSERT INTO audit (at, actor, entity, entity_id, field) VALUES ('x', 'x', 'x', 'x', 'x')`); err == nil {
		t.Error("a write through the read pool succeeded")
	}
}
