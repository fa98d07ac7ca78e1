package wire

import (
	"context"
	"errors"
	"fmt"
	"github.com/usmhub/usmhub/core/connector"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// serve serves srv over loopback gRPC and returns a client connection.
func serve(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpcServer(nil)
	register(s)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func client(t *testing.T, impl connector.Connector) connector.Connector {
	conn := serve(t, func(s *grpc.Server) { pb.RegisterConnectorServer(s, &grpcServerAdapter{impl: impl}) })
	return &grpcClientAdapter{client: pb.NewConnectorClient(conn)}
}

// rawPull is a connector service whose Pull sends scripted messages, then
// ends with end (nil: a clean end of stream).
type rawPull struct {
	pb.UnimplementedConnectorServer
	msgs []*pb.PullResponse
	end  error
}

func (r *rawPull) Pull(_ *pb.PullRequest, stream pb.Connector_PullServer) error {
	for _, m := range r.msgs {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return r.end
}

// recs returns records with these IDs.
func recs(ids ...string) []*pb.Record {
	var out []*pb.Record
	for _, id := range ids {
		out = append(out, &pb.Record{ExternalId: id})
	}
	return out
}

func TestPullDeliversOnlyCompleteBatches(t *testing.T) {
	script := []*pb.PullResponse{
		{Records: recs("1", "2")},
		{Records: recs("3"), EndOfBatch: true, Cursor: "c1"},
		{Records: recs("4", "5")}, // the start of a batch that never ends
	}
	for _, tc := range []struct {
		name    string
		end     error
		wantErr string
	}{
		{"broken stream", status.Error(codes.Unavailable, "plugin gone"), "rpc error: code = Unavailable desc = plugin gone"},
		{"clean end inside a batch", nil, "pull: the connector ended the stream inside a batch; its 2 records were dropped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := serve(t, func(s *grpc.Server) { pb.RegisterConnectorServer(s, &rawPull{msgs: script, end: tc.end}) })
			c := &grpcClientAdapter{client: pb.NewConnectorClient(conn)}
			var got [][]string
			err := c.Pull(context.Background(), connector.PullRequest{}, func(b connector.Batch) error {
				var ids []string
				for _, r := range b.Records {
					ids = append(ids, r.ExternalID)
				}
				got = append(got, append(ids, b.Cursor))
				return nil
			})
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("Pull = %v, want %s", err, tc.wantErr)
			}
			if diff := cmp.Diff([][]string{{"1", "2", "3", "c1"}}, got); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
		})
	}
}

// bigPull sends one batch of n records of size bytes.
type bigPull struct {
	Unimplemented
	n, size int
}

func (bigPull) Describe(context.Context) (connector.Description, error) {
	return connector.Description{}, nil
}
func (bigPull) Configure(context.Context, connector.Config) error { return nil }
func (p bigPull) Pull(_ context.Context, _ connector.PullRequest, send func(connector.Batch) error) error {
	b := connector.Batch{Cursor: "end"}
	for i := range p.n {
		b.Records = append(b.Records, connector.Record{ExternalID: strconv.Itoa(i), Fields: map[string]string{"d": strings.Repeat("x", p.size)}})
	}
	return send(b)
}

func TestPullChunksLargeBatches(t *testing.T) {
	impl := bigPull{n: 3000, size: 1000} // ~3 MiB: several chunks
	conn := serve(t, func(s *grpc.Server) { pb.RegisterConnectorServer(s, &grpcServerAdapter{impl: impl}) })
	stream, err := pb.NewConnectorClient(conn).Pull(context.Background(), &pb.PullRequest{})
	if err != nil {
		t.Fatal(err)
	}
	msgs, total := 0, 0
	var last *pb.PullResponse
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs++
		total += len(m.GetRecords())
		if m.GetEndOfBatch() != (total == impl.n) {
			t.Errorf("message %d: end_of_batch=%v after %d records", msgs, m.GetEndOfBatch(), total)
		}
		last = m
	}
	if msgs < 3 || total != impl.n || last.GetCursor() != "end" {
		t.Errorf("%d messages, %d records, last cursor %q; want ≥3 messages, %d records, cursor end", msgs, total, last.GetCursor(), impl.n)
	}

	// Through the adapter it is one batch again.
	var sizes []int
	err = client(t, impl).Pull(context.Background(), connector.PullRequest{}, func(b connector.Batch) error {
		sizes = append(sizes, len(b.Records))
		return nil
	})
	if err != nil || len(sizes) != 1 || sizes[0] != impl.n {
		t.Errorf("Pull = %v, batch sizes %v", err, sizes)
	}
}

