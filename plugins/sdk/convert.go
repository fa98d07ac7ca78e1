package sdk

// Conversion between the Go-native types of this package and the generated
// protocol messages (plugins/internal/connectorpb). This is the only place
// that knows both; the gRPC server and client adapters call it.
//
// It lives in package sdk, not in an internal package of its own, because
// Serve must reach it and an internal package that imports sdk's types
// cannot be imported by sdk (an import cycle).
//

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

var attrTypesToProto = map[AttrType]pb.AttrType{
	"":             pb.AttrType_ATTR_TYPE_UNSPECIFIED,
	TypeString:     pb.AttrType_ATTR_TYPE_STRING,
	TypeNumber:     pb.AttrType_ATTR_TYPE_NUMBER,
	TypeBool:       pb.AttrType_ATTR_TYPE_BOOL,
	TypeListString: pb.AttrType_ATTR_TYPE_LIST_STRING,
	TypeMapString:  pb.AttrType_ATTR_TYPE_MAP_STRING,
}

var opsToProto = map[Op]pb.Op{
	"":       pb.Op_OP_UNSPECIFIED,
	OpCreate: pb.Op_OP_CREATE,
	OpUpdate: pb.Op_OP_UPDATE,
	OpDelete: pb.Op_OP_DELETE,
}

var classesToProto = map[ErrorClass]pb.ErrorClass{
	"":             pb.ErrorClass_ERROR_CLASS_UNSPECIFIED,
	ClassConflict:  pb.ErrorClass_ERROR_CLASS_CONFLICT,
	ClassInvalid:   pb.ErrorClass_ERROR_CLASS_INVALID,
	ClassTransient: pb.ErrorClass_ERROR_CLASS_TRANSIENT,
	ClassPermanent: pb.ErrorClass_ERROR_CLASS_PERMANENT,
}

var (
	attrTypesFromProto = invert(attrTypesToProto)
	opsFromProto       = invert(opsToProto)
	classesFromProto   = invert(classesToProto)
)

