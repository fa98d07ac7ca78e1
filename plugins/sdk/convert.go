package sdk

// Conversion between the Go-native types of this package and the generated
// protocol messages (plugins/internal/connectorpb). This is the only place
// that knows both; the gRPC server and client adapters call it.
//
// It lives in package sdk, not in an internal package of its own, because
// Serve must reach it and an internal package that imports sdk's types
// cannot be imported by sdk (an import cycle).
//
// Records and field maps are encoded by hand (see below and
// connector.proto), the rest as protobuf messages.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unsafe"

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

// Records and field maps travel in the encoding that connector.proto
// describes; the functions below are its encoder and decoder.
//
// The encoder writes a batch's records into a few large buffers (chunks).
// The decoder reads a chunk as a string that shares the chunk's bytes (see
// bytesString) and makes each record's version, marker, field names and
// values substrings of it: decoding a record allocates its Fields map and
// its ID, nothing else, and copies no bytes but the ID's. The price is that
// a retained version, marker or field value keeps its whole chunk (up to
// about chunkSize bytes) in memory; IDs, which the hub keeps in maps across
// a pull, are copies of their own.

// bytesString returns a string sharing b's bytes, which nothing may change
// afterwards. The decoder takes its input from bytes fields of messages
// that protobuf-go has just unmarshalled: those are copies of the received
// data (gRPC recycles its receive buffers, so protobuf-go must not alias
// them, and does not), owned by the message, which the adapters drop once
// decoded. Copying them into strings instead made Pull a tenth slower.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// encodeChunks encodes a batch's records into chunks (records, in the
// encoding) of about chunkSize bytes each; a batch without records is one
// empty chunk.
func encodeChunks(rs []Record) ([][]byte, error) {
	var (
		chunks [][]byte
		buf    []byte
		count  int
	)
	for i := range rs {
		if buf == nil {
			buf, count = make([]byte, 4, 1024), 0 // 4: the count
		}
		var err error
		if buf, err = appendRecord(buf, &rs[i]); err != nil {
			return nil, fmt.Errorf("record %d (ID %q): %w", i, rs[i].ExternalID, err)
		}
		count++
		if count == 1 && i+1 < len(rs) {
			// Room for the rest at the first record's size, to spare the
			// copies of growing from 1 KiB.
			buf = slices.Grow(buf, min(len(buf)*(len(rs)-i-1)*9/8, chunkSize))
		}
		if len(buf) >= chunkSize || i+1 == len(rs) {
			binary.LittleEndian.PutUint32(buf, uint32(count))
			chunks, buf = append(chunks, buf), nil
		}
	}
	if len(chunks) == 0 {
		chunks = append(chunks, make([]byte, 4))
	}
	return chunks, nil
}

// encodeRecord returns r in the encoding (one record).
func encodeRecord(r *Record) ([]byte, error) {
	return appendRecord(nil, r)
}

func appendRecord(buf []byte, r *Record) ([]byte, error) {
	at, err := timeToProto(r.UpdatedAt)
	if err != nil {
		return buf, err
	}
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0) // the length, once known
	buf = binary.AppendVarint(buf, at)
	var flags byte
	if r.Deleted {
		flags |= flagDeleted
	}
	buf = append(buf, flags)
	buf = appendString(buf, r.ExternalID)
	buf = appendString(buf, r.Version)
	buf = appendString(buf, r.Marker)
	buf = appendFields(buf, r.Fields)
	n := len(buf) - start - 4
	if n > math.MaxUint32 {
		return buf[:start], fmt.Errorf("record of %d bytes, longer than the protocol's limit", n)
	}
	binary.LittleEndian.PutUint32(buf[start:], uint32(n))
	return buf, nil
}

const flagDeleted = 1

func appendString(buf []byte, s string) []byte {
	if len(s) < 0x80 {
		buf = append(buf, byte(len(s))) // the uvarint of a short string's length
	} else {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
	}
	return append(buf, s...)
}

func appendFields(buf []byte, m map[string]string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(m)))
	for k, v := range m {
		buf = appendString(appendString(buf, k), v)
	}
	return buf
}

// encodeFields encodes m (fields, in the encoding), nil for no fields.
func encodeFields(m map[string]string) []byte {
	if len(m) == 0 {
		return nil
	}
	return appendFields(nil, m)
}

// decodeFields decodes fields; nil for none.
func decodeFields(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	d := decoder{s: bytesString(b)}
	m := d.fields()
	d.end()
	if d.err != nil {
		return nil, fmt.Errorf("fields: %w", d.err)
	}
	return m, nil
}

// appendRecords decodes a chunk (records, in the encoding) and appends
// its records to dst.
func appendRecords(dst []Record, b []byte) ([]Record, error) {
	d := decoder{s: bytesString(b)}
	count := d.fixed32()
	switch {
	case d.err != nil:
		return dst, errors.New("records: truncated count")
	case uint64(count) > uint64(len(d.s)-d.off)/minRecordSize:
		return dst, fmt.Errorf("records: count %d, but only %d bytes follow", count, len(d.s)-d.off)
	}
	dst = slices.Grow(dst, int(count))
	for i := range int(count) {
		r, err := d.record()
		if err != nil {
			return dst, fmt.Errorf("record %d: %w", i, err)
		}
		dst = append(dst, r)
	}
	if n := len(d.s) - d.off; n != 0 {
		return dst, fmt.Errorf("records: %d bytes after the last of %d records", n, count)
	}
	return dst, nil
}

