package testconnector

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

type Config struct {
	Project     string `json:"project"`
	Token       string `json:"token"`
	Batches     int    `json:"batches"`      // batches per Pull
	Records     int    `json:"records"`      // records per batch
	RecordBytes int    `json:"record_bytes"` // about this many bytes of fields per record
	SleepMS     int    `json:"sleep_ms"`     // pause before each batch after the first
	CrashAfter  int    `json:"crash_after"`  // exit(3) after sending this many batches (0: never)
}

type Connector struct {
	mu     sync.Mutex
	cfg    Config
	batch  []sdk.Record // the records every Pull batch sends
	byID   map[string]sdk.Record
	nextID int
}

func New() sdk.Connector {
	return &Connector{byID: map[string]sdk.Record{}}
}

func (c *Connector) Describe(context.Context) (sdk.Description, error) {
	sdk.Logger().Debug("describe")
	return sdk.Description{
		Name:             "test",
		Version:          "0.0.1",
		Capabilities:     []sdk.Capability{{Kind: sdk.KindRisk, Pull: true, Push: true, Delete: true}},
		PublishesReports: true,
		Schema: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "project", Type: sdk.TypeString, Required: true, Description: "the project"},
			{Name: "token", Type: sdk.TypeString, Sensitive: true, Description: "a secret"},
			{Name: "batches", Type: sdk.TypeNumber},
			{Name: "records", Type: sdk.TypeNumber},
			{Name: "record_bytes", Type: sdk.TypeNumber},
			{Name: "sleep_ms", Type: sdk.TypeNumber},
			{Name: "crash_after", Type: sdk.TypeNumber},
		}},
	}, nil
}

func (c *Connector) Configure(_ context.Context, raw sdk.Config) error {
	var cfg Config
	if err := raw.Decode(&cfg); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	var problems []sdk.AttributeProblem
	if cfg.Project == "" {
		problems = append(problems, sdk.AttributeProblem{Attribute: "project", Summary: "project is empty", Detail: "Set project to the name of a project."})
	}
	for name, v := range map[string]int{"batches": cfg.Batches, "records": cfg.Records, "record_bytes": cfg.RecordBytes, "sleep_ms": cfg.SleepMS, "crash_after": cfg.CrashAfter} {
		if v < 0 {
			problems = append(problems, sdk.AttributeProblem{Attribute: name, Summary: "must not be negative", Detail: fmt.Sprintf("Set %s to 0 or more.", name)})
		}
	}
	if cfg.Project == "leaky-config" { // a connector that echoes its secret
		problems = append(problems, sdk.AttributeProblem{Attribute: "token", Summary: "token " + cfg.Token + " refused", Detail: "The tool said: bad key " + cfg.Token + "."})
	}
	if len(problems) > 0 {
		return &sdk.ConfigError{Problems: problems}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg = cfg
	c.batch = makeBatch(cfg.Records, cfg.RecordBytes)
	sdk.Logger().Debug("configured", "project", cfg.Project, "batches", cfg.Batches, "records", cfg.Records)
	return nil
}

func makeBatch(n, size int) []sdk.Record {
	const fixed = 120 // what the short fields below take
	desc := strings.Repeat("x", max(size-fixed, 0))
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]sdk.Record, n)
	for i := range out {
		id := strconv.Itoa(i + 1)
		out[i] = sdk.Record{
			ExternalID: id,
			Version:    "v1",
			UpdatedAt:  now,
			Fields: map[string]string{
				sdk.FieldKey:         "R-" + id,
				sdk.FieldTitle:       "Risk number " + id,
				sdk.FieldDescription: desc,
				sdk.FieldKind:        "threat",
				sdk.FieldProcess:     "operate",
				sdk.FieldLikelihood:  "3",
				sdk.FieldImpact:      "4",
				sdk.FieldStatus:      "proposed",
			},
		}
	}
	return out
}

func (c *Connector) Check(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.Project == "" {
		return sdk.Errorf(sdk.ClassPermanent, "not configured")
	}
	return c.leak("check")
}

