package sdk

import (
	"context"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/protobuf/proto"
)

// sampleRecords covers what the record encoding must carry: zero and
// non-zero times (in another zone, before 1970, with nanoseconds), empty and
// long strings (multi-byte lengths), nil and empty field maps, bytes that
// are not UTF-8, and the deleted flag.
func sampleRecords() []Record {
	zone := time.FixedZone("X", 5*3600)
	return []Record{
		{},
		{ExternalID: "1", Version: "v1", UpdatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, zone), Marker: "usmhub-abc",
			Fields: map[string]string{FieldKey: "R-1", FieldTitle: "Ünïcode ✓", FieldDescription: strings.Repeat("x", 300), "": "empty name"}},
		{ExternalID: strings.Repeat("i", 200), UpdatedAt: time.Date(1901, 12, 13, 20, 45, 52, 1, time.UTC), Deleted: true,
			Fields: map[string]string{}},
		{ExternalID: "bin", Fields: map[string]string{"\xff\xfe": "\x00\x80\xc0", "empty": ""}},
	}
}

// wire returns what r becomes on the host: times in UTC, a non-nil Fields
// map.
func wire(r Record) Record {
	if !r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.UpdatedAt.UTC()
	}
	if r.Fields == nil {
		r.Fields = map[string]string{}
	}
	return r
}

