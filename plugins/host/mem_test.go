package host

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

var memTime = time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)

// memConnector is an in-memory connector exercising every type of the
// protocol, for the in-process round trip.
type memConnector struct {
	sdk.Unimplemented
	mu   sync.Mutex
	recs []sdk.Record
}

func newMemConnector() *memConnector { return &memConnector{} }

func (c *memConnector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name: "mem", Version: "1", ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: []sdk.Capability{{Kind: sdk.KindRisk, Pull: true, Push: true}},
		ReadsVotes:   true,
		Schema:       sdk.Schema{Attributes: []sdk.Attribute{{Name: "labels", Type: sdk.TypeListString, Sensitive: true, Description: "d"}}},
		SearchLag:    2 * time.Second,
	}, nil
}

func (c *memConnector) Configure(_ context.Context, cfg sdk.Config) error {
	var v struct{ Bad bool }
	if err := cfg.Decode(&v); err != nil {
		return err
	}
	if v.Bad {
		return fmt.Errorf("configure: %w", &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "bad", Summary: "no good", Detail: "fix it"}}})
	}
	return nil
}

func (c *memConnector) Check(context.Context) error {
	return fmt.Errorf("check: %w: %w", sdk.Errorf(sdk.ClassTransient, "later"), sdk.ErrUnsupported)
}

func (c *memConnector) Push(_ context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []sdk.Result
	for _, ch := range req.Changes {
		if ch.Op != sdk.OpCreate {
			out = append(out, sdk.Result{Err: &sdk.Error{Class: sdk.ClassConflict, Message: "no " + ch.ExternalID, RetryAfter: time.Second}})
			continue
		}
		r := sdk.Record{ExternalID: strconv.Itoa(len(c.recs) + 1), Version: "1", UpdatedAt: memTime, Marker: ch.Marker, Fields: ch.Fields}
		c.recs = append(c.recs, r)
		out = append(out, sdk.Result{ExternalID: r.ExternalID, Version: r.Version, Fields: r.Fields})
	}
	return out, nil
}

func (c *memConnector) Find(_ context.Context, _ sdk.EntityKind, marker string) (*sdk.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.recs {
		if r.Marker == marker {
			return &r, nil
		}
	}
	return nil, nil
}

func (c *memConnector) Pull(_ context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	if req.Cursor != "" {
		return sdk.Errorf(sdk.ClassInvalid, "bad cursor")
	}
	c.mu.Lock()
	recs := append([]sdk.Record(nil), c.recs...)
	c.mu.Unlock()
	if err := send(sdk.Batch{Records: recs, Cursor: "c1"}); err != nil {
		return err
	}
	return send(sdk.Batch{Cursor: "c2"})
}