// leak is the error of a connector that echoes its secret, as a tool does
// in a 400 body, when the project is "leaky": it logs the secret too.
func (c *Connector) leak(call string) error {
	if c.cfg.Project != "leaky" {
		return nil
	}
	sdk.Logger().Error("the tool refused the key", "call", call, "key", c.cfg.Token, "body", "invalid key "+c.cfg.Token)
	return fmt.Errorf("%s: 400 Bad Request: %w", call, sdk.Errorf(sdk.ClassPermanent, "invalid api key %q", c.cfg.Token))
}

func (c *Connector) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	c.mu.Lock()
	cfg, batch := c.cfg, c.batch
	err := c.leak("pull")
	c.mu.Unlock()
	if err != nil {
		return err
	}
	start := 0
	if req.Cursor != "" {
		n, err := strconv.Atoi(req.Cursor)
		if err != nil || n < 0 {
			return sdk.Errorf(sdk.ClassInvalid, "invalid cursor %q", req.Cursor)
		}
		start = n
	}
	for b := start; b < cfg.Batches; b++ {
		if b > start && cfg.SleepMS > 0 {
			select {
			case <-time.After(time.Duration(cfg.SleepMS) * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := send(sdk.Batch{Records: batch, Cursor: strconv.Itoa(b + 1)}); err != nil {
			return err
		}
		if cfg.CrashAfter > 0 && b+1-start >= cfg.CrashAfter {
			sdk.Logger().Error("crashing on purpose", "after_batches", cfg.CrashAfter)
			time.Sleep(50 * time.Millisecond) // let gRPC flush what was sent
			os.Exit(3)
		}
	}
	return nil
}

func (c *Connector) Push(_ context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]sdk.Result, len(req.Changes))
	for i, ch := range req.Changes {
		if c.cfg.Project == "leaky" {
			out[i] = sdk.Result{Err: sdk.Errorf(sdk.ClassInvalid, "refused with key %s", c.cfg.Token)}
			continue
		}
		switch ch.Op {
		case sdk.OpCreate:
			c.nextID++
			rec := sdk.Record{ExternalID: strconv.Itoa(c.nextID), Version: "1", Marker: ch.Marker, Fields: ch.Fields}
			c.byID[rec.ExternalID] = rec
			out[i] = sdk.Result{ExternalID: rec.ExternalID, Version: rec.Version, Fields: rec.Fields}
		case sdk.OpUpdate, sdk.OpDelete:
			rec, ok := c.byID[ch.ExternalID]
			if !ok {
				out[i] = sdk.Result{ExternalID: ch.ExternalID, Err: sdk.Errorf(sdk.ClassPermanent, "no record %s", ch.ExternalID)}
				continue
			}
			if ch.Op == sdk.OpDelete {
				delete(c.byID, ch.ExternalID)
				out[i] = sdk.Result{ExternalID: ch.ExternalID}
				continue
			}
			for k, v := range ch.Fields {
				rec.Fields[k] = v
			}
			n, _ := strconv.Atoi(rec.Version)
			rec.Version = strconv.Itoa(n + 1)
			c.byID[rec.ExternalID] = rec
			out[i] = sdk.Result{ExternalID: rec.ExternalID, Version: rec.Version, Fields: rec.Fields}
		default:
			out[i] = sdk.Result{Err: sdk.Errorf(sdk.ClassInvalid, "unknown op %q", ch.Op)}
		}
	}
	return out, nil
}

func (c *Connector) Find(_ context.Context, _ sdk.EntityKind, marker string) (*sdk.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.leak("find"); err != nil {
		return nil, err
	}
	for _, r := range c.byID {
		if r.Marker == marker {
			return &r, nil
		}
	}
	return nil, nil
}

func (c *Connector) Publish(_ context.Context, r sdk.Report) (sdk.Published, error) {
	c.mu.Lock()
	err := c.leak("publish")
	c.mu.Unlock()
	if err != nil {
		return sdk.Published{}, err
	}
	return sdk.Published{URL: "test://reports/" + r.Key, ExternalID: r.Key, Created: true}, nil
}
