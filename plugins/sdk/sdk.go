// Package sdk is what a usmhub connector author imports: the Connector
// interface to implement and the Go-native values it handles (the hub core's
// port, core/connector, under this package's names), Serve to run it as an
// out-of-process plugin, Logger, and an HTTP client that keeps the retry
// rules below. The wire (go-plugin, gRPC, the generated protobuf code and
// the conversions) stays in plugins/internal; neither connectors nor the
// hub's core see it. Serve stamps the protocol version into Describe's
// answer: a connector need not set Description.ProtocolVersion.
//
// # Lifecycle
//
// The host launches the connector binary and calls, in this order:
//
//  1. Describe — static facts: name, version, capabilities, config schema.
//     It must not touch the network and may be called at any time.
//  2. Configure — once per launch, with the decoded config block. It checks
//     the values (returning *ConfigError naming attributes) but does not
//     reach the remote.
//  3. Check — reaches the remote with the config (credentials, project).
//  4. Pull, Push, Find, Publish — any number of times, possibly concurrently.
//
// The host may kill and relaunch a connector at any moment; it then calls
// Configure again. Pull and Find are always safe to retry. Push and Publish
// may be retried after a crash, so a connector must make them idempotent:
// creates carry the hub's Marker (find it before creating again), updates
// carry whole field values, and Publish is keyed by Report.Key.
//
// # What may be retried
//
// Nothing lost, nothing doubled: a create is retried only through the
// marker lookup (Find), never blindly.
//
//   - Reads (Pull, Find; HTTP GET), updates that carry whole field values
//     (HTTP PUT) and deletes may be retried, by the connector or the hub,
//     after a transient failure.
//   - A create (a Push change with OpCreate, or any request the tool does
//     not promise to apply once, such as an HTTP POST) must not be sent
//     again by the connector, nor by any HTTP layer under it, once it may
//     have reached the tool. When it fails in a way that leaves open
//     whether the tool stored it (a 429 or 5xx answer, a dropped
//     connection, an answer cut off), the connector returns a transient
//     error for that change. The hub keeps the create pending and resolves
//     it on its next run with Find(marker): it links the record Find
//     returns, and creates again only when Find finds nothing (after
//     Description.SearchLag). A connector also looks the markers of a
//     Push's creates up before creating, since the hub re-sends a Push
//     whose whole call failed transiently.
//   - Errors carry their class: transient (with RetryAfter when the tool
//     asked for a wait), conflict, invalid or permanent. An answer cut off
//     is transient, never a refusal.
//
// HTTPClient (NewHTTPClient) applies these rules for connectors that speak
// HTTP, and never forwards credentials to another host on a redirect; use
// it rather than a bare http.Client. The conformance kit
// (plugins/connectortest) checks them, with a proxy that fails requests
// after the tool committed them.
package sdk

import (
	"context"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/plugins/internal/wire"
)

// ProtocolVersion is the connector protocol version this SDK speaks. The
// host refuses a plugin that speaks another one; Serve stamps it into
// Describe's answer.
const ProtocolVersion = wire.ProtocolVersion

// The types of the connector port (core/connector), under the names
// connector authors use. Each is documented there.
type (
	EntityKind       = connector.EntityKind
	Capability       = connector.Capability
	AttrType         = connector.AttrType
	Attribute        = connector.Attribute
	Schema           = connector.Schema
	Description      = connector.Description
	Config           = connector.Config
	ConfigError      = connector.ConfigError
	AttributeProblem = connector.AttributeProblem
	Record           = connector.Record
	PullRequest      = connector.PullRequest
	Batch            = connector.Batch
	Op               = connector.Op
	Change           = connector.Change
	PushRequest      = connector.PushRequest
	ErrorClass       = connector.ErrorClass
	Error            = connector.Error
	Result           = connector.Result
	Report           = connector.Report
	Attachment       = connector.Attachment
	Published        = connector.Published
	Connector        = connector.Connector
)

