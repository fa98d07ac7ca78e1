// Package fault is a scriptable connector for tests of the sync
// engine: a real sdk.Connector whose remote is a JSON state file in a folder
// (config attribute dir), so that what it holds survives plugin restarts and
// kills, and whose faults — transient and permanent failures, refused
// records, conflicts, slow pages, crashes mid-pull and mid-push — are set
// by config attributes and, over them, by a faults.json in the folder that
// is re-read on every call (SetFaults), so a test can change them between
// runs without relaunching the plugin.
//
// A crash point (Faults.CrashAt, crash.go) says exactly where the plugin
// process dies, or stops to let the test kill the hub: mid-pull after page
// N, as Push begins, after the remote saved a write but before the hub heard
// of it.
//
// It syncs risks: Pull lists the records changed after the cursor (a change
// sequence number; a record's version is its sequence number; deletes are
// tombstones), Push creates (idempotently by marker), updates and deletes,
// Find finds by marker. Tests change the remote as a user of the tool would
// with EditRemote, and read it, and the count of calls per RPC, with
// ReadState. cmd/usmhub-connector-fault serves it as a plugin binary.
//
// It is not a usable connector; connectors/file is the reference one.
package fault

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// Faults are what goes wrong, and how the remote behaves. Zero values are
// a well-behaved remote. A faults.json in the folder replaces the config's
// faults, key by key (SetFaults writes every key).
type Faults struct {
	// TransientEvery N: every N-th call (counted over the remote's life,
	// of the RPCs in TransientOps, all data calls when empty) fails
	// transient, with RetryAfterMS as its Retry-After.
	TransientEvery int      `json:"transient_every"`
	TransientOps   []string `json:"transient_ops"`
	RetryAfterMS   int      `json:"retry_after_ms"`
	// PermanentError, when set, fails every data call as permanent (a 401).
	PermanentError string `json:"permanent_error"`
	// Per-record failures of Push: updates and deletes of these ids are
	// refused as permanent, or as a conflict; creates and updates with one
	// of these titles as invalid.
	PermanentExternalIDs []string `json:"permanent_external_ids"`
	ConflictOnUpdateIDs  []string `json:"conflict_on_update_ids"`
	InvalidTitles        []string `json:"invalid_titles"`
	// PageSize is the records per pulled batch (default 100); SlowPageMS a
	// pause before each batch after the first.
	PageSize   int `json:"page_size"`
	SlowPageMS int `json:"slow_page_ms"`
	// CrashAfterPages K: a Pull exits the process (status 2) after sending
	// K batches, when more were to come.
	CrashAfterPages int `json:"crash_after_pages"`
	// CrashAfterPushWrites K: once Push has applied its K-th change (counted
	// over the remote's life), the change is saved and the process exits
	// before answering: the remote did it, the hub never heard.
	CrashAfterPushWrites int `json:"crash_after_push_writes"`
	// SearchLagMS: Find misses records created less than this long ago, and
	// Describe declares it as the search lag.
	SearchLagMS int `json:"search_lag_ms"`
	// CrashAt is a crash point, "op:where:n" (crash.go): the first time the
	// remote reaches it, the point is spent (State.Spent) and the plugin
	// dies as CrashHow says, so a relaunched plugin goes on past it.
	CrashAt string `json:"crash_at"`
	// CrashHow is how it dies there: "exit" (status 2, the default), "kill"
	// (SIGKILL itself) or "hold" (report the point through the FIFO
	// crash.fifo in the folder, when there is one, and block until killed:
	// the test kills the hub or the plugin).
	CrashHow string `json:"crash_how"`
}

// Config is the connector's config block.
type Config struct {
	Dir string `json:"dir"`
	Faults
}

// Connector is the fault connector. New returns one for sdk.Serve.
type Connector struct {
	mu  sync.Mutex
	cfg *Config
}

// New returns an unconfigured fault connector.
func New() sdk.Connector { return &Connector{} }

