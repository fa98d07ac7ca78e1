package status

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// Status reads, from a real store on disk, everything that waits for a
// person in a binding — the pause with its cause and end, the last error,
// pending creates, quarantined records and held fields — each with the
// command that clears it; an ended pause is no longer shown.
func TestReadListsWhatNeedsAPerson(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	until := now.Add(47 * time.Minute)
	risk := model.Risk{Initiative: "t", Kind: model.Threat, Title: "Held one", Likelihood: 3, Impact: 4, Effort: 2}
	err = st.Update(ctx, store.Actor{Name: "test"}, func(tx store.Tx) error {
		if err := tx.CreateRisk(&risk); err != nil {
			return err
		}
		if err := tx.PutBindingState(store.BindingState{Binding: "risks", Failures: 1, LastError: "pull: 429 too many requests",
			PausedUntil: until, PauseCause: "rate limited: redmine.main asked to wait until " + until.Format(time.RFC3339)}); err != nil {
			return err
		}
		if err := tx.PutBindingState(store.BindingState{Binding: "old", PausedUntil: now.Add(-time.Minute), PauseCause: "2 failed runs in a row: backing off"}); err != nil {
			return err
		}
		if err := tx.PutLink(store.Link{Binding: "risks", HubID: "pending-1", ExternalID: "", State: store.LinkPending}); err != nil {
			return err
		}
		if err := tx.PutLink(store.Link{Binding: "risks", HubID: risk.ID, ExternalID: "17", State: store.LinkLinked,
			Held: map[string]store.Hold{"status": {Side: store.HoldPush, Value: "Closed", Reason: "workflow refused", Since: now}}}); err != nil {
			return err
		}
		if err := tx.QuarantineRecord(store.Quarantined{Binding: "risks", ExternalID: "42", Reason: "likelihood: must be 1..5", Fields: map[string]string{"likelihood": "9"}}); err != nil {
			return err
		}
		return tx.QuarantineRecord(store.Quarantined{Binding: "risks", ExternalID: "43",
			Reason: store.ToolSays + "risks.csv:2 and risks.csv:4 both have key R-1: give each row its own key", Fields: map[string]string{"key": "R-1"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	syncs := []*config.Sync{{Name: "risks", Kind: "risk", Connector: "redmine.main"}, {Name: "old", Kind: "risk", Connector: "file.main"}}
	var got []Binding
	if err := st.View(ctx, func(r store.Reader) error { got, err = Read(r, syncs, now); return err }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d bindings, want 2", len(got))
	}
	b := got[0]
	if b.Health != "paused" || b.PausedUntil == nil || !b.PausedUntil.Equal(until) {
		t.Errorf("health %q until %v, want paused until %s", b.Health, b.PausedUntil, until)
	}
	if !strings.HasPrefix(b.PauseCause, "rate limited: redmine.main asked to wait until ") || !strings.Contains(b.PauseClear, "usmhub sync -force risks") {
		t.Errorf("pause cause %q, clear %q", b.PauseCause, b.PauseClear)
	}
	if b.LastError != "pull: 429 too many requests" {
		t.Errorf("last error %q", b.LastError)
	}
	if b.Links[string(store.LinkPending)] != 1 || !strings.Contains(b.PendingClear, "usmhub sync risks") {
		t.Errorf("pending %d, clear %q", b.Links[string(store.LinkPending)], b.PendingClear)
	}
	if len(b.Quarantined) != 2 || b.Quarantined[0].ExternalID != "42" || b.Quarantined[0].Reason != "likelihood: must be 1..5" ||
		!strings.Contains(b.Quarantined[0].Clear, "usmhub sync -full risks") {
		t.Errorf("quarantined %+v", b.Quarantined)
	}
	// A record the tool itself refuses is not cleared by a full sync: the
	// hint says to mend it there.
	if len(b.Quarantined) == 2 && (b.Quarantined[1].ExternalID != "43" || strings.Contains(b.Quarantined[1].Clear, "-full") ||
		!strings.Contains(b.Quarantined[1].Clear, "mend the record in redmine.main")) {
		t.Errorf("a clash's hint: %+v", b.Quarantined[1])
	}
	if len(b.Held) != 1 || b.Held[0].Key != risk.Key || b.Held[0].Field != "status" || b.Held[0].Reason != "workflow refused" ||
		!strings.Contains(b.Held[0].Clear, "usmhub sync -full risks") {
		t.Errorf("held %+v", b.Held)
	}
	if old := got[1]; old.Health != "never synced" || old.PausedUntil != nil || old.PauseCause != "" {
		t.Errorf("an ended pause still shown: %+v", old)
	}
}
