package wire

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/protobuf/proto"
)

// FuzzRecordFromProto decodes any bytes as a pull message from a connector
// and its records as the host does (recordFromProto). It must not panic; a
// record it takes has one field per name index, and crosses the wire again
// unchanged.
func FuzzRecordFromProto(f *testing.F) {
	var names fieldNames
	msg := &pb.PullResponse{Cursor: "c1", EndOfBatch: true}
	for _, r := range sampleRecords() {
		m := &pb.Record{}
		n := len(r.Fields)
		if err := recordToProto(m, &r, &names, make([]uint32, n), make([]string, n)); err != nil {
			f.Fatal(err)
		}
		msg.Records = append(msg.Records, m)
	}
	msg.FieldNames = names.next()
	for _, m := range []*pb.PullResponse{
		msg,
		{Records: []*pb.Record{{ExternalId: "x", FieldNames: []uint32{0, 0}, FieldValues: []string{"a", "b"}}}, FieldNames: []string{"title"}},
		{Records: []*pb.Record{{ExternalId: "y", FieldNames: []uint32{7}, FieldValues: []string{"a"}}}, FieldNames: []string{"title"}},
		{Records: []*pb.Record{{ExternalId: "z", FieldNames: []uint32{0}}}, FieldNames: []string{"title"}},
		{Records: []*pb.Record{{UpdatedAtUnixNano: -1 << 63}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in pb.PullResponse
		if proto.Unmarshal(data, &in) != nil {
			return
		}
		var again fieldNames
		for _, m := range in.GetRecords() {
			rec, err := recordFromProto(m, in.GetFieldNames())
			if err != nil {
				continue
			}
			if len(rec.Fields) != len(m.GetFieldNames()) {
				t.Fatalf("record %q: %d fields from %d names", rec.ExternalID, len(rec.Fields), len(m.GetFieldNames()))
			}
			out := &pb.Record{}
			n := len(rec.Fields)
			if err := recordToProto(out, &rec, &again, make([]uint32, n), make([]string, n)); err != nil {
				continue // a time the wire cannot carry back (out of int64 nanoseconds)
			}
			back, err := recordFromProto(out, again.names)
			if err != nil {
				t.Fatalf("record %q does not decode after a round trip: %v", rec.ExternalID, err)
			}
			if diff := cmp.Diff(rec, back); diff != "" {
				t.Fatalf("round trip (-first +again):\n%s", diff)
			}
		}
	})
}
