package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/reconcile"
	"github.com/usmhub/usmhub/core/store"
)

// status prints what needs a person: a pause with its cause, its end and
// what resumes it, the last error, and each quarantined record with the
// command that clears it.
func TestStatusSaysWhyAndUntilWhen(t *testing.T) {
	h := newHub(t, `
hub {
  data_dir = "data"
  strategy = "erp"
}
initiative "t" { name = "T" }
priority "p" { score = likelihood * impact }
connector "file" "sheet" { dir = "sheet" }
sync "risks" {
  kind      = "risk"
  connector = "file.sheet"
}
`)
	if out := h.OK("status"); !strings.Contains(out, "risks (risk ↔ file.sheet): never synced") {
		t.Fatalf("status before any sync:\n%s", out)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(h.Dir, "data", "usmhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(40 * time.Minute).UTC().Truncate(time.Second)
	cause := "rate limited: file.sheet asked to wait until " + until.Format(time.RFC3339)
	err = st.Update(ctx, store.Actor{Name: "test"}, func(tx store.Tx) error {
		if err := tx.PutBindingState(store.BindingState{Binding: "risks", Failures: 1, LastError: "pull: 429", PausedUntil: until, PauseCause: cause}); err != nil {
			return err
		}
		return tx.QuarantineRecord(store.Quarantined{Binding: "risks", ExternalID: "42", Reason: "likelihood: must be 1..5"})
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := h.OK("status")
	for _, want := range []string{
		"risks (risk ↔ file.sheet): PAUSED until " + until.Local().Format(time.DateTime) + ": " + cause,
		"to resume:    wait (it tries again by itself then, or as soon as the connector's config or secrets change), or now: usmhub sync -force risks",
		"last error:   pull: 429",
		"quarantined 42: likelihood: must be 1..5\n    to clear: fix the record in file.sheet (the next sync takes it), or: usmhub sync -full risks",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	var js []struct {
		PauseCause  string     `json:"pause_cause"`
		PausedUntil *time.Time `json:"paused_until"`
		Quarantined []struct {
			ExternalID string `json:"external_id"`
			Clear      string `json:"clear"`
		} `json:"quarantined"`
	}
	h.JSONOf(&js, "status")
	if len(js) != 1 || js[0].PauseCause != cause || js[0].PausedUntil == nil || !js[0].PausedUntil.Equal(until) ||
		len(js[0].Quarantined) != 1 || js[0].Quarantined[0].Clear == "" {
		t.Errorf("status -json: %+v", js)
	}
}

// A held field's line says what the hub keeps and what waits (it said
// `"5" → "5"`: the base and the hub's value).
func TestPrintResultShowsAHoldsValues(t *testing.T) {
	var b strings.Builder
	printResult(&b, &reconcile.Result{RunID: "35ab9543-a1f9", Binding: "risks", Changes: []reconcile.Change{{
		Direction: "pull", Op: "hold", Key: "R-2", ExternalID: "K-R-2", Reason: "likelihood: must be 1 to 5, not 9",
		Fields: []reconcile.FieldChange{{Field: "likelihood", Base: "5", Hub: "5", Remote: "9"}},
	}}}, false)
	want := "  hub ← remote  hold       R-2 (K-R-2): likelihood: must be 1 to 5, not 9\n" +
		"      likelihood: hub keeps \"5\", remote \"9\" waits\n"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("printed:\n%s\nwant the lines:\n%s", b.String(), want)
	}
}
