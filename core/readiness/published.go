package readiness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// publications is the namespace of the audit entity ids under which report
// publications are recorded, one id per initiative.
var publications = uuid.MustParse("5b8e3c1a-6f0d-4c2e-9a57-2d1f3e4b6c70")

// PublicationsID is the audit entity id under which the publications of an
// initiative's reports are recorded (entity "report"): `usmhub log -entity`
// takes it.
func PublicationsID(initiative string) string {
	return uuid.NewSHA1(publications, []byte(initiative)).String()
}

// Publication is one report published to one connector, as the audit
// trail holds it.
type Publication struct {
	Key       string    `json:"key"`
	Connector string    `json:"connector"`
	URL       string    `json:"url,omitempty"`
	At        time.Time `json:"at"`
}

// RecordPublication writes into the audit trail that a report of the
// initiative was published, which precondition 9 (communication) reads. A
// report published again under the same key to the same connector (the
// same ticket updated) is recorded once, when its ticket is made, so a
// report on a short schedule does not fill the audit trail.
func RecordPublication(tx store.Tx, initiative, key, connector, url string, created bool) error {
	id := PublicationsID(initiative)
	if !created {
		seen := false
		err := tx.Audit(store.AuditFilter{EntityID: id}, func(a model.AuditEntry) error {
			if a.Field == "publish:"+connector && a.Old == key {
				seen = true
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("record publication of %s: %w", key, err)
		}
		if seen {
			return nil
		}
	}
	if err := tx.RecordAudit(model.AuditEntry{Entity: "report", EntityID: id, Field: "publish:" + connector, Old: key, New: url}); err != nil {
		return fmt.Errorf("record publication of %s: %w", key, err)
	}
	return nil
}

// Publications returns the recorded publications of the initiative's
// reports, oldest first.
func Publications(rd store.Reader, initiative string) ([]Publication, error) {
	var out []Publication
	err := rd.Audit(store.AuditFilter{EntityID: PublicationsID(initiative)}, func(a model.AuditEntry) error {
		if target, ok := strings.CutPrefix(a.Field, "publish:"); ok && a.Entity == "report" {
			out = append(out, Publication{Key: a.Old, Connector: target, URL: a.New, At: a.At})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the publications of %s: %w", initiative, err)
	}
	return out, nil
}

// RecordPublished is RecordPublication in a write transaction of its own,
// as actor: what the daemon and `usmhub report -publish` call after a
// connector published a report.
func RecordPublished(ctx context.Context, st store.Store, actor store.Actor, initiative, key, connector, url string, created bool) error {
	return st.Update(ctx, actor, func(tx store.Tx) error {
		return RecordPublication(tx, initiative, key, connector, url, created)
	})
}
