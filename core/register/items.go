package register

import (
	"context"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// Item is the one JSON shape of a configuration item (docs/JSON.md): the
// item with the keys of the risks that affect it.
type Item struct {
	model.Item
	AffectedBy []string `json:"affected_by"`
}

// ListItems reads the matching items, each with the keys of the risks
// that affect it.
func ListItems(ctx context.Context, st store.Store, f store.ItemFilter) ([]Item, error) {
	items := []Item{}
	err := st.View(ctx, func(r store.Reader) error {
		return r.Items(f, func(it model.Item) error {
			by, err := r.AffectedBy(it.Key)
			if err != nil {
				return err
			}
			if by == nil {
				by = []string{}
			}
			items = append(items, Item{Item: it, AffectedBy: by})
			return nil
		})
	})
	return items, err
}

// AffectingRisk names a risk that affects an item.
type AffectingRisk struct {
	Key    string       `json:"key"`
	Title  string       `json:"title"`
	Status model.Status `json:"status"`
}

// ItemDetail is one item with the risks that affect it and its history.
// Its JSON is `usmhub item show -json`: the item as item list prints it,
// the risks (with their titles and statuses) and the history beside it.
type ItemDetail struct {
	Item       Item               `json:"item"`
	AffectedBy []AffectingRisk    `json:"risks"`
	History    []model.AuditEntry `json:"history"`
}

// ShowItem reads one item by its key with its context, in one consistent
// read.
func ShowItem(ctx context.Context, st store.Store, key string) (ItemDetail, error) {
	out := ItemDetail{AffectedBy: []AffectingRisk{}}
	err := st.View(ctx, func(r store.Reader) error {
		var err error
		if out.Item.Item, err = r.Item(key); err != nil {
			return err
		}
		keys, err := r.AffectedBy(out.Item.Key)
		if err != nil {
			return err
		}
		out.Item.AffectedBy = []string{}
		for _, k := range keys {
			risk, err := r.Risk(k)
			if err != nil {
				return err
			}
			out.AffectedBy = append(out.AffectedBy, AffectingRisk{Key: risk.Key, Title: risk.Title, Status: risk.Status})
			out.Item.AffectedBy = append(out.Item.AffectedBy, risk.Key)
		}
		return r.Audit(store.AuditFilter{EntityID: out.Item.ID}, func(a model.AuditEntry) error {
			out.History = append(out.History, a)
			return nil
		})
	})
	return out, err
}
