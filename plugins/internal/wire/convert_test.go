package wire

import (
	"context"
	"github.com/usmhub/usmhub/core/connector"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/protobuf/proto"
)

// sampleRecords covers what a record must carry across: zero and non-zero
// times (in another zone, before 1970, with nanoseconds), empty and long
// strings, non-ASCII text, nil and empty field maps, the deleted flag and a problem.
func sampleRecords() []connector.Record {
	zone := time.FixedZone("X", 5*3600)
	return []connector.Record{
		{},
		{ExternalID: "1", Version: "v1", UpdatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, zone), Marker: "usmhub-abc",
			Fields: map[string]string{connector.FieldKey: "R-1", connector.FieldTitle: "Ünïcode ✓", connector.FieldDescription: strings.Repeat("x", 300), "": "empty name"}},
		{ExternalID: strings.Repeat("i", 200), UpdatedAt: time.Date(1901, 12, 13, 20, 45, 52, 1, time.UTC), Deleted: true,
			Fields: map[string]string{}},
		{ExternalID: "text", Fields: map[string]string{"日本": "\x00\u00ff", "empty": ""}},
		{ExternalID: "K-R-1", Problem: "lines 2 and 5 both have key R-1", Fields: map[string]string{connector.FieldKey: "R-1"}},
	}
}

// wire returns what r becomes on the host: times in UTC, a non-nil Fields
// map.
func wire(r connector.Record) connector.Record {
	if !r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.UpdatedAt.UTC()
	}
	if r.Fields == nil {
		r.Fields = map[string]string{}
	}
	return r
}