func decodeChunks(t testing.TB, chunks [][]byte) []Record {
	t.Helper()
	var out []Record
	for i, c := range chunks {
		var err error
		if out, err = appendRecords(out, c); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	return out
}

func TestRecordsRoundTrip(t *testing.T) {
	in := sampleRecords()
	chunks, err := encodeChunks(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 1 {
		t.Fatalf("%d chunks, want 1", len(chunks))
	}
	got := decodeChunks(t, chunks)
	var want []Record
	for _, r := range in {
		want = append(want, wire(r))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for i := range in {
		if !got[i].UpdatedAt.Equal(in[i].UpdatedAt) {
			t.Errorf("record %d: UpdatedAt %v, want %v", i, got[i].UpdatedAt, in[i].UpdatedAt)
		}
		enc, err := encodeRecord(&in[i])
		if err != nil {
			t.Fatal(err)
		}
		one, err := decodeRecord(enc)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[i], one); diff != "" {
			t.Errorf("record %d alone (-want +got):\n%s", i, diff)
		}
	}
}

func TestEmptyBatchIsOneEmptyChunk(t *testing.T) {
	chunks, err := encodeChunks(nil)
	if err != nil || len(chunks) != 1 {
		t.Fatalf("encodeChunks(nil) = %d chunks, %v", len(chunks), err)
	}
	if got := decodeChunks(t, chunks); len(got) != 0 {
		t.Errorf("decoded %d records", len(got))
	}
}

func TestChunksAreCutAtChunkSize(t *testing.T) {
	var in []Record
	for i := range 3000 {
		in = append(in, Record{ExternalID: strconv.Itoa(i), Fields: map[string]string{"d": strings.Repeat("x", 1000)}})
	}
	chunks, err := encodeChunks(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 3 {
		t.Errorf("%d chunks for ~3 MB, want 3 or more", len(chunks))
	}
	for i, c := range chunks {
		if len(c) > chunkSize+1100 {
			t.Errorf("chunk %d: %d bytes, more than chunkSize and one record", i, len(c))
		}
	}
	got := decodeChunks(t, chunks)
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
	in := []Record{{ExternalID: "ok"}, {ExternalID: "old", UpdatedAt: time.Date(1066, 10, 14, 0, 0, 0, 0, time.UTC)}}
	_, err := encodeChunks(in)
	want := `record 1 (ID "old"): updated at 1066-10-14T00:00:00Z: the protocol carries times from 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z`
	if err == nil || err.Error() != want {
		t.Errorf("encodeChunks = %v\nwant %s", err, want)
	}
}

func TestFieldsRoundTrip(t *testing.T) {
	for _, m := range []map[string]string{nil, {}, {"a": "1"}, {"a": "", "b": strings.Repeat("é", 100), "\xff": "\x00"}} {
		enc := encodeFields(m)
		if len(m) == 0 && enc != nil {
			t.Errorf("encodeFields(%v) = %q, want nil", m, enc)
		}
		got, err := decodeFields(enc)
		if err != nil {
			t.Fatal(err)
		}
		want := m
		if len(m) == 0 {
			want = nil
		}
		if !cmp.Equal(want, got) {
			t.Errorf("fields %v came back as %v", m, got)
		}
	}
}

// TestMalformedEncodingsAreRefused feeds the decoder every truncation of
// valid encodings and some hand-made bad ones: each must fail with an
// error, never panic or succeed.
func TestMalformedEncodingsAreRefused(t *testing.T) {
	chunks, err := encodeChunks(sampleRecords())
	if err != nil {
		t.Fatal(err)
	}
	chunk := chunks[0]
	for n := range len(chunk) {
		if _, err := appendRecords(nil, chunk[:n]); err == nil {
			t.Errorf("chunk truncated to %d of %d bytes decoded", n, len(chunk))
		}
	}
	fields := encodeFields(map[string]string{"a": "1", "bb": strings.Repeat("x", 200)})
	for n := 1; n < len(fields); n++ {
		if _, err := decodeFields(fields[:n]); err == nil {
			t.Errorf("fields truncated to %d of %d bytes decoded", n, len(fields))
		}
	}

	record := func(body ...byte) []byte {
		return append(binary.LittleEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	chunkOf := func(count uint32, records ...[]byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, count)
		for _, r := range records {
			b = append(b, r...)
		}
		return b
	}
	empty := record(0, 0, 0, 0, 0, 0) // time, flags, three empty strings, no fields
	if _, err := appendRecords(nil, chunkOf(1, empty)); err != nil {
		t.Fatalf("the empty record: %v", err)
	}
	for _, tc := range []struct {
		name, want string
		chunk      []byte
	}{
		{"trailing bytes after the records", "records: 1 bytes after the last of 1 records", append(chunkOf(1, empty), 0)},
		{"trailing bytes in a record", "record 0: 1 bytes after the end", chunkOf(1, record(0, 0, 0, 0, 0, 0, 0))},
		{"huge count", "records: count 4294967295, but only 10 bytes follow", chunkOf(math.MaxUint32, empty)},
		{"record length past the end", "record 0: length 100 past the end (6 bytes left)", chunkOf(1, append(binary.LittleEndian.AppendUint32(nil, 100), 0, 0, 0, 0, 0, 0))},
		{"unknown flags", "record 0: unknown flags 0x2", chunkOf(1, record(0, 2, 0, 0, 0, 0))},
		{"string past the end", "record 0: string of 9 bytes, but only 3 bytes follow", chunkOf(1, record(0, 0, 9, 0, 0, 0))},
		{"huge field count", "record 0: 100 fields, but only 0 bytes follow", chunkOf(1, record(0, 0, 0, 0, 0, 100))},
		{"duplicate field name", "record 0: a field name appears twice", chunkOf(1, record(0, 0, 0, 0, 0, 2, 1, 'a', 0, 1, 'a', 0))},
		{"varint overflow", "record 0: varint overflows 64 bits", chunkOf(1, record(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0))},
	} {
		_, err := appendRecords(nil, tc.chunk)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
}

// FuzzDecodeRecords: the decoder never panics, and what it accepts encodes
// back to something that decodes the same.
func FuzzDecodeRecords(f *testing.F) {
	chunks, _ := encodeChunks(sampleRecords())
	f.Add(chunks[0])
	f.Add([]byte{1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := appendRecords(nil, b)
		if err != nil {
			return
		}
		again, err := encodeChunks(got)
		if err != nil {
			t.Fatalf("re-encode what was decoded: %v", err)
		}
		if diff := cmp.Diff(got, decodeChunks(t, again)); diff != "" {
			t.Errorf("re-encoded (-first +second):\n%s", diff)
		}
	})
}

// records is a Connector whose Pull sends its records in one batch, whose
// Find returns the first, and whose Push echoes each change's fields.
type records struct {
	failing
	rs []Record
}

func (r records) Pull(_ context.Context, _ PullRequest, send func(Batch) error) error {
	return send(Batch{Records: r.rs, Cursor: "c"})
}

func (r records) Find(context.Context, EntityKind, string) (*Record, error) { return &r.rs[1], nil }

func (r records) Push(_ context.Context, req PushRequest) ([]Result, error) {
	var out []Result
	for _, c := range req.Changes {
		out = append(out, Result{ExternalID: c.ExternalID, Version: c.Version, Fields: c.Fields})
	}
	return out, nil
}

func TestRecordsCrossTheWire(t *testing.T) {
	in := sampleRecords()
	c := client(t, records{rs: in})
	var got []Record
	err := c.Pull(context.Background(), PullRequest{}, func(b Batch) error {
		got = append(got, b.Records...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []Record
	for _, r := range in {
		want = append(want, wire(r))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pulled (-want +got):\n%s", diff)
	}

	found, err := c.Find(context.Background(), KindRisk, "m")
	if err != nil || found == nil {
		t.Fatalf("Find = %v, %v", found, err)
	}
	if diff := cmp.Diff(want[1], *found); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}

	changes := []Change{{Op: OpCreate, ExternalID: "a", Fields: in[1].Fields}, {Op: OpDelete, ExternalID: "b"}}
	results, err := c.Push(context.Background(), PushRequest{Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	wantResults := []Result{{ExternalID: "a", Fields: in[1].Fields}, {ExternalID: "b"}}
	if diff := cmp.Diff(wantResults, results); diff != "" {
		t.Errorf("pushed (-want +got):\n%s", diff)
	}
}

func TestFindOutOfRangeTime(t *testing.T) {
	c := client(t, records{rs: []Record{{}, {ExternalID: "x", UpdatedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}})
	_, err := c.Find(context.Background(), KindRisk, "m")
	if err == nil || !strings.HasPrefix(err.Error(), `find: record "x": updated at 3000-01-01T00:00:00Z: the protocol carries times from`) {
		t.Errorf("Find = %v", err)
	}
}

// benchBatch is the batch of plugins/host's pull benchmarks: 500 records
// of about 500 bytes.
func benchBatch() []Record {
	desc := strings.Repeat("x", 380)
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]Record, 500)
	for i := range out {
		id := strconv.Itoa(i + 1)
		out[i] = Record{ExternalID: id, Version: "v1", UpdatedAt: now, Fields: map[string]string{
			FieldKey: "R-" + id, FieldTitle: "Risk number " + id, FieldDescription: desc, FieldKind: "threat",
			FieldProcess: "operate", FieldLikelihood: "3", FieldImpact: "4", FieldStatus: "proposed",
		}}
	}
	return out
}

// BenchmarkEncodeBatch is the plugin's side of Pull: encode a batch and
// marshal its message.
func BenchmarkEncodeBatch(b *testing.B) {
	rs := benchBatch()
	b.ReportAllocs()
	for b.Loop() {
		chunks, err := encodeChunks(rs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := proto.Marshal(&pb.PullResponse{Records: chunks[0], EndOfBatch: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rs))/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodeBatch is the host's side of Pull: unmarshal a batch's
// message and decode its records.
func BenchmarkDecodeBatch(b *testing.B) {
	rs := benchBatch()
	chunks, _ := encodeChunks(rs)
	data, _ := proto.Marshal(&pb.PullResponse{Records: chunks[0], EndOfBatch: true})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m pb.PullResponse
		if err := proto.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := appendRecords(nil, m.GetRecords()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rs))/b.Elapsed().Seconds(), "records/s")
}
