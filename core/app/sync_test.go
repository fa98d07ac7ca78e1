package app

import (
	"fmt"
	"testing"

	"github.com/usmhub/usmhub/core/reconcile"
)

// -record keeps the named records' changes (key or remote id, any case,
// comma lists) and leaves the counts; no names keep everything.
func TestKeepRecords(t *testing.T) {
	results := func() []*reconcile.Result {
		return []*reconcile.Result{{Counts: reconcile.Counts{HubUpdates: 3}, Changes: []reconcile.Change{
			{Key: "R-1", ExternalID: "7"}, {Key: "R-2", ExternalID: "8"}, {ExternalID: "9"}}}}
	}
	all := results()
	KeepRecords(all, nil)
	if len(all[0].Changes) != 3 {
		t.Errorf("no names: %d changes", len(all[0].Changes))
	}
	some := results()
	KeepRecords(some, []string{"r-1, 9"})
	if got := some[0].Changes; len(got) != 2 || got[0].Key != "R-1" || got[1].ExternalID != "9" || some[0].Counts.HubUpdates != 3 {
		t.Errorf("R-1 and 9: %+v", some[0])
	}
}

// A run's errors are its failed records, plus the run when it failed for
// another reason than records left unsettled; Pending sees changes,
// waiting records and a deletion over the limit.
func TestErrorsAndPending(t *testing.T) {
	failed := &reconcile.Result{Counts: reconcile.Counts{Errors: 2}, Err: "connection refused"}
	incomplete := &reconcile.Result{Counts: reconcile.Counts{Errors: 2}, Err: fmt.Errorf("rt.main: %w", reconcile.ErrIncomplete).Error()}
	if Errors(failed) != 3 || Errors(incomplete) != 2 || Errors(&reconcile.Result{}) != 0 {
		t.Errorf("errors: failed %d, incomplete %d", Errors(failed), Errors(incomplete))
	}
	if Pending([]*reconcile.Result{{}}) {
		t.Error("nothing to do is pending")
	}
	for _, r := range []*reconcile.Result{
		{Counts: reconcile.Counts{PushUpdates: 1}},
		{Waiting: reconcile.Waiting{Held: 1}},
		{DeleteLimitExceeded: true},
	} {
		if !Pending([]*reconcile.Result{{}, r}) {
			t.Errorf("%+v is not pending", r)
		}
	}
}
