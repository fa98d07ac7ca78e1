package sdk

// Conversion between the Go-native types of this package and the generated
// protocol messages (plugins/internal/connectorpb). This is the only place
// that knows both; the gRPC server and client adapters call it.
//
// It lives in package sdk, not in an internal package of its own, because
// Serve must reach it and an internal package that imports sdk's types
// cannot be imported by sdk (an import cycle).
//
// Field maps are shared, not copied: a message only lives for one encode or
// decode, and neither side changes the map meanwhile.

import (
	"fmt"
	"time"

	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
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

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromProto(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
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

func recordToProto(r Record) *pb.Record {
	return &pb.Record{
		ExternalId: r.ExternalID,
		Version:    r.Version,
		UpdatedAt:  timeToProto(r.UpdatedAt),
		Marker:     r.Marker,
		Fields:     r.Fields,
		Deleted:    r.Deleted,
	}
}

// recordsToProto converts a batch's records with two allocations in all:
// Pull's hot path.
func recordsToProto(rs []Record) []*pb.Record {
	msgs := make([]pb.Record, len(rs))
	stamps := make([]timestamppb.Timestamp, len(rs))
	out := make([]*pb.Record, len(rs))
	for i := range rs {
		r, m := &rs[i], &msgs[i]
		m.ExternalId, m.Version, m.Marker, m.Fields, m.Deleted = r.ExternalID, r.Version, r.Marker, r.Fields, r.Deleted
		if !r.UpdatedAt.IsZero() {
			stamps[i].Seconds = r.UpdatedAt.Unix()
			stamps[i].Nanos = int32(r.UpdatedAt.Nanosecond())
			m.UpdatedAt = &stamps[i]
		}
		out[i] = m
	}
	return out
}

// recordFromProto always returns a non-nil Fields map, so records compare
// the same whether they crossed the wire or not.
func recordFromProto(in *pb.Record) Record {
	fields := in.GetFields()
	if fields == nil {
		fields = map[string]string{}
	}
	return Record{
		ExternalID: in.GetExternalId(),
		Version:    in.GetVersion(),
		UpdatedAt:  timeFromProto(in.GetUpdatedAt()),
		Marker:     in.GetMarker(),
		Fields:     fields,
		Deleted:    in.GetDeleted(),
	}
}

// recordSize estimates a record's encoded size, to cut batches into chunks.
func recordSize(r *Record) int {
	n := 32 + len(r.ExternalID) + len(r.Version) + len(r.Marker)
	for k, v := range r.Fields {
		n += 8 + len(k) + len(v)
	}
	return n
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
		out.Changes[i] = &pb.Change{
			Op: op, ExternalId: c.ExternalID, Marker: c.Marker, Version: c.Version, Fields: c.Fields,
		}
	}
	return out, nil
}

func pushRequestFromProto(in *pb.PushRequest) PushRequest {
	out := PushRequest{Kind: EntityKind(in.GetKind()), Changes: make([]Change, len(in.GetChanges()))}
	for i, c := range in.GetChanges() {
		out.Changes[i] = Change{
			Op:         opsFromProto[c.GetOp()],
			ExternalID: c.GetExternalId(),
			Marker:     c.GetMarker(),
			Version:    c.GetVersion(),
			Fields:     c.GetFields(),
		}
	}
	return out
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

func resultsToProto(rs []Result) *pb.PushResponse {
	out := &pb.PushResponse{Results: make([]*pb.Result, len(rs))}
	for i, r := range rs {
		out.Results[i] = &pb.Result{
			ExternalId: r.ExternalID, Version: r.Version, Fields: r.Fields, Error: errorToProto(r.Err),
		}
	}
	return out
}

// resultsFromProto returns nil Fields when the connector sent none (the
// protocol does not tell an empty map from a missing one).
func resultsFromProto(in *pb.PushResponse) []Result {
	out := make([]Result, len(in.GetResults()))
	for i, r := range in.GetResults() {
		out[i] = Result{
			ExternalID: r.GetExternalId(), Version: r.GetVersion(), Fields: r.GetFields(), Err: errorFromProto(r.GetError()),
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