// overTheWire marshals msgs and returns the records the host reads from
// them.
func overTheWire(t testing.TB, msgs []*pb.PullResponse) []connector.Record {
	t.Helper()
	var out []connector.Record
	for i, m := range msgs {
		data, err := proto.Marshal(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		var got pb.PullResponse
		if err := proto.Unmarshal(data, &got); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		for j, r := range got.GetRecords() {
			rec, err := recordFromProto(r, got.GetFieldNames())
			if err != nil {
				t.Fatalf("message %d, record %d: %v", i, j, err)
			}
			out = append(out, rec)
		}
	}
	return out
}

func TestRecordsRoundTrip(t *testing.T) {
	in := sampleRecords()
	var want []connector.Record
	for _, r := range in {
		want = append(want, wire(r))
	}
	var buf pullBuffers
	for round := range 2 { // the second reuses the first's buffers
		msgs, err := chunkRecords(connector.Batch{Records: in, Cursor: "c"}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || !msgs[0].GetEndOfBatch() || msgs[0].GetCursor() != "c" {
			t.Fatalf("round %d: %d messages, the last %v", round, len(msgs), msgs[len(msgs)-1])
		}
		if names := msgs[0].GetFieldNames(); len(names) != 6 {
			t.Errorf("round %d: field names %q, want each of the 6 once", round, names)
		}
		got := overTheWire(t, msgs)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round %d (-want +got):\n%s", round, diff)
		}
		for i := range in {
			if !got[i].UpdatedAt.Equal(in[i].UpdatedAt) {
				t.Errorf("record %d: UpdatedAt %v, want %v", i, got[i].UpdatedAt, in[i].UpdatedAt)
			}
		}
		buf.forget()
		for i := range buf.recs {
			if buf.recs[i].ExternalId != "" || buf.recs[i].FieldValues != nil || buf.ptrs[i] != nil {
				t.Errorf("forget kept record %d: %v", i, &buf.recs[i])
			}
		}
		for i, v := range buf.values {
			if v != "" {
				t.Errorf("forget kept value %d: %q", i, v)
			}
		}
	}
}

// TestMalformedRecordsAreRefused: field names and values that do not pair
// up are an error, never a panic or a record with fields missing.
func TestMalformedRecordsAreRefused(t *testing.T) {
	names := []string{"a", "b"}
	for _, tc := range []struct {
		name string
		rec  *pb.Record
		want string
	}{
		{"more names than values", &pb.Record{ExternalId: "x", FieldNames: []uint32{0, 1}, FieldValues: []string{"1"}}, `record "x": 2 field names but 1 values`},
		{"more values than names", &pb.Record{ExternalId: "x", FieldValues: []string{"1"}}, `record "x": 0 field names but 1 values`},
		{"a name past the table", &pb.Record{ExternalId: "x", FieldNames: []uint32{2}, FieldValues: []string{"1"}}, `record "x": field name 2 of a message that names 2`},
		{"a huge name", &pb.Record{ExternalId: "x", FieldNames: []uint32{math.MaxUint32}, FieldValues: []string{"1"}}, `record "x": field name 4294967295 of a message that names 2`},
		{"a name twice", &pb.Record{ExternalId: "x", FieldNames: []uint32{1, 1}, FieldValues: []string{"1", "2"}}, `record "x": a field name appears twice`},
	} {
		if _, err := recordFromProto(tc.rec, names); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
}

func TestEmptyBatchIsOneMessage(t *testing.T) {
	msgs, err := chunkRecords(connector.Batch{Cursor: "c"}, &pullBuffers{})
	if err != nil || len(msgs) != 1 || !msgs[0].GetEndOfBatch() || msgs[0].GetCursor() != "c" {
		t.Fatalf("chunkRecords(empty) = %v, %v", msgs, err)
	}
	if got := overTheWire(t, msgs); len(got) != 0 {
		t.Errorf("%d records", len(got))
	}
}

func TestMessagesAreCutAtChunkSize(t *testing.T) {
	var in []connector.Record
	for i := range 3000 {
		in = append(in, connector.Record{ExternalID: strconv.Itoa(i), Fields: map[string]string{"d": strings.Repeat("x", 1000)}})
	}
	msgs, err := chunkRecords(connector.Batch{Records: in, Cursor: "end"}, &pullBuffers{})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 3 {
		t.Errorf("%d messages for ~3 MB, want 3 or more", len(msgs))
	}
	for i, m := range msgs {
		if n := proto.Size(m); n > chunkSize+1100 {
			t.Errorf("message %d: %d bytes, more than chunkSize and one record", i, n)
		}
		if !cmp.Equal(m.GetFieldNames(), []string{"d"}) {
			t.Errorf("message %d: field names %q, want [d]", i, m.GetFieldNames())
		}
		if last := i == len(msgs)-1; m.GetEndOfBatch() != last || (m.GetCursor() == "end") != last {
			t.Errorf("message %d of %d: end_of_batch %v, cursor %q", i, len(msgs), m.GetEndOfBatch(), m.GetCursor())
		}
	}
	got := overTheWire(t, msgs)
	if len(got) != len(in) || got[0].ExternalID != "0" || got[len(got)-1].ExternalID != "2999" {
		t.Errorf("decoded %d records", len(got))
	}
}

func TestTimes(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want time.Time
		err  bool
	}{
		{time.Time{}, time.Time{}, false},
		{time.Unix(0, 0), time.Time{}, false}, // the epoch is the protocol's zero
		{time.Unix(0, 1), time.Unix(0, 1).UTC(), false},
		{time.Unix(0, math.MinInt64), time.Unix(0, math.MinInt64).UTC(), false},
		{time.Unix(0, math.MaxInt64), time.Unix(0, math.MaxInt64).UTC(), false},
		{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}, true},
		{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}, true},
	} {
		n, err := timeToProto(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("timeToProto(%v) = %v", tc.in, err)
			continue
		}
		if got := timeFromProto(n); err == nil && got != tc.want {
			t.Errorf("%v came back as %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestTimeOutOfRangeFailsTheBatch(t *testing.T) {
	in := []connector.Record{{ExternalID: "ok"}, {ExternalID: "old", UpdatedAt: time.Date(1066, 10, 14, 0, 0, 0, 0, time.UTC)}}
	_, err := chunkRecords(connector.Batch{Records: in}, &pullBuffers{})
	want := `record 1 (ID "old"): updated at 1066-10-14T00:00:00Z: the protocol carries times from 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z`
	if err == nil || err.Error() != want {
		t.Errorf("chunkRecords = %v\nwant %s", err, want)
	}
}

// records is a Connector whose Pull sends its records in one batch, whose
// Find returns the first, and whose Push echoes each change's fields.
type records struct {
	failing
	rs []connector.Record
}

func (r records) Pull(_ context.Context, _ connector.PullRequest, send func(connector.Batch) error) error {
	return send(connector.Batch{Records: r.rs, Cursor: "c"})
}

func (r records) Find(context.Context, connector.EntityKind, string) (*connector.Record, error) {
	return &r.rs[1], nil
}

func (r records) Push(_ context.Context, req connector.PushRequest) ([]connector.Result, error) {
	var out []connector.Result
	for _, c := range req.Changes {
		out = append(out, connector.Result{ExternalID: c.ExternalID, Version: c.Version, Fields: c.Fields})
	}
	return out, nil
}

func TestRecordsCrossTheWire(t *testing.T) {
	in := sampleRecords()
	c := client(t, records{rs: in})
	var got []connector.Record
	err := c.Pull(context.Background(), connector.PullRequest{}, func(b connector.Batch) error {
		got = append(got, b.Records...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []connector.Record
	for _, r := range in {
		want = append(want, wire(r))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pulled (-want +got):\n%s", diff)
	}

	found, err := c.Find(context.Background(), connector.KindRisk, "m")
	if err != nil || found == nil {
		t.Fatalf("Find = %v, %v", found, err)
	}
	if diff := cmp.Diff(want[1], *found); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}

	changes := []connector.Change{{Op: connector.OpCreate, ExternalID: "a", Fields: in[1].Fields}, {Op: connector.OpDelete, ExternalID: "b"}}
	results, err := c.Push(context.Background(), connector.PushRequest{Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	wantResults := []connector.Result{{ExternalID: "a", Fields: in[1].Fields}, {ExternalID: "b"}}
	if diff := cmp.Diff(wantResults, results); diff != "" {
		t.Errorf("pushed (-want +got):\n%s", diff)
	}
}

func TestFindOutOfRangeTime(t *testing.T) {
	c := client(t, records{rs: []connector.Record{{}, {ExternalID: "x", UpdatedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}})
	_, err := c.Find(context.Background(), connector.KindRisk, "m")
	if err == nil || !strings.HasPrefix(err.Error(), `find: record "x": updated at 3000-01-01T00:00:00Z: the protocol carries times from`) {
		t.Errorf("Find = %v", err)
	}
}

// benchBatch is the batch of plugins/host's pull benchmarks: 500 records
// of about 500 bytes.
func benchBatch() []connector.Record {
	desc := strings.Repeat("x", 380)
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]connector.Record, 500)
	for i := range out {
		id := strconv.Itoa(i + 1)
		out[i] = connector.Record{ExternalID: id, Version: "v1", UpdatedAt: now, Fields: map[string]string{
			connector.FieldKey: "R-" + id, connector.FieldTitle: "Risk number " + id, connector.FieldDescription: desc, connector.FieldKind: "threat",
			connector.FieldProcess: "operate", connector.FieldLikelihood: "3", connector.FieldImpact: "4", connector.FieldStatus: "proposed",
		}}
	}
	return out
}

// BenchmarkEncodeBatch is the plugin's side of Pull: convert a batch and
// marshal its message.
func BenchmarkEncodeBatch(b *testing.B) {
	batch := connector.Batch{Records: benchBatch()}
	var buf pullBuffers
	b.ReportAllocs()
	for b.Loop() {
		msgs, err := chunkRecords(batch, &buf)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := proto.Marshal(msgs[0]); err != nil {
			b.Fatal(err)
		}
		buf.forget()
	}
	b.ReportMetric(float64(b.N*len(batch.Records))/b.Elapsed().Seconds(), "records/s")
}

// decoded keeps BenchmarkDecodeBatch's records, as the host keeps a batch.
var decoded []connector.Record

// BenchmarkDecodeBatch is the host's side of Pull: unmarshal a batch's
// message and convert its records.
func BenchmarkDecodeBatch(b *testing.B) {
	rs := benchBatch()
	msgs, _ := chunkRecords(connector.Batch{Records: rs}, &pullBuffers{})
	data, _ := proto.Marshal(msgs[0])
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m pb.PullResponse
		if err := proto.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
		out := make([]connector.Record, 0, len(m.GetRecords()))
		for _, r := range m.GetRecords() {
			rec, err := recordFromProto(r, m.GetFieldNames())
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, rec)
		}
		decoded = out
	}
	b.ReportMetric(float64(b.N*len(rs))/b.Elapsed().Seconds(), "records/s")
}

// TestReportRoundTrip proves a report's attachments and dashboard URL
// cross the protocol unchanged, bytes and order included.
func TestReportRoundTrip(t *testing.T) {
	in := connector.Report{Key: "k", Kind: "register", Title: "t", Markdown: "m", HTML: "<p>h</p>", URL: "https://hub.example/reports/register",
		Attachments: []connector.Attachment{
			{Name: "register-threats.svg", ContentType: "image/svg+xml", Data: []byte("<svg/>")},
			{Name: "b.bin", ContentType: "application/octet-stream", Data: []byte{0, 1, 0xff}},
		}}
	b, err := proto.Marshal(reportToProto(in))
	if err != nil {
		t.Fatal(err)
	}
	var msg pb.Report
	if err := proto.Unmarshal(b, &msg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, reportFromProto(&msg)); diff != "" {
		t.Errorf("report changed on the wire (-sent +received):\n%s", diff)
	}
}
