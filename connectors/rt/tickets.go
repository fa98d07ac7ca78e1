package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// descriptionHeader starts the comment each description edit from the hub
// adds. A description travels so: it lives in the ticket custom field "USM
// description" (a listing carries it, so a pull costs one request a page);
// the create also sends it as the ticket's first message, so people read
// it in RT's history; every later edit from the hub sets the field and adds
// a comment "usmhub description:" with the new text, so each version stays
// in the history. People in RT edit the field (RT records that change too).
const descriptionHeader = "usmhub description:"

// ticket is a ticket as a search or a read returns it.
type ticket struct {
	ID           rtID      `json:"id"`
	Subject      string    `json:"Subject"`
	Status       string    `json:"Status"`
	Owner        *ref      `json:"Owner"`
	LastUpdated  string    `json:"LastUpdated"`
	CustomFields []cfValue `json:"CustomFields"`
}

const ticketFields = "Subject,Status,Owner,LastUpdated,CustomFields"

// cursor is where an incremental pull goes on: the LastUpdated of the
// newest record sent (exact to the second) and the records sent with that
// very stamp, by id with the version sent, which the next pull (listing from
// that second on, since the stamp has no finer resolution) does not send
// again: a quiet sync is one listing that sends nothing. A record changed
// again within that second keeps its stamp but not its version (the version
// holds a digest of the fields), so it is sent again: matching on the id
// alone lost such an edit.
type cursor struct {
	At   string            `json:"at"`
	Sent map[string]string `json:"sent,omitempty"` // id → version, of the records sent with stamp At
	// Catalog and CatalogID keep an item pull's catalog id (asset searches
	// need the id, not the name), so a quiet item sync is one listing too.
	Catalog   string `json:"catalog,omitempty"`
	CatalogID string `json:"catalog_id,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, sdk.Errorf(sdk.ClassInvalid, "cursor %q is not the RT connector's (a full pull starts over)", s)
	}
	return c, nil
}

func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// advance moves the cursor past a record sent with stamp at (RFC 3339) and
// version.
func (c *cursor) advance(at, id, version string) {
	switch {
	case at > c.At:
		c.At, c.Sent = at, map[string]string{id: version}
	case at == c.At:
		if c.Sent == nil {
			c.Sent = map[string]string{}
		}
		c.Sent[id] = version
	}
}

// seen reports whether a record was sent with this stamp and version
// already.
func (c cursor) seen(at, id, version string) bool {
	v, ok := c.Sent[id]
	return at == c.At && ok && v == version
}

// since is the stamp a search starts from: the cursor's second (so that
// records stamped in it after the last pull are found), widened by the
// lookback.
func (c cursor) since(lookback time.Duration) (string, bool) {
	if c.At == "" {
		return "", false
	}
	t, err := time.Parse(time.RFC3339, c.At)
	if err != nil {
		return "", false
	}
	return rtTime(t.Add(-lookback)), true
}

// pullRisks lists the queue's tickets changed since the cursor, oldest
// change first, page by page to the end.
func (c *Connector) pullRisks(ctx context.Context, cfg *config, api *client, req sdk.PullRequest, send func(sdk.Batch) error) error {
	if cfg.Queue == "" {
		return sdk.Errorf(sdk.ClassPermanent, "no queue is configured: set queue in the rt connector block to sync risks")
	}
	cur, err := parseCursor(req.Cursor)
	if err != nil {
		return err
	}
	base := fmt.Sprintf("Queue = '%s'", tsql(cfg.Queue))
	q := url.Values{"orderby": {"LastUpdated", "id"}, "order": {"ASC", "ASC"}, "fields": {ticketFields},
		"per_page": {strconv.Itoa(cfg.pageSize)}}
	from, _ := cur.since(req.Lookback)
	for pageNo, first := 1, true; ; first = false {
		query := base
		if from != "" {
			query += fmt.Sprintf(" AND LastUpdated >= '%s'", from)
		}
		q.Set("query", query)
		q.Set("page", strconv.Itoa(pageNo))
		var p page[ticket]
		if err := api.get(ctx, "/tickets", q, &p); err != nil {
			return fmt.Errorf("list tickets of queue %q: %w", cfg.Queue, err)
		}
		var recs []sdk.Record
		for _, t := range p.Items {
			rec, err := c.ticketRecord(ctx, api, t)
			if err != nil {
				return err
			}
			if cur.seen(t.LastUpdated, rec.ExternalID, rec.Version) {
				continue
			}
			recs = append(recs, rec)
			cur.advance(t.LastUpdated, rec.ExternalID, rec.Version)
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

// nextPage says where a listing goes on after a full page: from the
// cursor's second, page 1, when the cursor moved (keyset paging: a record
// changed while the listing runs moves behind the cursor and is listed
// again, where with page offsets it would push another, unlisted, record
// onto a page already read, and that record would be missed); else the next
// page of the same query (the page held only records of the second it
// starts from, already sent).
func nextPage(cur cursor, from string, pageNo int) (string, int) {
	if at, _ := cur.since(0); at != from {
		return at, 1
	}
	return from, pageNo + 1
}

// tsql quotes a value inside a TicketSQL string literal.
func tsql(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) }

// ticketRecord turns a ticket into a risk record.
func (c *Connector) ticketRecord(ctx context.Context, api *client, t ticket) (sdk.Record, error) {
	cf := cfMap(t.CustomFields)
	f := map[string]string{sdk.FieldTitle: strings.TrimSpace(t.Subject), sdk.FieldStatus: t.Status, sdk.FieldOwner: userName(t.Owner)}
	for canonical, name := range riskCFs {
		f[canonical] = strings.TrimSpace(cf[name])
	}
	f[sdk.FieldDescription] = sdk.NormaliseText(cf[descriptionCF])
	at, _ := time.Parse(time.RFC3339, t.LastUpdated)
	marker := strings.TrimSpace(cf[markerCF])
	return sdk.Record{ExternalID: t.ID.String(), Version: recordVersion(t.LastUpdated, marker, f), UpdatedAt: at, Marker: marker, Fields: f}, nil
}

// readTicket reads one ticket as a record.
func (c *Connector) readTicket(ctx context.Context, api *client, id string) (sdk.Record, error) {
	var t ticket
	if err := api.get(ctx, "/ticket/"+id, nil, &t); err != nil {
		return sdk.Record{}, err
	}
	return c.ticketRecord(ctx, api, t)
}

// findTicket returns the ticket of queue whose custom field cf holds value.
func findTicket(ctx context.Context, api *client, queue, cf, value string) (*ticket, error) {
	q := url.Values{"query": {fmt.Sprintf("Queue = '%s' AND 'CF.{%s}' = '%s'", tsql(queue), cf, tsql(value))},
		"fields": {ticketFields}, "orderby": {"id"}, "order": {"ASC"}}
	var p page[ticket]
	if err := api.get(ctx, "/tickets", q, &p); err != nil {
		return nil, fmt.Errorf("find the ticket with %s %q: %w", cf, value, err)
	}
	if len(p.Items) == 0 {
		return nil, nil
	}
	return &p.Items[0], nil
}

// checkRisk refuses values RT would store but the hub could not read back.
func checkRisk(f map[string]string) *sdk.Error {
	for _, k := range []string{sdk.FieldLikelihood, sdk.FieldImpact} {
		if v, ok := f[k]; ok && v != "" {
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 5 {
				return sdk.Errorf(sdk.ClassInvalid, "%s %q is not a whole number from 1 to 5", k, v)
			}
		}
	}
	if v, ok := f[sdk.FieldEffort]; ok && v != "" {
		if x, err := strconv.ParseFloat(v, 64); err != nil || x < 0 {
			return sdk.Errorf(sdk.ClassInvalid, "effort %q is not a number of 0 or more", v)
		}
	}
	if v, ok := f[sdk.FieldTitle]; ok && strings.TrimSpace(v) == "" {
		return sdk.Errorf(sdk.ClassInvalid, "the title (the ticket's Subject) is empty")
	}
	return nil
}

// ticketBody is the JSON of a create or an update: the fields given.
func ticketBody(f map[string]string) map[string]any {
	body := map[string]any{}
	cfs := map[string]string{}
	for k, v := range f {
		switch k {
		case sdk.FieldTitle:
			body["Subject"] = v
		case sdk.FieldStatus:
			body["Status"] = v
		case sdk.FieldOwner:
			if v == "" {
				v = "Nobody"
			}
			body["Owner"] = v
		default:
			if name, ok := riskCFs[k]; ok {
				cfs[name] = v
			}
		}
	}
	if len(cfs) > 0 {
		body["CustomFields"] = cfs
	}
	return body
}

// pushRisk applies one change to the queue's tickets.
func (c *Connector) pushRisk(ctx context.Context, cfg *config, api *client, ch sdk.Change) sdk.Result {
	if e := checkRisk(ch.Fields); e != nil {
		return sdk.Result{Err: e}
	}
	switch ch.Op {
	case sdk.OpCreate:
		// The hub re-sends a Push whose call failed: find the marker first.
		if t, err := findTicket(ctx, api, cfg.Queue, markerCF, ch.Marker); err != nil {
			return sdk.Result{Err: asSDK(err)}
		} else if t != nil {
			return c.result(ctx, api, t.ID.String(), nil)
		}
		body := ticketBody(ch.Fields)
		body["Queue"] = cfg.Queue
		body["Content"] = ch.Fields[sdk.FieldDescription]
		if body["Content"] == "" {
			body["Content"] = "(no description)"
		}
		body["ContentType"] = "text/plain"
		cfs, _ := body["CustomFields"].(map[string]string)
		if cfs == nil {
			cfs = map[string]string{}
		}
		cfs[markerCF] = ch.Marker
		body["CustomFields"] = cfs
		var created struct {
			ID rtID `json:"id"`
		}
		if err := api.do(ctx, "POST", "/ticket", nil, body, &created); err != nil {
			return sdk.Result{Err: asSDK(err)}
		}
		return c.result(ctx, api, created.ID.String(), ch.Fields)
	case sdk.OpUpdate:
		body := ticketBody(ch.Fields)
		if ch.Marker != "" {
			cfs, _ := body["CustomFields"].(map[string]string)
			if cfs == nil {
				cfs = map[string]string{}
			}
			cfs[markerCF] = ch.Marker
			body["CustomFields"] = cfs
		}
		var msgs []string
		if len(body) > 0 {
			if err := api.do(ctx, "PUT", "/ticket/"+ch.ExternalID, nil, body, &msgs); err != nil {
				return sdk.Result{Err: asSDK(err)}
			}
		}
		if d, ok := ch.Fields[sdk.FieldDescription]; ok {
			comment := map[string]string{"Content": descriptionHeader + "\n" + d, "ContentType": "text/plain"}
			if err := api.do(ctx, "POST", "/ticket/"+ch.ExternalID+"/comment", nil, comment, nil); err != nil {
				return sdk.Result{Err: asSDK(err)}
			}
		}
		res := c.result(ctx, api, ch.ExternalID, ch.Fields)
		// RT answers 200 to a status change its lifecycle refuses: the
		// re-read says whether it happened, RT's message says why not.
		if want, ok := ch.Fields[sdk.FieldStatus]; ok && res.Err == nil && !strings.EqualFold(res.Fields[sdk.FieldStatus], want) {
			why := strings.Join(msgs, "; ")
			if why == "" {
				why = "RT kept " + res.Fields[sdk.FieldStatus]
			}
			return sdk.Result{Err: sdk.Errorf(sdk.ClassInvalid, "RT refused the status %q for ticket %s: %s", want, ch.ExternalID, why)}
		}
		return res
	}
	return sdk.Result{Err: sdk.Errorf(sdk.ClassInvalid, "the RT connector does not %s risks", ch.Op)}
}

// result reads a ticket back after a change.
func (c *Connector) result(ctx context.Context, api *client, id string, _ map[string]string) sdk.Result {
	rec, err := c.readTicket(ctx, api, id)
	if err != nil {
		// The change happened; the read failed: the next pull settles it.
		return sdk.Result{ExternalID: id}
	}
	return sdk.Result{ExternalID: id, Version: rec.Version, Fields: rec.Fields}
}

// asSDK returns err as an *sdk.Error (permanent when unclassified).
func asSDK(err error) *sdk.Error {
	var se *sdk.Error
	if errors.As(err, &se) {
		return se
	}
	return &sdk.Error{Class: sdk.ClassPermanent, Message: err.Error()}
}
