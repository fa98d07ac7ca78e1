package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/core/model"
)

func TestItemsCreateUpdateAudit(t *testing.T) {
	s := openTest(t)
	var web, db model.Item
	mustUpdate(t, s, func(tx Tx) error {
		web = model.Item{Name: "web-01", Type: "server", Source: "rt.main"}
		if err := tx.CreateItem(&web); err != nil {
			return err
		}
		db = model.Item{Key: "CI-7", Name: "db-01", Status: model.ItemInRepair}
		if err := tx.CreateItem(&db); err != nil {
			return err
		}
		next := model.Item{Name: "lb-01"}
		if err := tx.CreateItem(&next); err != nil {
			return err
		}
		if next.Key != "CI-8" {
			t.Errorf("after CI-7 the next key is %s, want CI-8", next.Key)
		}
		return nil
	})
	if web.Key != "CI-1" || web.Status != model.ItemInUse || web.Version != 1 {
		t.Fatalf("created %+v, want CI-1 in_use version 1", web)
	}
	// A taken key, a bad status and a missing name are refused, naming the problem.
	err := s.Update(context.Background(), alice, func(tx Tx) error {
		return tx.CreateItem(&model.Item{Key: "CI-7", Name: "other"})
	})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("a taken key: %v, want ErrConflict", err)
	}
	err = s.Update(context.Background(), alice, func(tx Tx) error {
		return tx.CreateItem(&model.Item{Name: " ", Status: "broken"})
	})
	if err == nil || !strings.Contains(err.Error(), "name: is required") || !strings.Contains(err.Error(), `not "broken"`) {
		t.Errorf("bad item: %v", err)
	}

	mustUpdate(t, s, func(tx Tx) error {
		web.Status, web.Owner = model.ItemRetired, "ops"
		return tx.UpdateItem(&web)
	})
	if web.Version != 2 {
		t.Errorf("version after an update: %d, want 2", web.Version)
	}
	stale := web
	stale.Version = 1
	if err := s.Update(context.Background(), alice, func(tx Tx) error { return tx.UpdateItem(&stale) }); !errors.Is(err, ErrConflict) {
		t.Errorf("stale update: %v, want ErrConflict", err)
	}
	var fields []string
	mustView(t, s, func(r Reader) error {
		n, err := r.CountItems(ItemFilter{Status: model.ItemRetired})
		if err != nil || n != 1 {
			t.Errorf("retired items: %d %v, want 1", n, err)
		}
		var keys []string
		if err := r.Items(ItemFilter{}, func(it model.Item) error { keys = append(keys, it.Key); return nil }); err != nil {
			return err
		}
		if strings.Join(keys, ",") != "CI-1,CI-7,CI-8" {
			t.Errorf("items in order: %v", keys)
		}
		return r.Audit(AuditFilter{EntityID: "CI-1"}, func(e model.AuditEntry) error {
			if e.Entity != "item" || e.Actor != "cli:alice" {
				t.Errorf("audit entry %+v", e)
			}
			fields = append(fields, e.Field+"="+e.New)
			return nil
		})
	})
	if got := strings.Join(fields, " "); got != "created=CI-1 status=retired owner=ops" {
		t.Errorf("audit of CI-1: %s", got)
	}
}

func TestRiskAffects(t *testing.T) {
	s := openTest(t)
	risks := createRisks(t, s, threat("ssc", "Disk full"), threat("ssc", "No failover"))
	mustUpdate(t, s, func(tx Tx) error {
		if err := tx.SetAffects(risks[0].Key, []string{"CI-2", "CI-1", "CI-2"}); err != nil {
			return err
		}
		return tx.SetAffects(risks[1].ID, []string{"CI-1"})
	})
	err := s.Update(context.Background(), alice, func(tx Tx) error { return tx.SetAffects(risks[0].Key, []string{"no key"}) })
	if err == nil || !strings.Contains(err.Error(), `"no key"`) {
		t.Errorf("a bad key: %v", err)
	}
	mustView(t, s, func(r Reader) error {
		got, err := r.Affects(risks[0].Key)
		if err != nil || strings.Join(got, ",") != "CI-2,CI-1" {
			t.Errorf("Affects: %v %v, want CI-2,CI-1 (order kept, each once)", got, err)
		}
		by, err := r.AffectedBy("CI-1")
		if err != nil || strings.Join(by, ",") != risks[0].Key+","+risks[1].Key {
			t.Errorf("AffectedBy CI-1: %v %v", by, err)
		}
		var audited []string
		if err := r.Audit(AuditFilter{EntityID: risks[0].Key}, func(e model.AuditEntry) error {
			if e.Field == "affects" {
				audited = append(audited, e.Old+"→"+e.New)
			}
			return nil
		}); err != nil {
			return err
		}
		if strings.Join(audited, " ") != "→CI-2,CI-1" {
			t.Errorf("affects audit: %v", audited)
		}
		return nil
	})
	// Setting the same list again writes nothing.
	mustUpdate(t, s, func(tx Tx) error { return tx.SetAffects(risks[0].Key, []string{"CI-2", "CI-1"}) })
	n := 0
	mustView(t, s, func(r Reader) error {
		return r.Audit(AuditFilter{EntityID: risks[0].Key}, func(e model.AuditEntry) error {
			if e.Field == "affects" {
				n++
			}
			return nil
		})
	})
	if n != 1 {
		t.Errorf("%d affects audit entries after setting the same list, want 1", n)
	}
}
