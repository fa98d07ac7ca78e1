package connectortest_test

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// This file is a complete connector, proved by one call to the conformance kit over the wire
// (TestMemoryConnectorOverGRPC in kit_test.go): it keeps risks in memory, where a real one calls its tool.

// memory is the connector.
type memory struct {
	sdk.Unimplemented                   // a connector may leave calls out; this one implements them all
	mu                sync.Mutex        // guards the fields below
	seq               int               // bumped by every write: the version of the record written
	records           []sdk.Record      // one per external id, the last written last
	reports           map[string]string // report key → Markdown
}

func newMemory() sdk.Connector { return &memory{reports: map[string]string{}} }

// Check reaches the remote; a memory has none to reach.
func (m *memory) Check(context.Context) error { return nil }

func (m *memory) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "memory", Version: "0.1.0", ProtocolVersion: sdk.ProtocolVersion, PublishesReports: true,
		Capabilities: []sdk.Capability{{Kind: sdk.KindRisk, Pull: true, Push: true, Delete: true}},
		Schema: sdk.Schema{Attributes: []sdk.Attribute{{Name: "project", Type: sdk.TypeString, Required: true,
			Description: "The project that holds the risks."}}}}, nil
}

func (m *memory) Configure(_ context.Context, cfg sdk.Config) error {
	var c struct{ Project string }
	if err := cfg.Decode(&c); err != nil || c.Project == "" {
		return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "project",
			Summary: "a project is required", Detail: `Set project = "…" to the project's name.`}}}
	}
	return nil
}

// Pull sends the records written after the cursor, which is a write's seq.
func (m *memory) Pull(_ context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	after, err := strconv.Atoi("0" + req.Cursor) // "" is 0: a full pull
	if err != nil {
		return sdk.Errorf(sdk.ClassInvalid, "cursor %q is not one of ours", req.Cursor)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []sdk.Record
	for _, r := range m.records {
		if v, _ := strconv.Atoi(r.Version); v > after {
			out = append(out, r)
		}
	}
	return send(sdk.Batch{Records: out, Cursor: strconv.Itoa(max(after, m.seq))})
}

func (m *memory) Push(_ context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	results := make([]sdk.Result, len(req.Changes))
	for i, c := range req.Changes {
		results[i] = m.apply(c)
	}
	return results, nil
}

func (m *memory) apply(c sdk.Change) sdk.Result {
	i := slices.IndexFunc(m.records, func(r sdk.Record) bool { return r.ExternalID == c.ExternalID })
	var r sdk.Record // the record as it is before the change
	switch {
	case c.Op == sdk.OpCreate:
		if j := m.find(c.Marker); j >= 0 { // a retried create: answer with the first one
			return sdk.Result{ExternalID: m.records[j].ExternalID, Version: m.records[j].Version, Fields: m.records[j].Fields}
		}
		r = sdk.Record{ExternalID: "M-" + strconv.Itoa(len(m.records)+1), Marker: c.Marker, Fields: map[string]string{}}
	case i < 0 || m.records[i].Deleted && c.Op == sdk.OpUpdate:
		return sdk.Result{Err: sdk.Errorf(sdk.ClassPermanent, "no risk %s", c.ExternalID)}
	case c.Version != "" && c.Version != m.records[i].Version:
		return sdk.Result{Err: sdk.Errorf(sdk.ClassConflict, "risk %s has moved on from version %s", c.ExternalID, c.Version)}
	default:
		r = m.records[i]
	}
	fields := maps.Clone(r.Fields) // copy on write: pulled records share no map with the store
	for k, v := range c.Fields {
		fields[k] = normalise(v)
	}
	if err := validate(fields); err != nil {
		return sdk.Result{Err: err}
	}
	m.seq++
	r.Fields, r.Deleted, r.Version, r.UpdatedAt = fields, c.Op == sdk.OpDelete, strconv.Itoa(m.seq), time.Now().UTC()
	if i >= 0 {
		m.records = slices.Delete(m.records, i, i+1)
	}
	m.records = append(m.records, r)
	return sdk.Result{ExternalID: r.ExternalID, Version: r.Version, Fields: fields}
}

func validate(f map[string]string) *sdk.Error {
	if f[sdk.FieldTitle] == "" {
		return sdk.Errorf(sdk.ClassInvalid, "title is required")
	}
	for _, k := range []string{sdk.FieldLikelihood, sdk.FieldImpact} {
		if n, err := strconv.Atoi(f[k]); f[k] != "" && (err != nil || n < 1 || n > 5) {
			return sdk.Errorf(sdk.ClassInvalid, "%s must be 1 to 5, not %q", k, f[k])
		}
	}
	return nil
}

var trailingBlanks = regexp.MustCompile(`[ \t]+\n`)

// normalise gives text its canonical form: \n line ends, no trailing blanks.
func normalise(s string) string {
	return strings.Trim(trailingBlanks.ReplaceAllString(strings.ReplaceAll(s, "\r\n", "\n")+"\n", "\n"), "\n")
}

func (m *memory) find(marker string) int {
	return slices.IndexFunc(m.records, func(r sdk.Record) bool { return r.Marker == marker && !r.Deleted })
}

func (m *memory) Find(_ context.Context, _ sdk.EntityKind, marker string) (*sdk.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := m.find(marker); i >= 0 {
		return new(m.records[i]), nil // a copy: the caller may keep it
	}
	return nil, nil
}

func (m *memory) Publish(_ context.Context, r sdk.Report) (sdk.Published, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, existed := m.reports[r.Key]
	m.reports[r.Key] = "# " + r.Title + "\n\n" + r.Markdown
	return sdk.Published{URL: "memory://reports/" + r.Key, ExternalID: r.Key, Created: !existed}, nil
}

// Example is the connector's main: Serve answers the hub's handshake and serves the connector.
func Example() { sdk.Serve(newMemory) }