func (c *Connector) config() (*Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg == nil {
		return nil, sdk.Errorf(sdk.ClassPermanent, "the fault connector is not configured")
	}
	return c.cfg, nil
}

// faults returns the config's faults with faults.json over them.
func (c *Connector) faults(cfg *Config) (Faults, error) {
	f := cfg.Faults
	f.TransientOps = slices.Clone(f.TransientOps)
	b, err := os.ReadFile(filepath.Join(cfg.Dir, faultsFile))
	if os.IsNotExist(err) {
		return f, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err == nil {
		err = f.check()
	}
	if err != nil {
		return f, fmt.Errorf("faults.json: %w", err)
	}
	return f, nil
}

var attrs = []sdk.Attribute{
	{Name: "dir", Type: sdk.TypeString, Required: true, Description: "The folder holding the remote's state."},
	{Name: "transient_every", Type: sdk.TypeNumber},
	{Name: "transient_ops", Type: sdk.TypeListString},
	{Name: "retry_after_ms", Type: sdk.TypeNumber},
	{Name: "permanent_error", Type: sdk.TypeString},
	{Name: "permanent_external_ids", Type: sdk.TypeListString},
	{Name: "conflict_on_update_ids", Type: sdk.TypeListString},
	{Name: "invalid_titles", Type: sdk.TypeListString},
	{Name: "page_size", Type: sdk.TypeNumber},
	{Name: "slow_page_ms", Type: sdk.TypeNumber},
	{Name: "crash_after_pages", Type: sdk.TypeNumber},
	{Name: "crash_after_push_writes", Type: sdk.TypeNumber},
	{Name: "search_lag_ms", Type: sdk.TypeNumber},
	{Name: "crash_at", Type: sdk.TypeString, Description: "A crash point: pull:after_page:N, push:before_apply:N or push:after_commit:N."},
	{Name: "crash_how", Type: sdk.TypeString, Description: "exit (default), kill or hold."},
}

// Describe declares risks (pull, push, delete) and the search lag of the
// config and faults.json when configured.
func (c *Connector) Describe(context.Context) (sdk.Description, error) {
	d := sdk.Description{
		Name: "fault", Version: "0.0.1",
		Capabilities: []sdk.Capability{{Kind: sdk.KindRisk, Pull: true, Push: true, Delete: true}},
		Schema:       sdk.Schema{Attributes: attrs},
	}
	if cfg, err := c.config(); err == nil {
		if f, err := c.faults(cfg); err == nil {
			d.SearchLag = time.Duration(f.SearchLagMS) * time.Millisecond
		}
	}
	return d, nil
}

// Configure takes the config; dir must name a folder.
func (c *Connector) Configure(_ context.Context, raw sdk.Config) error {
	var cfg Config
	if err := raw.Decode(&cfg); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	if cfg.Dir == "" {
		return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "dir", Summary: "a folder is required"}}}
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "dir", Summary: fmt.Sprintf("%s is not a folder", abs)}}}
	}
	cfg.Dir = abs
	if err := cfg.Faults.check(); err != nil {
		return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "crash_at", Summary: err.Error()}}}
	}
	c.mu.Lock()
	c.cfg = &cfg
	c.mu.Unlock()
	return nil
}

// Check counts the call and succeeds.
func (c *Connector) Check(context.Context) error {
	_, _, err := c.begin("check")
	return err
}

// begin counts a call and decides whether it fails as a whole.
func (c *Connector) begin(op string) (*Config, Faults, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, Faults{}, err
	}
	f, err := c.faults(cfg)
	if err != nil {
		return nil, f, err
	}
	var fail error
	err = EditRemote(cfg.Dir, func(s *State) error {
		s.Calls[op]++
		if op == "check" || (len(f.TransientOps) > 0 && !slices.Contains(f.TransientOps, op)) {
			return nil
		}
		s.DataCalls++
		switch {
		case f.PermanentError != "":
			fail = sdk.Errorf(sdk.ClassPermanent, "%s: %s", op, f.PermanentError)
		case f.TransientEvery > 0 && s.DataCalls%f.TransientEvery == 0:
			fail = &sdk.Error{Class: sdk.ClassTransient, Message: fmt.Sprintf("%s: 503 service unavailable (call %d)", op, s.DataCalls),
				RetryAfter: time.Duration(f.RetryAfterMS) * time.Millisecond}
		}
		return nil
	})
	if err != nil {
		return nil, f, err
	}
	return cfg, f, fail
}

