package wire

// Conversion between the connector port's Go-native types (core/connector)
// and the generated protocol messages (plugins/internal/connectorpb). This
// is the only place that knows both; the gRPC server and client adapters
// call it.

import (
	"fmt"
	"github.com/usmhub/usmhub/core/connector"
	"math"
	"time"
	"unicode/utf8"

	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

var attrTypesToProto = map[connector.AttrType]pb.AttrType{
	"":                       pb.AttrType_ATTR_TYPE_UNSPECIFIED,
	connector.TypeString:     pb.AttrType_ATTR_TYPE_STRING,
	connector.TypeNumber:     pb.AttrType_ATTR_TYPE_NUMBER,
	connector.TypeBool:       pb.AttrType_ATTR_TYPE_BOOL,
	connector.TypeListString: pb.AttrType_ATTR_TYPE_LIST_STRING,
	connector.TypeMapString:  pb.AttrType_ATTR_TYPE_MAP_STRING,
}

var opsToProto = map[connector.Op]pb.Op{
	"":                 pb.Op_OP_UNSPECIFIED,
	connector.OpCreate: pb.Op_OP_CREATE,
	connector.OpUpdate: pb.Op_OP_UPDATE,
	connector.OpDelete: pb.Op_OP_DELETE,
}

var classesToProto = map[connector.ErrorClass]pb.ErrorClass{
	"":                       pb.ErrorClass_ERROR_CLASS_UNSPECIFIED,
	connector.ClassConflict:  pb.ErrorClass_ERROR_CLASS_CONFLICT,
	connector.ClassInvalid:   pb.ErrorClass_ERROR_CLASS_INVALID,
	connector.ClassTransient: pb.ErrorClass_ERROR_CLASS_TRANSIENT,
	connector.ClassPermanent: pb.ErrorClass_ERROR_CLASS_PERMANENT,
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

func descriptionToProto(d connector.Description) (*pb.DescribeResponse, error) {
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

func descriptionFromProto(in *pb.DescribeResponse) connector.Description {
	d := connector.Description{
		Name:             in.GetName(),
		Version:          in.GetVersion(),
		ProtocolVersion:  int(in.GetProtocolVersion()),
		PublishesReports: in.GetPublishesReports(),
		ReadsVotes:       in.GetReadsVotes(),
		SearchLag:        durationFromProto(in.GetSearchLag()),
	}
	for _, c := range in.GetCapabilities() {
		d.Capabilities = append(d.Capabilities, connector.Capability{
			Kind: connector.EntityKind(c.GetKind()), Pull: c.GetPull(), Push: c.GetPush(), Delete: c.GetDelete(),
		})
	}
	for _, a := range in.GetSchema().GetAttributes() {
		t, ok := attrTypesFromProto[a.GetType()]
		if !ok {
			t = connector.AttrType(fmt.Sprintf("unknown(%d)", a.GetType()))
		}
		d.Schema.Attributes = append(d.Schema.Attributes, connector.Attribute{
			Name: a.GetName(), Type: t, Required: a.GetRequired(), Sensitive: a.GetSensitive(), Description: a.GetDescription(),
		})
	}
	return d
}

// fieldNames numbers the field names of one message's records: each name
// travels once per message, in its field_names, and a record carries the
// indexes of its fields' names (see Record in connector.proto for the
// measurements that chose this over map<string, string>).
type fieldNames struct {
	index map[string]uint32
	names []string // the message's field_names
}

// of returns name's index, numbering it if it is new.
func (f *fieldNames) of(name string) uint32 {
	i, ok := f.index[name]
	if !ok {
		if f.index == nil {
			f.index = make(map[string]uint32)
		}
		i = uint32(len(f.names))
		f.index[name] = i
		f.names = append(f.names, name)
	}
	return i
}

// next starts the names of another message, returning this one's.
func (f *fieldNames) next() []string {
	names := f.names
	clear(f.index)
	f.names = nil
	return names
}

// recordToProto fills m from r, naming its fields in names. m's field
// values are put in values[:len(r.Fields)] and their name indexes in
// indexes[:len(r.Fields)]. The strings are r's own, not copies: the
// caller marshals m before r can change (see batchSender.send).
func recordToProto(m *pb.Record, r *connector.Record, names *fieldNames, indexes []uint32, values []string) error {
	at, err := timeToProto(r.UpdatedAt)
	if err != nil {
		return err
	}
	m.ExternalId, m.Version, m.UpdatedAtUnixNano, m.Marker, m.Deleted, m.Problem =
		r.ExternalID, r.Version, at, r.Marker, r.Deleted, r.Problem
	n := 0
	for k, v := range r.Fields {
		indexes[n], values[n] = names.of(k), v
		n++
	}
	m.FieldNames, m.FieldValues = indexes[:n:n], values[:n:n]
	return nil
}

// recordFromProto returns the record of m, whose field names index names
// (its message's). Its Fields map is never nil, so that records compare the
// same whether they crossed the wire or not.
func recordFromProto(m *pb.Record, names []string) (connector.Record, error) {
	indexes, values := m.GetFieldNames(), m.GetFieldValues()
	if len(indexes) != len(values) {
		return connector.Record{}, fmt.Errorf("record %q: %d field names but %d values", m.GetExternalId(), len(indexes), len(values))
	}
	fields := make(map[string]string, len(indexes))
	for i, x := range indexes {
		if uint64(x) >= uint64(len(names)) {
			return connector.Record{}, fmt.Errorf("record %q: field name %d of a message that names %d", m.GetExternalId(), x, len(names))
		}
		fields[names[x]] = values[i]
	}
	if len(fields) != len(indexes) {
		return connector.Record{}, fmt.Errorf("record %q: a field name appears twice", m.GetExternalId())
	}
	return connector.Record{
		ExternalID: m.GetExternalId(),
		Version:    m.GetVersion(),
		UpdatedAt:  timeFromProto(m.GetUpdatedAtUnixNano()),
		Marker:     m.GetMarker(),
		Fields:     fields,
		Deleted:    m.GetDeleted(),
		Problem:    m.GetProblem(),
	}, nil
}

// recordSize estimates r's encoded size (over-estimating: it counts the
// field names as if each record carried them), to cut a batch into messages
// of about chunkSize bytes without asking protobuf-go.
func recordSize(r *connector.Record) int {
	n := 28 + len(r.ExternalID) + len(r.Version) + len(r.Marker) + len(r.Problem)
	for k, v := range r.Fields {
		n += 8 + len(k) + len(v)
	}
	return n
}

// pullBuffers is what chunkRecords builds a batch's messages from. A
// batchSender keeps it for the next batch once the messages are marshalled,
// so that a pull allocates them once.
type pullBuffers struct {
	recs    []pb.Record
	ptrs    []*pb.Record
	indexes []uint32
	values  []string
	names   fieldNames
}

// chunkRecords converts a batch's records into pull messages of about
// chunkSize bytes each, the last one marked end_of_batch and carrying the
// cursor; a batch without records is one empty message. The messages are
// built in buf, and share the records' strings (see recordToProto): marshal
// them, then call buf.forget, before the records or buf change.
func chunkRecords(b connector.Batch, buf *pullBuffers) ([]*pb.PullResponse, error) {
	rs := b.Records
	nfields := 0
	for i := range rs {
		nfields += len(rs[i].Fields)
	}
	buf.recs = grow(buf.recs, len(rs))
	buf.ptrs = grow(buf.ptrs, len(rs))
	buf.indexes = grow(buf.indexes, nfields)
	buf.values = grow(buf.values, nfields)
	var msgs []*pb.PullResponse
	first, size, field := 0, 0, 0
	for i := range rs {
		r, m := &rs[i], &buf.recs[i]
		if err := recordToProto(m, r, &buf.names, buf.indexes[field:], buf.values[field:]); err != nil {
			return nil, fmt.Errorf("record %d (ID %q): %w", i, r.ExternalID, err)
		}
		field += len(r.Fields)
		buf.ptrs[i] = m
		if size += recordSize(r); size >= chunkSize && i+1 < len(rs) {
			msgs = append(msgs, &pb.PullResponse{Records: buf.ptrs[first : i+1 : i+1], FieldNames: buf.names.next()})
			first, size = i+1, 0
		}
	}
	return append(msgs, &pb.PullResponse{
		Records: buf.ptrs[first:len(rs)], EndOfBatch: true, Cursor: b.Cursor, FieldNames: buf.names.next(),
	}), nil
}

// grow returns s with length n, reusing its array when it is large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// forget drops what buf refers to of a sent batch (the connector's
// strings), so that a kept buffer keeps nothing of it alive.
func (buf *pullBuffers) forget() {
	for i := range buf.recs {
		buf.recs[i] = pb.Record{}
	}
	clear(buf.ptrs)
	clear(buf.values)
	buf.names.next()
}

// notUTF8 explains a marshalling error that protobuf-go reports for a
// string that is not valid UTF-8: which record (of rs) or field it was. It
// is only called once marshalling failed, so that the hot path checks each
// string once (protobuf-go's check).
func notUTF8(rs []connector.Record) error {
	for i := range rs {
		if err := recordUTF8(&rs[i]); err != nil {
			return fmt.Errorf("record %d (ID %q): %w", i, rs[i].ExternalID, err)
		}
	}
	return nil
}

func recordUTF8(r *connector.Record) error {
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

func pullRequestToProto(r connector.PullRequest) *pb.PullRequest {
	return &pb.PullRequest{Kind: string(r.Kind), Cursor: r.Cursor, Lookback: durationToProto(r.Lookback)}
}

func pullRequestFromProto(in *pb.PullRequest) connector.PullRequest {
	return connector.PullRequest{
		Kind:     connector.EntityKind(in.GetKind()),
		Cursor:   in.GetCursor(),
		Lookback: durationFromProto(in.GetLookback()),
	}
}

func pushRequestToProto(r connector.PushRequest) (*pb.PushRequest, error) {
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
func pushRequestFromProto(in *pb.PushRequest) connector.PushRequest {
	out := connector.PushRequest{Kind: connector.EntityKind(in.GetKind()), Changes: make([]connector.Change, len(in.GetChanges()))}
	for i, c := range in.GetChanges() {
		out.Changes[i] = connector.Change{
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

func errorToProto(e *connector.Error) *pb.Error {
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

func errorFromProto(in *pb.Error) *connector.Error {
	if in == nil {
		return nil
	}
	class, ok := classesFromProto[in.GetClass()]
	if !ok {
		class = connector.ClassPermanent
	}
	return &connector.Error{Class: class, Message: in.GetMessage(), RetryAfter: durationFromProto(in.GetRetryAfter())}
}

func resultsToProto(rs []connector.Result) (*pb.PushResponse, error) {
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
func resultsFromProto(in *pb.PushResponse) []connector.Result {
	out := make([]connector.Result, len(in.GetResults()))
	for i, r := range in.GetResults() {
		out[i] = connector.Result{
			ExternalID: r.GetExternalId(), Version: r.GetVersion(), Fields: nilIfEmpty(r.GetFields()), Err: errorFromProto(r.GetError()),
		}
	}
	return out
}

func reportToProto(r connector.Report) *pb.Report {
	out := &pb.Report{Key: r.Key, Kind: r.Kind, Title: r.Title, Markdown: r.Markdown, Html: r.HTML, Url: r.URL}
	for _, a := range r.Attachments {
		out.Attachments = append(out.Attachments, &pb.Attachment{Name: a.Name, ContentType: a.ContentType, Data: a.Data})
	}
	return out
}

func reportFromProto(in *pb.Report) connector.Report {
	out := connector.Report{Key: in.GetKey(), Kind: in.GetKind(), Title: in.GetTitle(), Markdown: in.GetMarkdown(), HTML: in.GetHtml(), URL: in.GetUrl()}
	for _, a := range in.GetAttachments() {
		out.Attachments = append(out.Attachments, connector.Attachment{Name: a.GetName(), ContentType: a.GetContentType(), Data: a.GetData()})
	}
	return out
}

func publishedToProto(p connector.Published) *pb.PublishResponse {
	return &pb.PublishResponse{Url: p.URL, ExternalId: p.ExternalID, Created: p.Created}
}

func publishedFromProto(in *pb.PublishResponse) connector.Published {
	return connector.Published{URL: in.GetUrl(), ExternalID: in.GetExternalId(), Created: in.GetCreated()}
}

func configErrorToProto(e *connector.ConfigError) *pb.ConfigError {
	out := &pb.ConfigError{}
	for _, p := range e.Problems {
		out.Problems = append(out.Problems, &pb.AttributeProblem{Attribute: p.Attribute, Summary: p.Summary, Detail: p.Detail})
	}
	return out
}

func configErrorFromProto(in *pb.ConfigError) *connector.ConfigError {
	out := &connector.ConfigError{}
	for _, p := range in.GetProblems() {
		out.Problems = append(out.Problems, connector.AttributeProblem{Attribute: p.GetAttribute(), Summary: p.GetSummary(), Detail: p.GetDetail()})
	}
	return out
}