// minRecordSize is the encoded size of an empty record.
const minRecordSize = 4 + 1 + 1 + 3 + 1

// decodeRecord decodes one record (record, in the encoding), which must
// be all of b.
func decodeRecord(b []byte) (Record, error) {
	d := decoder{s: bytesString(b)}
	r, err := d.record()
	if err == nil && d.off != len(d.s) {
		err = fmt.Errorf("%d bytes after the record", len(d.s)-d.off)
	}
	return r, err
}

// decoder reads the encoding from s. Its strings are substrings of s. The
// first error sticks: then every read returns a zero value.
type decoder struct {
	s   string
	off int
	err error
}

// record reads a record. Its Fields map is never nil, so that records
// compare the same whether they crossed the wire or not.
func (d *decoder) record() (Record, error) {
	n := d.fixed32()
	if d.err != nil {
		return Record{}, errors.New("truncated length")
	}
	if uint64(n) > uint64(len(d.s)-d.off) {
		return Record{}, fmt.Errorf("length %d past the end (%d bytes left)", n, len(d.s)-d.off)
	}
	end := d.off + int(n)
	body := decoder{s: d.s[:end], off: d.off} // reads stop at the record's end
	d.off = end
	at := body.varint()
	flags := body.byte()
	if flags&^flagDeleted != 0 {
		body.fail("unknown flags %#x", flags)
	}
	r := Record{UpdatedAt: timeFromProto(at), Deleted: flags&flagDeleted != 0}
	r.ExternalID = strings.Clone(body.string())
	r.Version = body.string()
	r.Marker = body.string()
	r.Fields = body.fields()
	body.end()
	if body.err != nil {
		return Record{}, body.err
	}
	if r.Fields == nil {
		r.Fields = map[string]string{}
	}
	return r, nil
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) fixed32() uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.s)-d.off < 4 {
		d.fail("truncated")
		return 0
	}
	s := d.s[d.off : d.off+4]
	d.off += 4
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.s) {
		d.fail("truncated")
		return 0
	}
	d.off++
	return d.s[d.off-1]
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	for shift := 0; d.err == nil; shift += 7 {
		c := d.byte()
		if shift == 63 && c > 1 {
			d.fail("varint overflows 64 bits")
			break
		}
		if c < 0x80 {
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
	}
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) string() string {
	if d.err == nil && d.off < len(d.s) {
		if n := int(d.s[d.off]); n < 0x80 && n < len(d.s)-d.off { // a short string, all there
			d.off += 1 + n
			return d.s[d.off-n : d.off]
		}
	}
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)-d.off) {
		d.fail("string of %d bytes, but only %d bytes follow", n, len(d.s)-d.off)
		return ""
	}
	d.off += int(n)
	return d.s[d.off-int(n) : d.off]
}

// fields reads fields; nil when there are none.
func (d *decoder) fields() map[string]string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.s)-d.off)/2 { // a field takes 2 bytes at least
		d.fail("%d fields, but only %d bytes follow", n, len(d.s)-d.off)
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		name := d.string()
		m[name] = d.string()
	}
	if d.err == nil && uint64(len(m)) != n {
		d.fail("a field name appears twice")
	}
	return m
}

// end fails unless all of s was read.
func (d *decoder) end() {
	if d.err == nil && d.off != len(d.s) {
		d.fail("%d bytes after the end", len(d.s)-d.off)
	}
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
			Op: op, ExternalId: c.ExternalID, Marker: c.Marker, Version: c.Version, Fields: encodeFields(c.Fields),
		}
	}
	return out, nil
}

func pushRequestFromProto(in *pb.PushRequest) (PushRequest, error) {
	out := PushRequest{Kind: EntityKind(in.GetKind()), Changes: make([]Change, len(in.GetChanges()))}
	for i, c := range in.GetChanges() {
		fields, err := decodeFields(c.GetFields())
		if err != nil {
			return PushRequest{}, fmt.Errorf("change %d: %w", i, err)
		}
		out.Changes[i] = Change{
			Op:         opsFromProto[c.GetOp()],
			ExternalID: c.GetExternalId(),
			Marker:     c.GetMarker(),
			Version:    c.GetVersion(),
			Fields:     fields,
		}
	}
	return out, nil
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
			ExternalId: r.ExternalID, Version: r.Version, Fields: encodeFields(r.Fields), Error: errorToProto(r.Err),
		}
	}
	return out
}

// resultsFromProto returns nil Fields when the connector sent none (the
// protocol does not tell an empty map from a missing one).
func resultsFromProto(in *pb.PushResponse) ([]Result, error) {
	out := make([]Result, len(in.GetResults()))
	for i, r := range in.GetResults() {
		fields, err := decodeFields(r.GetFields())
		if err != nil {
			return nil, fmt.Errorf("result %d: %w", i, err)
		}
		out[i] = Result{
			ExternalID: r.GetExternalId(), Version: r.GetVersion(), Fields: fields, Err: errorFromProto(r.GetError()),
		}
	}
	return out, nil
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