func toSDK(r *Record) sdk.Record {
	return sdk.Record{ExternalID: r.ID, Version: r.Version(), UpdatedAt: r.Updated, Marker: r.Marker,
		Fields: maps.Clone(r.Fields), Deleted: r.Deleted}
}

// Pull sends the records changed after the cursor (all when empty), in the
// order of their changes, tombstones included; each batch's cursor is the
// sequence number of its last record, the last batch's that of the remote.
func (c *Connector) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	cfg, f, err := c.begin("pull")
	if err != nil {
		return err
	}
	if req.Kind != sdk.KindRisk {
		return sdk.Errorf(sdk.ClassPermanent, "the fault connector pulls risks only")
	}
	var from int64
	if req.Cursor != "" {
		if from, err = strconv.ParseInt(req.Cursor, 10, 64); err != nil {
			return sdk.Errorf(sdk.ClassInvalid, "cursor %q is not a sequence number", req.Cursor)
		}
	}
	var s *State
	err = EditRemote(cfg.Dir, func(st *State) error {
		st.PullCursors = append(st.PullCursors, req.Cursor)
		s = st
		return nil
	})
	if err != nil {
		return err
	}
	var recs []sdk.Record
	for _, r := range s.Records {
		if req.Cursor == "" || r.Seq > from {
			recs = append(recs, toSDK(r))
		}
	}
	sort.Slice(recs, func(i, j int) bool { return s.Records[recs[i].ExternalID].Seq < s.Records[recs[j].ExternalID].Seq })
	size := f.PageSize
	if size <= 0 {
		size = 100
	}
	end := strconv.FormatInt(max(s.Seq, from), 10)
	for page := 0; ; page++ {
		if page > 0 && f.SlowPageMS > 0 {
			select {
			case <-time.After(time.Duration(f.SlowPageMS) * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		n := min(size, len(recs))
		b := sdk.Batch{Records: recs[:n], Cursor: end}
		if n < len(recs) {
			b.Cursor = recs[n-1].Version
		}
		if err := send(b); err != nil {
			return err
		}
		recs = recs[n:]
		if len(recs) == 0 {
			return nil
		}
		if f.CrashAfterPages > 0 && page+1 == f.CrashAfterPages {
			time.Sleep(200 * time.Millisecond) // let gRPC deliver what was sent
			os.Exit(2)
		}
		if err := c.reach(cfg, f, crashPoint{"pull", "after_page", page + 1}, nil); err != nil {
			return err
		}
	}
}

// Push applies the changes to the remote, one Result each.
func (c *Connector) Push(_ context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	cfg, f, err := c.begin("push")
	if err != nil {
		return nil, err
	}
	if req.Kind != sdk.KindRisk {
		return nil, sdk.Errorf(sdk.ClassPermanent, "the fault connector pushes risks only")
	}
	if err := c.reach(cfg, f, crashPoint{"push", "before_apply", 0}, func(s *State) int { return s.Calls["push"] }); err != nil {
		return nil, err
	}
	out := make([]sdk.Result, len(req.Changes))
	var crash bool
	err = EditRemote(cfg.Dir, func(s *State) error {
		for i, ch := range req.Changes {
			var wrote bool
			out[i], wrote = apply(s, f, ch)
			if !wrote {
				continue
			}
			s.PushWrites++
			if f.CrashAfterPushWrites > 0 && s.PushWrites == f.CrashAfterPushWrites {
				if err := save(cfg.Dir, s); err != nil {
					return err
				}
				os.Exit(2) // the remote did it; the hub never hears
			}
			if crash = spend(s, f, crashPoint{"push", "after_commit", s.PushWrites}); crash {
				// Saved with the point spent, the lock released, then
				// the process dies: the remote did it; the hub never hears.
				return nil
			}
		}
		return nil
	})
	if err == nil && crash {
		die(cfg, f)
	}
	return out, err
}

func apply(s *State, f Faults, ch sdk.Change) (sdk.Result, bool) {
	ok := func(r *Record) sdk.Result {
		return sdk.Result{ExternalID: r.ID, Version: r.Version(), Fields: maps.Clone(r.Fields)}
	}
	fail := func(class sdk.ErrorClass, format string, args ...any) sdk.Result {
		return sdk.Result{ExternalID: ch.ExternalID, Err: sdk.Errorf(class, format, args...)}
	}
	if t, has := ch.Fields["title"]; has && slices.Contains(f.InvalidTitles, t) {
		return fail(sdk.ClassInvalid, "422: title %q is refused", t), false
	}
	if ch.Op == sdk.OpCreate {
		if ch.Marker != "" {
			if found := s.ByMarker(ch.Marker); len(found) > 0 {
				return ok(found[0]), false // a retried create
			}
		}
		return ok(s.Create(ch.Marker, ch.Fields)), true
	}
	r, found := s.Records[ch.ExternalID]
	switch {
	case !found:
		return fail(sdk.ClassPermanent, "404: no record %s", ch.ExternalID), false
	case slices.Contains(f.PermanentExternalIDs, ch.ExternalID):
		return fail(sdk.ClassPermanent, "403: record %s may not be changed", ch.ExternalID), false
	case ch.Op == sdk.OpDelete:
		wrote := !r.Deleted
		_ = s.Delete(r.ID)
		return ok(r), wrote
	case ch.Op != sdk.OpUpdate:
		return fail(sdk.ClassInvalid, "unknown operation %q", ch.Op), false
	case r.Deleted:
		return fail(sdk.ClassPermanent, "410: record %s was deleted", ch.ExternalID), false
	case slices.Contains(f.ConflictOnUpdateIDs, ch.ExternalID):
		return fail(sdk.ClassConflict, "409: record %s changed", ch.ExternalID), false
	case ch.Version != "" && ch.Version != r.Version():
		return fail(sdk.ClassConflict, "409: record %s is at version %s, not %s", ch.ExternalID, r.Version(), ch.Version), false
	}
	remarked := ch.Marker != "" && ch.Marker != r.Marker
	r.Marker = cmp.Or(ch.Marker, r.Marker)
	wrote, _ := s.Update(r.ID, ch.Fields)
	if remarked && !wrote {
		s.bump(r)
	}
	return ok(r), wrote || remarked
}

// Find returns the live record carrying marker (else its tombstone), unless
// it was created less than the search lag ago.
func (c *Connector) Find(_ context.Context, kind sdk.EntityKind, marker string) (*sdk.Record, error) {
	cfg, f, err := c.begin("find")
	if err != nil {
		return nil, err
	}
	if kind != sdk.KindRisk {
		return nil, sdk.Errorf(sdk.ClassPermanent, "the fault connector finds risks only")
	}
	s, err := ReadState(cfg.Dir)
	if err != nil {
		return nil, err
	}
	lag := time.Duration(f.SearchLagMS) * time.Millisecond
	var found *sdk.Record
	for _, r := range s.Sorted() {
		if r.Marker != marker || marker == "" || time.Since(r.Created) < lag {
			continue
		}
		rec := toSDK(r)
		if !r.Deleted {
			return &rec, nil
		}
		found = &rec
	}
	return found, nil
}

// Publish is not supported.
func (c *Connector) Publish(context.Context, sdk.Report) (sdk.Published, error) {
	return sdk.Published{}, sdk.ErrUnsupported
}