// failing returns err from every call.
type failing struct{ err error }

func (f failing) Describe(context.Context) (connector.Description, error) {
	return connector.Description{}, f.err
}
func (f failing) Configure(context.Context, connector.Config) error { return f.err }
func (f failing) Check(context.Context) error                       { return f.err }
func (f failing) Pull(context.Context, connector.PullRequest, func(connector.Batch) error) error {
	return f.err
}
func (f failing) Push(context.Context, connector.PushRequest) ([]connector.Result, error) {
	return nil, f.err
}
func (f failing) Find(context.Context, connector.EntityKind, string) (*connector.Record, error) {
	return nil, f.err
}
func (f failing) Publish(context.Context, connector.Report) (connector.Published, error) {
	return connector.Published{}, f.err
}

func TestErrorsCrossTheWire(t *testing.T) {
	classified := &connector.Error{Class: connector.ClassTransient, Message: "rate limited", RetryAfter: 3 * time.Second}
	config := &connector.ConfigError{Problems: []connector.AttributeProblem{{Attribute: "url", Summary: "bad", Detail: "fix"}}}
	for _, tc := range []struct {
		name      string
		err       error
		same      bool // the very value comes back (by type and content)
		class     connector.ErrorClass
		unsupport bool
	}{
		{"plain", errors.New("boom"), false, connector.ClassPermanent, false},
		{"classified", classified, true, connector.ClassTransient, false},
		{"wrapped classified", fmt.Errorf("fetch issues: %w", classified), false, connector.ClassTransient, false},
		{"config", config, true, connector.ClassPermanent, false},
		{"wrapped config", fmt.Errorf("configure: %w", config), false, connector.ClassPermanent, false},
		{"unsupported", connector.ErrUnsupported, true, connector.ClassPermanent, true},
		{"wrapped unsupported", fmt.Errorf("votes: %w", connector.ErrUnsupported), false, connector.ClassPermanent, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := client(t, failing{tc.err}).Check(context.Background())
			if err == nil || err.Error() != tc.err.Error() {
				t.Fatalf("Check = %v, want text %q", err, tc.err.Error())
			}
			if got := connector.ClassOf(err); got != tc.class {
				t.Errorf("ClassOf = %s, want %s", got, tc.class)
			}
			if errors.Is(err, connector.ErrUnsupported) != tc.unsupport {
				t.Errorf("errors.Is(connector.ErrUnsupported) = %v", !tc.unsupport)
			}
			var e *connector.Error
			if errors.As(tc.err, &e) {
				var got *connector.Error
				if !errors.As(err, &got) || *got != *e {
					t.Errorf("classified error = %+v, want %+v", got, e)
				}
			}
			var ce *connector.ConfigError
			if errors.As(tc.err, &ce) {
				var got *connector.ConfigError
				if !errors.As(err, &got) || !cmp.Equal(got, ce) {
					t.Errorf("config error = %+v, want %+v", got, ce)
				}
			}
			if tc.same && !cmp.Equal(err, tc.err, cmp.Comparer(func(a, b error) bool { return fmt.Sprintf("%T %v", a, a) == fmt.Sprintf("%T %v", b, b) })) {
				t.Errorf("got %T, want %T", err, tc.err)
			}
		})
	}
}

func TestContextCauseWhenCallerCancels(t *testing.T) {
	block := blocking{}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("hub shutting down")
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel(cause)
	}()
	err := client(t, block).Check(ctx)
	if err != cause {
		t.Errorf("Check = %v, want the context's cause", err)
	}
}

type blocking struct{ failing }

