package main

import (
	"context"
	"fmt"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// Pull sends the records of a kind changed since the cursor.
func (c *Connector) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	cfg, api, err := c.state()
	if err != nil {
		return err
	}
	switch req.Kind {
	case sdk.KindRisk:
		return c.pullRisks(ctx, cfg, api, req, send)
	case sdk.KindItem:
		return c.pullItems(ctx, cfg, api, req, send)
	}
	return sdk.Errorf(sdk.ClassPermanent, "the RT connector does not pull %ss", req.Kind)
}

// Push applies risk changes; items are RT's to change (pull only).
func (c *Connector) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	cfg, api, err := c.state()
	if err != nil {
		return nil, err
	}
	if req.Kind != sdk.KindRisk {
		return nil, sdk.Errorf(sdk.ClassPermanent, "the RT connector does not push %ss", req.Kind)
	}
	if cfg.Queue == "" {
		return nil, sdk.Errorf(sdk.ClassPermanent, "no queue is configured: set queue in the rt connector block to sync risks")
	}
	out := make([]sdk.Result, len(req.Changes))
	for i, ch := range req.Changes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < pushMargin {
			// The hub bounds a call; a change cut off halfway would leave
			// its outcome unknown. The rest are not tried: a create stays
			// pending (the hub finds it by marker, then sends it again in
			// this run), an update is sent again by the next run.
			for j := i; j < len(out); j++ {
				out[j] = sdk.Result{Err: sdk.Errorf(sdk.ClassTransient, "not sent: the call's time ran out after %d of %d changes (RT answers slowly)", i, len(out))}
			}
			return out, nil
		}
		out[i] = c.pushRisk(ctx, cfg, api, ch)
	}
	return out, nil
}

// pushMargin is the time a push leaves itself to send one more change
// (a create is three requests: find, create, read back).
const pushMargin = 10 * time.Second

// Find returns the ticket carrying the marker, or nil.
func (c *Connector) Find(ctx context.Context, kind sdk.EntityKind, marker string) (*sdk.Record, error) {
	cfg, api, err := c.state()
	if err != nil {
		return nil, err
	}
	if kind != sdk.KindRisk {
		return nil, nil // items are not created by the hub
	}
	t, err := findTicket(ctx, api, cfg.Queue, markerCF, marker)
	if err != nil || t == nil {
		return nil, err
	}
	rec, err := c.ticketRecord(ctx, api, *t)
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// Publish creates the report's ticket in the report queue, or updates the
// one with its key: the subject is kept as the title, the new text arrives
// as a comment (RT keeps every version).
func (c *Connector) Publish(ctx context.Context, r sdk.Report) (sdk.Published, error) {
	cfg, api, err := c.state()
	if err != nil {
		return sdk.Published{}, err
	}
	if cfg.ReportQueue == "" {
		return sdk.Published{}, sdk.Errorf(sdk.ClassPermanent, "no report_queue is configured: set report_queue in the rt connector block to publish reports")
	}
	link := func(id string) string { return fmt.Sprintf("%s/Ticket/Display.html?id=%s", cfg.base.String(), id) }
	t, err := findTicket(ctx, api, cfg.ReportQueue, reportKeyCF, r.Key)
	if err != nil {
		return sdk.Published{}, err
	}
	if t != nil {
		id := t.ID.String()
		if t.Subject != r.Title {
			if err := api.do(ctx, "PUT", "/ticket/"+id, nil, map[string]any{"Subject": r.Title}, nil); err != nil {
				return sdk.Published{}, err
			}
		}
		if err := api.do(ctx, "POST", "/ticket/"+id+"/comment", nil, map[string]string{"Content": r.Markdown, "ContentType": "text/plain"}, nil); err != nil {
			return sdk.Published{}, err
		}
		return sdk.Published{URL: link(id), ExternalID: id}, nil
	}
	body := map[string]any{"Queue": cfg.ReportQueue, "Subject": r.Title, "Content": r.Markdown, "ContentType": "text/plain",
		"CustomFields": map[string]string{reportKeyCF: r.Key}}
	var created struct {
		ID rtID `json:"id"`
	}
	if err := api.do(ctx, "POST", "/ticket", nil, body, &created); err != nil {
		return sdk.Published{}, err
	}
	return sdk.Published{URL: link(created.ID.String()), ExternalID: created.ID.String(), Created: true}, nil
}