func invert[K, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// The range of times a record's updated_at can carry: int64 nanoseconds
// since the Unix epoch.
var (
	minWireTime = time.Unix(0, math.MinInt64)
	maxWireTime = time.Unix(0, math.MaxInt64)
)

// timeToProto returns t as nanoseconds since the Unix epoch, 0 for the zero
// time (so the Unix epoch itself comes back as the zero time). A time the
// protocol cannot carry (before 1677 or after 2262) is an error.
func timeToProto(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	if t.Before(minWireTime) || t.After(maxWireTime) {
		return 0, fmt.Errorf("updated at %s: the protocol carries times from %s to %s",
			t.Format(time.RFC3339Nano), minWireTime.UTC().Format(time.RFC3339Nano), maxWireTime.UTC().Format(time.RFC3339Nano))
	}
	return t.UnixNano(), nil
}

// timeFromProto returns the time (in UTC) of n nanoseconds since the Unix
// epoch, the zero time for 0.
func timeFromProto(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func durationToProto(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func durationFromProto(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}

func descriptionToProto(d Description) (*pb.DescribeResponse, error) {
	out := &pb.DescribeResponse{
		Name:             d.Name,
		Version:          d.Version,
		ProtocolVersion:  int64(d.ProtocolVersion),
		PublishesReports: d.PublishesReports,
		ReadsVotes:       d.ReadsVotes,
		Schema:           &pb.Schema{},
		SearchLag:        durationToProto(d.SearchLag),
	}
	for _, c := range d.Capabilities {
		out.Capabilities = append(out.Capabilities, &pb.Capability{
			Kind: string(c.Kind), Pull: c.Pull, Push: c.Push, Delete: c.Delete,
		})
	}
	for _, a := range d.Schema.Attributes {
		t, ok := attrTypesToProto[a.Type]
		if !ok {
			return nil, fmt.Errorf("config attribute %q has unknown type %q (want one of string, number, bool, list(string), map(string))", a.Name, a.Type)
		}
		out.Schema.Attributes = append(out.Schema.Attributes, &pb.Attribute{
			Name: a.Name, Type: t, Required: a.Required, Sensitive: a.Sensitive, Description: a.Description,
		})
	}
	return out, nil
}

func descriptionFromProto(in *pb.DescribeResponse) Description {
	d := Description{
		Name:             in.GetName(),
		Version:          in.GetVersion(),
		ProtocolVersion:  int(in.GetProtocolVersion()),
		PublishesReports: in.GetPublishesReports(),
		ReadsVotes:       in.GetReadsVotes(),
		SearchLag:        durationFromProto(in.GetSearchLag()),
	}
	for _, c := range in.GetCapabilities() {
		d.Capabilities = append(d.Capabilities, Capability{
			Kind: EntityKind(c.GetKind()), Pull: c.GetPull(), Push: c.GetPush(), Delete: c.GetDelete(),
		})
	}
	for _, a := range in.GetSchema().GetAttributes() {
		t, ok := attrTypesFromProto[a.GetType()]
		if !ok {
			t = AttrType(fmt.Sprintf("unknown(%d)", a.GetType()))
		}
		d.Schema.Attributes = append(d.Schema.Attributes, Attribute{
			Name: a.GetName(), Type: t, Required: a.GetRequired(), Sensitive: a.GetSensitive(), Description: a.GetDescription(),
		})
	}
	return d
}

// recordToProto fills m from r. m's Fields is r's map itself, not a copy:
// the caller marshals m before r can change (see batchSender.send).
func recordToProto(m *pb.Record, r *Record) error {
	at, err := timeToProto(r.UpdatedAt)
	if err != nil {
		return err
	}
	m.ExternalId, m.Version, m.UpdatedAtUnixNano, m.Marker, m.Fields, m.Deleted =
		r.ExternalID, r.Version, at, r.Marker, r.Fields, r.Deleted
	return nil
}

// recordFromProto returns the record of m. Its Fields is m's map itself
// (protobuf-go's decoded map, which nothing else holds once m is dropped),
// and never nil, so that records compare the same whether they crossed the
// wire or not.
func recordFromProto(m *pb.Record) Record {
	fields := m.GetFields()
	if fields == nil {
		fields = map[string]string{}
	}
	return Record{
		ExternalID: m.GetExternalId(),
		Version:    m.GetVersion(),
		UpdatedAt:  timeFromProto(m.GetUpdatedAtUnixNano()),
		Marker:     m.GetMarker(),
		Fields:     fields,
		Deleted:    m.GetDeleted(),
	}
}

// recordSize estimates r's encoded size, to cut a batch into messages of
// about chunkSize bytes without asking protobuf-go (proto.Size walks the
// fields map as marshalling it does).
func recordSize(r *Record) int {
	n := 24 + len(r.ExternalID) + len(r.Version) + len(r.Marker)
	for k, v := range r.Fields {
		n += 8 + len(k) + len(v)
	}
	return n
}

// chunkRecords converts a batch's records into pull messages of about
// chunkSize bytes each, the last one marked end_of_batch and carrying the
// cursor; a batch without records is one empty message. The messages share
// r's fields maps and strings (see recordToProto). buf is reused for the
// records' messages when it is large enough: returned, for the next call.
func chunkRecords(b Batch, buf []pb.Record) (msgs []*pb.PullResponse, _ []pb.Record, _ error) {
	rs := b.Records
	if cap(buf) < len(rs) {
		buf = make([]pb.Record, len(rs))
	}
	buf = buf[:len(rs)]
	ptrs := make([]*pb.Record, len(rs))
	first, size := 0, 0
	for i := range rs {
		if err := recordToProto(&buf[i], &rs[i]); err != nil {
			return nil, buf, fmt.Errorf("record %d (ID %q): %w", i, rs[i].ExternalID, err)
		}
		ptrs[i] = &buf[i]
		if size += recordSize(&rs[i]); size >= chunkSize && i+1 < len(rs) {
			msgs = append(msgs, &pb.PullResponse{Records: ptrs[first : i+1 : i+1]})
			first, size = i+1, 0
		}
	}
	msgs = append(msgs, &pb.PullResponse{Records: ptrs[first:], EndOfBatch: true, Cursor: b.Cursor})
	return msgs, buf, nil
}

// forget drops what buf's messages refer to (the connector's maps and
// strings), so that a reused buffer keeps nothing of a sent batch alive.
func forget(buf []pb.Record) {
	for i := range buf {
		m := &buf[i]
		m.ExternalId, m.Version, m.Marker, m.Fields = "", "", "", nil
	}
}

// notUTF8 explains a marshalling error that protobuf-go reports for a
// string that is not valid UTF-8: which record (of rs) or field it was. It
// is only called once marshalling failed, so that the hot path checks each
// string once (protobuf-go's check).
func notUTF8(rs []Record) error {
	for i := range rs {
		if err := recordUTF8(&rs[i]); err != nil {
			return fmt.Errorf("record %d (ID %q): %w", i, rs[i].ExternalID, err)
		}
	}
	return nil
}

func recordUTF8(r *Record) error {
	for _, s := range [...]struct{ what, v string }{{"ID", r.ExternalID}, {"version", r.Version}, {"marker", r.Marker}} {
		if !utf8.ValidString(s.v) {
			return fmt.Errorf("%s %q is not valid UTF-8 (the protocol carries text)", s.what, s.v)
		}
	}
	return fieldsUTF8(r.Fields)
}

// fieldsUTF8 returns an error naming a field of m whose name or value is not
// valid UTF-8, nil when there is none.
func fieldsUTF8(m map[string]string) error {
	for k, v := range m {
		if !utf8.ValidString(k) {
			return fmt.Errorf("field name %q is not valid UTF-8 (the protocol carries text)", k)
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("field %q: value %q is not valid UTF-8 (the protocol carries text)", k, v)
		}
	}
	return nil
}

func pullRequestToProto(r PullRequest) *pb.PullRequest {
	return &pb.PullRequest{Kind: string(r.Kind), Cursor: r.Cursor, Lookback: durationToProto(r.Lookback)}
}

func pullRequestFromProto(in *pb.PullRequest) PullRequest {
	return PullRequest{
		Kind:     EntityKind(in.GetKind()),
		Cursor:   in.GetCursor(),
		Lookback: durationFromProto(in.GetLookback()),
	}
}

func pushRequestToProto(r PushRequest) (*pb.PushRequest, error) {
	out := &pb.PushRequest{Kind: string(r.Kind), Changes: make([]*pb.Change, len(r.Changes))}
	for i, c := range r.Changes {
		op, ok := opsToProto[c.Op]
		if !ok {
			return nil, fmt.Errorf("change %d has unknown op %q (want create, update or delete)", i, c.Op)
		}
		if err := fieldsUTF8(c.Fields); err != nil {
			return nil, fmt.Errorf("change %d (ID %q): %w", i, c.ExternalID, err)
		}
		out.Changes[i] = &pb.Change{
			Op: op, ExternalId: c.ExternalID, Marker: c.Marker, Version: c.Version, Fields: c.Fields,
		}
	}
	return out, nil
}

// pushRequestFromProto returns nil Fields for a change without fields (the
// protocol does not tell an empty map from a missing one).
func pushRequestFromProto(in *pb.PushRequest) PushRequest {
	out := PushRequest{Kind: EntityKind(in.GetKind()), Changes: make([]Change, len(in.GetChanges()))}
	for i, c := range in.GetChanges() {
		out.Changes[i] = Change{
			Op:         opsFromProto[c.GetOp()],
			ExternalID: c.GetExternalId(),
			Marker:     c.GetMarker(),
			Version:    c.GetVersion(),
			Fields:     nilIfEmpty(c.GetFields()),
		}
	}
	return out
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func errorToProto(e *Error) *pb.Error {
	if e == nil {
		return nil
	}
	class, ok := classesToProto[e.Class]
	if !ok {
		// An unknown class is treated as ClassOf treats an unclassified error.
		class = pb.ErrorClass_ERROR_CLASS_PERMANENT
	}
	return &pb.Error{Class: class, Message: e.Message, RetryAfter: durationToProto(e.RetryAfter)}
}

func errorFromProto(in *pb.Error) *Error {
	if in == nil {
		return nil
	}
	class, ok := classesFromProto[in.GetClass()]
	if !ok {
		class = ClassPermanent
	}
	return &Error{Class: class, Message: in.GetMessage(), RetryAfter: durationFromProto(in.GetRetryAfter())}
}

func resultsToProto(rs []Result) (*pb.PushResponse, error) {
	out := &pb.PushResponse{Results: make([]*pb.Result, len(rs))}
	for i, r := range rs {
		if err := fieldsUTF8(r.Fields); err != nil {
			return nil, fmt.Errorf("result %d (ID %q): %w", i, r.ExternalID, err)
		}
		out.Results[i] = &pb.Result{
			ExternalId: r.ExternalID, Version: r.Version, Fields: r.Fields, Error: errorToProto(r.Err),
		}
	}
	return out, nil
}

// resultsFromProto returns nil Fields when the connector sent none (the
// protocol does not tell an empty map from a missing one).
func resultsFromProto(in *pb.PushResponse) []Result {
	out := make([]Result, len(in.GetResults()))
	for i, r := range in.GetResults() {
		out[i] = Result{
			ExternalID: r.GetExternalId(), Version: r.GetVersion(), Fields: nilIfEmpty(r.GetFields()), Err: errorFromProto(r.GetError()),
		}
	}
	return out
}

func reportToProto(r Report) *pb.Report {
	return &pb.Report{Key: r.Key, Kind: r.Kind, Title: r.Title, Markdown: r.Markdown}
}

func reportFromProto(in *pb.Report) Report {
	return Report{Key: in.GetKey(), Kind: in.GetKind(), Title: in.GetTitle(), Markdown: in.GetMarkdown()}
}

func publishedToProto(p Published) *pb.PublishResponse {
	return &pb.PublishResponse{Url: p.URL, ExternalId: p.ExternalID, Created: p.Created}
}

func publishedFromProto(in *pb.PublishResponse) Published {
	return Published{URL: in.GetUrl(), ExternalID: in.GetExternalId(), Created: in.GetCreated()}
}

func configErrorToProto(e *ConfigError) *pb.ConfigError {
	out := &pb.ConfigError{}
	for _, p := range e.Problems {
		out.Problems = append(out.Problems, &pb.AttributeProblem{Attribute: p.Attribute, Summary: p.Summary, Detail: p.Detail})
	}
	return out
}

func configErrorFromProto(in *pb.ConfigError) *ConfigError {
	out := &ConfigError{}
	for _, p := range in.GetProblems() {
		out.Problems = append(out.Problems, AttributeProblem{Attribute: p.GetAttribute(), Summary: p.GetSummary(), Detail: p.GetDetail()})
	}
	return out
}