// The constants of the connector port (core/connector): entity kinds,
// attribute types, change operations, error classes and canonical field
// names. Each is documented there.
const (
	KindRisk               = connector.KindRisk
	KindSprint             = connector.KindSprint
	KindVote               = connector.KindVote
	KindScan               = connector.KindScan
	KindItem               = connector.KindItem
	TypeString             = connector.TypeString
	TypeNumber             = connector.TypeNumber
	TypeBool               = connector.TypeBool
	TypeListString         = connector.TypeListString
	TypeMapString          = connector.TypeMapString
	OpCreate               = connector.OpCreate
	OpUpdate               = connector.OpUpdate
	OpDelete               = connector.OpDelete
	ClassConflict          = connector.ClassConflict
	ClassInvalid           = connector.ClassInvalid
	ClassTransient         = connector.ClassTransient
	ClassPermanent         = connector.ClassPermanent
	FieldKey               = connector.FieldKey
	FieldTitle             = connector.FieldTitle
	FieldDescription       = connector.FieldDescription
	FieldKind              = connector.FieldKind
	FieldProcess           = connector.FieldProcess
	FieldSource            = connector.FieldSource
	FieldLikelihood        = connector.FieldLikelihood
	FieldImpact            = connector.FieldImpact
	FieldEffort            = connector.FieldEffort
	FieldOwner             = connector.FieldOwner
	FieldStatus            = connector.FieldStatus
	FieldVoteRisk          = connector.FieldVoteRisk
	FieldVoteVoter         = connector.FieldVoteVoter
	FieldVoteWeight        = connector.FieldVoteWeight
	FieldScanKind          = connector.FieldScanKind
	FieldScanMethod        = connector.FieldScanMethod
	FieldScanMethodVersion = connector.FieldScanMethodVersion
	FieldScanDate          = connector.FieldScanDate
	FieldScanDimension     = connector.FieldScanDimension
	FieldScanScore         = connector.FieldScanScore
	FieldScanRespondents   = connector.FieldScanRespondents
	FieldScanNote          = connector.FieldScanNote
	FieldSprintNumber      = connector.FieldSprintNumber
	FieldSprintGoal        = connector.FieldSprintGoal
	FieldSprintStart       = connector.FieldSprintStart
	FieldSprintEnd         = connector.FieldSprintEnd
	FieldSprintCapacity    = connector.FieldSprintCapacity
	FieldSprintStatus      = connector.FieldSprintStatus
	FieldSprintItems       = connector.FieldSprintItems
	FieldItemKey           = connector.FieldItemKey
	FieldItemName          = connector.FieldItemName
	FieldItemType          = connector.FieldItemType
	FieldItemStatus        = connector.FieldItemStatus
	FieldItemOwner         = connector.FieldItemOwner
	FieldItemDescription   = connector.FieldItemDescription
)

// ErrUnsupported is what a connector returns for a call it does not support.
// For Check it means "cannot check": the hub never reports that as healthy.
var ErrUnsupported = connector.ErrUnsupported

// NewConfig wraps a JSON object holding config values.
func NewConfig(raw []byte) Config { return connector.NewConfig(raw) }

// ConfigFromMap builds a Config from Go values (tests and the kit use it).
func ConfigFromMap(m map[string]any) (Config, error) { return connector.ConfigFromMap(m) }

// Errorf builds a classified error.
func Errorf(class ErrorClass, format string, args ...any) *Error {
	return connector.Errorf(class, format, args...)
}

// ClassOf returns the class of err: that of a wrapped *Error, or permanent.
func ClassOf(err error) ErrorClass { return connector.ClassOf(err) }

// Marker returns the hub marker for a hub id: plain enough for any search.
func Marker(hubID string) string { return connector.Marker(hubID) }

// MarkerID returns the hub id inside a marker, or "" when s is none.
func MarkerID(s string) string { return connector.MarkerID(s) }

// NormaliseText gives text the canonical form of a Record's field values,
// the one the hub gives its own: \n line ends, no blanks at the end of a
// line, no blank lines before or after the text; indentation stays.
// Normalising twice changes nothing. A connector normalises what it pulls
// with it, so that a value pushed and pulled back is the value pushed.
func NormaliseText(s string) string { return model.NormaliseText(s) }

// Unimplemented answers every optional call with ErrUnsupported.
type Unimplemented struct{}

// Check is not supported: the hub reports the connector as "not checked",
// never as healthy.
func (Unimplemented) Check(context.Context) error { return ErrUnsupported }

// Pull is not supported.
func (Unimplemented) Pull(context.Context, PullRequest, func(Batch) error) error {
	return ErrUnsupported
}

// Push is not supported.
func (Unimplemented) Push(context.Context, PushRequest) ([]Result, error) {
	return nil, ErrUnsupported
}

// Find is not supported.
func (Unimplemented) Find(context.Context, EntityKind, string) (*Record, error) {
	return nil, ErrUnsupported
}

// Publish is not supported.
func (Unimplemented) Publish(context.Context, Report) (Published, error) {
	return Published{}, ErrUnsupported
}
