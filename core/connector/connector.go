// Package connector is the port through which the hub's core talks to a
// tool: the Connector interface the reconciler and the report publisher
// call, and the Go-native values that cross it (records, changes, results,
// reports, classified errors, descriptions and config schemas). Core owns
// it; the plugin host adapts an out-of-process plugin to it, and the SDK
// (plugins/sdk) hands these same types to connector authors under its own
// names. Nothing here knows about go-plugin, gRPC or protobuf.
//
// The rules a connector keeps (the lifecycle, what may be retried, how
// errors are classified) are documented on plugins/sdk, where connector
// authors read them.
package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// EntityKind is a kind of canonical entity a connector syncs.
type EntityKind string

// The entity kinds of the canonical model.
const (
	KindRisk   EntityKind = "risk"
	KindSprint EntityKind = "sprint"
	KindVote   EntityKind = "vote"
	KindScan   EntityKind = "scan"
	// KindItem is a configuration item of the managed infrastructure
	// register (the BIR): an asset, a server, an application.
	KindItem EntityKind = "item"
)

// Capability says what a connector can do with one entity kind.
type Capability struct {
	Kind   EntityKind
	Pull   bool
	Push   bool
	Delete bool
}

// AttrType is the type of a config attribute.
type AttrType string

// Attribute types a connector's config schema may use.
const (
	TypeString     AttrType = "string"
	TypeNumber     AttrType = "number"
	TypeBool       AttrType = "bool"
	TypeListString AttrType = "list(string)"
	TypeMapString  AttrType = "map(string)"
)

// Attribute is one attribute of a connector's HCL config block.
type Attribute struct {
	Name        string
	Type        AttrType
	Required    bool
	Sensitive   bool // never logged, shown in errors or output
	Description string
}

// Schema is the shape of a connector's config block.
type Schema struct {
	Attributes []Attribute
}

// Description is what Describe returns.
type Description struct {
	Name             string
	Version          string
	ProtocolVersion  int
	Capabilities     []Capability
	PublishesReports bool
	ReadsVotes       bool
	Schema           Schema
	// SearchLag is how long after a create Find may still miss the record
	// (search indexes that update late). The hub does not create again
	// before it has passed.
	SearchLag time.Duration
}

// Capability returns the capability for kind (zero when not supported).
func (d Description) Capability(kind EntityKind) Capability {
	for _, c := range d.Capabilities {
		if c.Kind == kind {
			return c
		}
	}
	return Capability{Kind: kind}
}

// Config is a connector's decoded config block, as JSON-compatible values.
type Config struct {
	raw json.RawMessage
}

// NewConfig wraps a JSON object holding config values.
func NewConfig(raw []byte) Config { return Config{raw: json.RawMessage(raw)} }

// ConfigFromMap builds a Config from Go values (tests and the kit use it).
func ConfigFromMap(m map[string]any) (Config, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return Config{}, fmt.Errorf("encode config: %w", err)
	}
	return Config{raw: b}, nil
}

// Decode unmarshals the config into v (a pointer to a struct with json tags).
func (c Config) Decode(v any) error {
	if len(c.raw) == 0 {
		return json.Unmarshal([]byte("{}"), v)
	}
	return json.Unmarshal(c.raw, v)
}

// JSON returns the raw JSON object.
func (c Config) JSON() []byte { return c.raw }

// ConfigError reports bad config values, each on the attribute it concerns,
// so the host can point at the attribute's FILE:LINE,COL.
type ConfigError struct {
	Problems []AttributeProblem
}

// AttributeProblem is one bad attribute.
type AttributeProblem struct {
	Attribute string
	Summary   string
	Detail    string // how to fix it
}