func (blocking) Check(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestUnknownOpRefusedBeforeSending(t *testing.T) {
	_, err := client(t, failing{errors.New("must not be called")}).Push(context.Background(), connector.PushRequest{Changes: []connector.Change{{Op: connector.OpCreate}, {Op: "upsert"}}})
	if err == nil || err.Error() != `push: change 1 has unknown op "upsert" (want create, update or delete)` {
		t.Errorf("Push = %v", err)
	}
}

func TestDescribeRefusesUnknownAttrType(t *testing.T) {
	_, err := descriptionToProto(connector.Description{Schema: connector.Schema{Attributes: []connector.Attribute{{Name: "x", Type: "int"}}}})
	if err == nil || !strings.Contains(err.Error(), `config attribute "x" has unknown type "int"`) {
		t.Errorf("descriptionToProto = %v", err)
	}
}

// mutating sends batches of one record and changes the record's fields
// right after each send returns: send must have taken what it needs.
type mutating struct{ failing }

func (mutating) Pull(_ context.Context, _ connector.PullRequest, send func(connector.Batch) error) error {
	rec := connector.Record{ExternalID: "1", Fields: map[string]string{"n": "0"}}
	for i := range 20 {
		rec.Fields["n"] = strconv.Itoa(i)
		if err := send(connector.Batch{Records: []connector.Record{rec}, Cursor: strconv.Itoa(i)}); err != nil {
			return err
		}
		rec.Fields["n"] = "changed after send"
	}
	return nil
}

func TestSendTakesTheBatchBeforeReturning(t *testing.T) {
	var got []string
	err := client(t, mutating{}).Pull(context.Background(), connector.PullRequest{}, func(b connector.Batch) error {
		got = append(got, b.Records[0].Fields["n"]+"/"+b.Cursor)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if want := fmt.Sprintf("%d/%d", i, i); g != want {
			t.Errorf("batch %d: %s, want %s", i, g, want)
		}
	}
	if len(got) != 20 {
		t.Errorf("%d batches, want 20", len(got))
	}
}

// endless sends batches until send fails, and reports send's error.
type endless struct {
	failing
	sendErr chan error
}

func (e endless) Pull(ctx context.Context, _ connector.PullRequest, send func(connector.Batch) error) error {
	for i := 0; ; i++ {
		if err := send(connector.Batch{Records: []connector.Record{{ExternalID: strconv.Itoa(i)}}, Cursor: strconv.Itoa(i)}); err != nil {
			e.sendErr <- err
			return err
		}
	}
}

func TestSendFailsOnceTheHubStops(t *testing.T) {
	impl := endless{sendErr: make(chan error, 1)}
	stop := errors.New("hub stops")
	n := 0
	err := client(t, impl).Pull(context.Background(), connector.PullRequest{}, func(connector.Batch) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("Pull = %v, want the error of the hub's send", err)
	}
	select {
	case err := <-impl.sendErr:
		if err == nil || !strings.HasPrefix(err.Error(), "send batch to the hub: ") {
			t.Errorf("the connector's send = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the connector's send still succeeds 10s after the hub stopped")
	}
}

// late keeps send and calls it after Pull has returned.
type late struct {
	failing
	send chan func(connector.Batch) error
}

func (l late) Pull(_ context.Context, _ connector.PullRequest, send func(connector.Batch) error) error {
	l.send <- send
	return nil
}

func TestSendAfterPullReturned(t *testing.T) {
	impl := late{send: make(chan func(connector.Batch) error, 1)}
	if err := client(t, impl).Pull(context.Background(), connector.PullRequest{}, func(connector.Batch) error { return nil }); err != nil {
		t.Fatal(err)
	}
	send := <-impl.send
	if err := send(connector.Batch{}); err == nil || err.Error() != "send batch: Pull has returned" {
		t.Errorf("send after Pull returned = %v", err)
	}
}

func TestPullRefusesAMalformedRecord(t *testing.T) {
	script := []*pb.PullResponse{
		{Records: recs("1"), EndOfBatch: true, Cursor: "c1"},
		{Records: []*pb.Record{{ExternalId: "2", FieldNames: []uint32{0}, FieldValues: []string{"v"}}}, EndOfBatch: true, Cursor: "c2"},
	}
	conn := serve(t, func(s *grpc.Server) { pb.RegisterConnectorServer(s, &rawPull{msgs: script}) })
	c := &grpcClientAdapter{client: pb.NewConnectorClient(conn)}
	var cursors []string
	err := c.Pull(context.Background(), connector.PullRequest{}, func(b connector.Batch) error {
		cursors = append(cursors, b.Cursor)
		return nil
	})
	want := `pull: the connector sent a malformed record: record "2": field name 0 of a message that names 0`
	if err == nil || err.Error() != want {
		t.Errorf("Pull = %v, want %s", err, want)
	}
	if !cmp.Equal(cursors, []string{"c1"}) {
		t.Errorf("delivered batches %v, want [c1]", cursors)
	}
}

// notText pulls, finds and pushes a record whose field is not UTF-8.
type notText struct{ failing }

var notTextRecord = connector.Record{ExternalID: "x", Fields: map[string]string{"ok": "é", "d": "a\xffb"}}

func (notText) Pull(_ context.Context, _ connector.PullRequest, send func(connector.Batch) error) error {
	if err := send(connector.Batch{Records: []connector.Record{{ExternalID: "fine"}}, Cursor: "c1"}); err != nil {
		return err
	}
	return send(connector.Batch{Records: []connector.Record{{ExternalID: "w"}, notTextRecord}, Cursor: "c2"})
}

func (notText) Find(context.Context, connector.EntityKind, string) (*connector.Record, error) {
	return &notTextRecord, nil
}

func (notText) Push(context.Context, connector.PushRequest) ([]connector.Result, error) {
	return []connector.Result{{ExternalID: "x", Fields: notTextRecord.Fields}}, nil
}

// TestTextThatIsNotUTF8IsNamed: protobuf strings are UTF-8; a record that
// is not fails with the record and field named, on either side.
func TestTextThatIsNotUTF8IsNamed(t *testing.T) {
	c := client(t, notText{})
	var cursors []string
	err := c.Pull(context.Background(), connector.PullRequest{}, func(b connector.Batch) error {
		cursors = append(cursors, b.Cursor)
		return nil
	})
	const field = `field "d": value "a\xffb" is not valid UTF-8 (the protocol carries text)`
	if want := `send batch: record 1 (ID "x"): ` + field; err == nil || err.Error() != want {
		t.Errorf("Pull = %v\nwant %s", err, want)
	}
	if !cmp.Equal(cursors, []string{"c1"}) {
		t.Errorf("delivered batches %v, want [c1]", cursors)
	}

	_, err = c.Find(context.Background(), connector.KindRisk, "m")
	if want := `find: record "x": ` + field; err == nil || err.Error() != want {
		t.Errorf("Find = %v\nwant %s", err, want)
	}

	_, err = c.Push(context.Background(), connector.PushRequest{Changes: []connector.Change{{Op: connector.OpCreate, ExternalID: "x"}}})
	if want := `push: result 0 (ID "x"): ` + field; err == nil || err.Error() != want {
		t.Errorf("Push (the connector's result) = %v\nwant %s", err, want)
	}

	_, err = client(t, failing{errors.New("must not be called")}).Push(context.Background(),
		connector.PushRequest{Changes: []connector.Change{{Op: connector.OpUpdate, ExternalID: "x", Fields: notTextRecord.Fields}}})
	if want := `push: change 0 (ID "x"): ` + field; err == nil || err.Error() != want {
		t.Errorf("Push (the hub's change) = %v\nwant %s", err, want)
	}
}

// Unimplemented answers every optional call with connector.ErrUnsupported,
// as the SDK's Unimplemented does (which this package cannot import).
type Unimplemented struct{}

func (Unimplemented) Check(context.Context) error { return connector.ErrUnsupported }
func (Unimplemented) Pull(context.Context, connector.PullRequest, func(connector.Batch) error) error {
	return connector.ErrUnsupported
}
func (Unimplemented) Push(context.Context, connector.PushRequest) ([]connector.Result, error) {
	return nil, connector.ErrUnsupported
}
func (Unimplemented) Find(context.Context, connector.EntityKind, string) (*connector.Record, error) {
	return nil, connector.ErrUnsupported
}
func (Unimplemented) Publish(context.Context, connector.Report) (connector.Published, error) {
	return connector.Published{}, connector.ErrUnsupported
}
