package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// asset is an asset as a search returns it.
type asset struct {
	ID           rtID      `json:"id"`
	Name         string    `json:"Name"`
	Status       string    `json:"Status"`
	Description  string    `json:"Description"`
	Owner        *ref      `json:"Owner"`
	LastUpdated  string    `json:"LastUpdated"`
	CustomFields []cfValue `json:"CustomFields"`
}

// pullItems lists the catalog's assets changed since the cursor, oldest
// change first, to the end. An asset whose status is "deleted" is sent as
// deleted: the hub retires its item.
func (c *Connector) pullItems(ctx context.Context, cfg *config, api *client, req sdk.PullRequest, send func(sdk.Batch) error) error {
	if cfg.Catalog == "" {
		return sdk.Errorf(sdk.ClassPermanent, "no catalog is configured: set catalog in the rt connector block to sync configuration items")
	}
	cur, err := parseCursor(req.Cursor)
	if err != nil {
		return err
	}
	if cur.Catalog != "" && cur.Catalog != cfg.Catalog {
		cur = cursor{} // another catalog: list it all
	}
	catID := cur.CatalogID
	if catID == "" {
		if catID, err = api.catalogID(ctx, cfg.Catalog); err != nil {
			return fmt.Errorf("catalog %q: %w", cfg.Catalog, err)
		}
		cur.Catalog, cur.CatalogID = cfg.Catalog, catID
	}
	type cond struct {
		Field    string `json:"field"`
		Operator string `json:"operator,omitempty"`
		Value    string `json:"value"`
	}
	q := url.Values{"orderby": {"LastUpdated", "id"}, "order": {"ASC", "ASC"},
		"fields": {"Name,Status,Description,Owner,LastUpdated,CustomFields"}, "per_page": {strconv.Itoa(cfg.pageSize)}}
	from, _ := cur.since(req.Lookback)
	for pageNo, first := 1, true; ; first = false {
		conds := []cond{{Field: "Catalog", Value: catID}}
		if from != "" {
			conds = append(conds, cond{Field: "LastUpdated", Operator: ">=", Value: from})
		}
		query, _ := json.Marshal(conds)
		q.Set("query", string(query))
		q.Set("page", strconv.Itoa(pageNo))
		var p page[asset]
		if err := api.get(ctx, "/assets", q, &p); err != nil {
			return fmt.Errorf("list assets of catalog %q: %w", cfg.Catalog, err)
		}
		var recs []sdk.Record
		for _, a := range p.Items {
			rec := cfg.assetRecord(a)
			if cur.seen(a.LastUpdated, rec.ExternalID, rec.Version) {
				continue
			}
			recs = append(recs, rec)
			cur.advance(a.LastUpdated, rec.ExternalID, rec.Version)
		}
		if len(recs) > 0 || first {
			if err := send(sdk.Batch{Records: recs, Cursor: cur.String()}); err != nil {
				return err
			}
		}
		if p.NextPage == "" || len(p.Items) < cfg.pageSize {
			return nil
		}
		from, pageNo = nextPage(cur, from, pageNo)
	}
}

// assetRecord turns an asset into an item record.
func (cfg *config) assetRecord(a asset) sdk.Record {
	cf := cfMap(a.CustomFields)
	key := strings.TrimSpace(cf[assetKeyCF])
	if key == "" {
		key = cfg.prefix + a.ID.String()
	}
	at, _ := time.Parse(time.RFC3339, a.LastUpdated)
	f := map[string]string{
		sdk.FieldItemKey: key, sdk.FieldItemName: strings.TrimSpace(a.Name), sdk.FieldItemType: strings.TrimSpace(cf[assetTypeCF]),
		sdk.FieldItemStatus: a.Status, sdk.FieldItemOwner: userName(a.Owner), sdk.FieldItemDescription: sdk.NormaliseText(a.Description),
	}
	return sdk.Record{ExternalID: a.ID.String(), Version: recordVersion(a.LastUpdated, "", f), UpdatedAt: at, Deleted: a.Status == "deleted", Fields: f}
}