func (e *ConfigError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid config"
	}
	p := e.Problems[0]
	msg := fmt.Sprintf("%s: %s", p.Attribute, p.Summary)
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	if n := len(e.Problems) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// Record is one remote record in canonical form. Fields hold canonical values
// as strings, normalised so that pushing a value and pulling it back gives the
// same string (line endings \n, no trailing space, times UTC RFC 3339).
// Its strings are UTF-8 text: out of process, a record with a string that
// is not fails the send (or Find) with the record and field named.
type Record struct {
	ExternalID string
	Version    string // the remote's version of the record, opaque
	UpdatedAt  time.Time
	Marker     string // the hub marker the record carries, "" when none
	Fields     map[string]string
	Deleted    bool
	// Problem, when not empty, says why the record cannot be taken as it
	// stands (two rows of a file claim its id or its key): the hub
	// quarantines it with this reason, whatever its version, and takes none
	// of its fields (they only describe it); once the record comes without
	// a problem it is taken as usual.
	Problem string
}

// PullRequest asks for the records of a kind changed since Cursor (all when
// empty). The cursor is opaque to the hub.
type PullRequest struct {
	Kind   EntityKind
	Cursor string
	// Lookback widens an incremental pull backwards, to catch records whose
	// timestamps landed late. Zero lets the connector choose.
	Lookback time.Duration
}

// Batch is one page of pulled records and the cursor that is valid once the
// hub has stored this page and every page before it.
type Batch struct {
	Records []Record
	Cursor  string
}

// Op is what a change does.
type Op string

// Change operations.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Change is one change to push.
type Change struct {
	Op         Op
	ExternalID string            // update and delete
	Marker     string            // create (and update): the hub marker to write
	Version    string            // the remote version the hub last saw, for optimistic concurrency; may be empty
	Fields     map[string]string // create: all fields; update: the changed ones
}

// PushRequest is a batch of changes of one kind.
type PushRequest struct {
	Kind    EntityKind
	Changes []Change
}

// ErrorClass classifies a failed change or call.
type ErrorClass string

// Error classes. Transient errors may be retried (after RetryAfter at least);
// the others may not.
const (
	ClassConflict  ErrorClass = "conflict"  // the remote changed since Version
	ClassInvalid   ErrorClass = "invalid"   // the remote refused the values
	ClassTransient ErrorClass = "transient" // try again later
	ClassPermanent ErrorClass = "permanent" // will not work (gone, forbidden)
)

// Error is a classified error.
type Error struct {
	Class      ErrorClass
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return string(e.Class) + ": " + e.Message }

// Errorf builds a classified error.
func Errorf(class ErrorClass, format string, args ...any) *Error {
	return &Error{Class: class, Message: fmt.Sprintf(format, args...)}
}

// ClassOf returns the class of err: that of a wrapped *Error, or permanent.
func ClassOf(err error) ErrorClass {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassPermanent
}

// Result is the outcome of one change, in the order of the request.
// On success Err is nil and ExternalID and Version describe the record now.
type Result struct {
	ExternalID string
	Version    string
	Fields     map[string]string // the record's canonical fields after the change, when known
	Err        *Error
}

// Report is a rendered report to publish.
type Report struct {
	Key      string // stable per report and period: publishing again updates
	Kind     string // sprint, scan, register, readiness
	Title    string
	Markdown string
	// HTML is the same report as one self-contained HTML document (inline
	// CSS and SVG charts, the same numbers); empty when the hub sends none.
	// A connector that keeps files may write it beside the Markdown.
	HTML string
	// Attachments are the report's charts as files (e.g.
	// "register-threats.svg"), names unique within the report. A connector
	// whose tool takes attachments uploads them, replacing those of the
	// same name published before; others ignore them.
	Attachments []Attachment
	// URL is the report's page on the hub's dashboard (hub.public_url +
	// "/reports/" + Kind); empty when no public URL is configured. A
	// connector whose tool cannot take attachments may link to it.
	URL string
}

// Attachment is one file published with a report.
type Attachment struct {
	Name        string // file name, unique within the report
	ContentType string // e.g. "image/svg+xml"
	Data        []byte
}

