package app

import (
	"context"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/status"
	"github.com/usmhub/usmhub/core/store"
)

// Sprints lists the sprints of an initiative ("" for all), never nil.
func Sprints(ctx context.Context, st store.Store, initiative string) ([]model.Sprint, error) {
	sprints := []model.Sprint{}
	err := st.View(ctx, func(r store.Reader) error {
		s, err := r.Sprints(initiative)
		if s != nil {
			sprints = s
		}
		return err
	})
	return sprints, err
}

// Audit reads the audit trail's entries that match f, never nil.
func Audit(ctx context.Context, st store.Store, f store.AuditFilter) ([]model.AuditEntry, error) {
	entries := []model.AuditEntry{}
	err := st.View(ctx, func(r store.Reader) error {
		return r.Audit(f, func(a model.AuditEntry) error {
			entries = append(entries, a)
			return nil
		})
	})
	return entries, err
}

// Status reads what needs a person in each of the syncs now (status.Read)
// in one consistent read.
func Status(ctx context.Context, st store.Store, syncs []*config.Sync) ([]status.Binding, error) {
	var out []status.Binding
	err := st.View(ctx, func(r store.Reader) error {
		var err error
		out, err = status.Read(r, syncs, time.Now())
		return err
	})
	return out, err
}