// Published says where a report now lives.
type Published struct {
	URL        string
	ExternalID string
	Created    bool // false when an existing ticket was updated
}

// Connector is what a connector implements. See the package doc for the
// lifecycle (package plugins/sdk documents it for connector authors).
type Connector interface {
	Describe(ctx context.Context) (Description, error)
	Configure(ctx context.Context, cfg Config) error
	Check(ctx context.Context) error
	// Pull sends batches of changed records through send, in order, and
	// returns when done. It must stop when send returns an error. Out of
	// process, send returns once the batch is encoded (the SDK sends it
	// while the connector builds the next one), so a failure to deliver a
	// batch shows on the next send, or as Pull's own error; send must not
	// be called after Pull returned. The hub takes a batch only once all
	// of it arrived.
	Pull(ctx context.Context, req PullRequest, send func(Batch) error) error
	// Push applies the changes; one Result per change. A bad change never
	// fails the others: its Result carries the error. The returned error is
	// for failures of the whole call.
	Push(ctx context.Context, req PushRequest) ([]Result, error)
	// Find returns the record of kind carrying the marker, or nil.
	Find(ctx context.Context, kind EntityKind, marker string) (*Record, error)
	// Publish creates or updates (by Key) the report's ticket.
	Publish(ctx context.Context, r Report) (Published, error)
}

// ErrUnsupported is what a connector returns for a call it does not
// support (the SDK's Unimplemented returns it). For Check it means the
// connector cannot check its remote: the hub reports "not checked", never
// healthy.
var ErrUnsupported = errors.New("not supported by this connector")

// Marker returns the hub marker for a hub id: plain enough for any search.
func Marker(hubID string) string { return "usmhub-" + hubID }

// MarkerID returns the hub id inside a marker, or "" when s is none.
func MarkerID(s string) string {
	const p = "usmhub-"
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return ""
}

// Canonical field names of a risk record. Values are strings: likelihood and
// impact as integers 1–5, effort as a decimal ("2", "0.5"), kind, process and
// status in the hub's spelling (connectors map their own through map_status).
const (
	FieldKey         = "key"
	FieldTitle       = "title"
	FieldDescription = "description"
	FieldKind        = "kind"
	FieldProcess     = "process"
	FieldSource      = "source"
	FieldLikelihood  = "likelihood"
	FieldImpact      = "impact"
	FieldEffort      = "effort"
	FieldOwner       = "owner"
	FieldStatus      = "status"
)

// Canonical field names of a vote record: the risk voted on (its key, R-12,
// or its hub marker), the voter and the weight (an integer ≥ 1).
const (
	FieldVoteRisk   = "risk"
	FieldVoteVoter  = "voter"
	FieldVoteWeight = "weight"
)

// Canonical field names of a scan record: one row per scan and dimension.
const (
	FieldScanKind          = "kind" // baseline or progress
	FieldScanMethod        = "method"
	FieldScanMethodVersion = "method_version"
	FieldScanDate          = "date"
	FieldScanDimension     = "dimension"
	FieldScanScore         = "score"
	FieldScanRespondents   = "respondents"
	FieldScanNote          = "note"
)

// Canonical field names of a configuration item record (KindItem): key
// (the register's human key, "" to let the hub assign CI-n), name, type (the
// item's class), status (the hub's spelling in_use, in_repair, planned,
// retired, or the tool's through map_status), owner and description.
const (
	FieldItemKey         = "key"
	FieldItemName        = "name"
	FieldItemType        = "type"
	FieldItemStatus      = "status"
	FieldItemOwner       = "owner"
	FieldItemDescription = "description"
)

// Canonical field names of a sprint record (items: risk keys, comma-separated).
const (
	FieldSprintNumber   = "number"
	FieldSprintGoal     = "goal"
	FieldSprintStart    = "start"
	FieldSprintEnd      = "end"
	FieldSprintCapacity = "capacity"
	FieldSprintStatus   = "status"
	FieldSprintItems    = "items"
)
