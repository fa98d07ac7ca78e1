package wire

import (
	"context"
	"errors"
	"fmt"
	"github.com/usmhub/usmhub/core/connector"
	"sync"

	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// grpcServerAdapter serves a Connector as the gRPC connector service: the
// plugin side of the protocol.
type grpcServerAdapter struct {
	pb.UnimplementedConnectorServer
	impl    connector.Connector
	version int // stamped into Describe's answer
}

func (s *grpcServerAdapter) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, failureStatus(err)
	}
	d.ProtocolVersion = s.version
	out, err := descriptionToProto(d)
	if err != nil {
		return nil, failureStatus(fmt.Errorf("describe: %w", err))
	}
	return out, nil
}

func (s *grpcServerAdapter) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if err := s.impl.Configure(ctx, connector.NewConfig(req.GetConfigJson())); err != nil {
		return nil, failureStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *grpcServerAdapter) Check(ctx context.Context, _ *pb.CheckRequest) (*pb.CheckResponse, error) {
	if err := s.impl.Check(ctx); err != nil {
		return nil, failureStatus(err)
	}
	return &pb.CheckResponse{}, nil
}

// Pull sends each batch the connector hands to send as one or more
// messages, the last one marked end_of_batch and carrying the cursor. The
// host delivers a batch only once it has its last message.
func (s *grpcServerAdapter) Pull(req *pb.PullRequest, stream pb.Connector_PullServer) error {
	bs := newBatchSender(stream)
	err := s.impl.Pull(stream.Context(), pullRequestFromProto(req), bs.send)
	sendErr := bs.close()
	if err != nil {
		return failureStatus(err)
	}
	if sendErr != nil {
		// The connector went on after send failed, or the last batch
		// failed after send returned: the hub has not got everything.
		return failureStatus(sendErr)
	}
	return nil
}

// batchSender sends a Pull's batches from a goroutine of its own, so that
// the connector fetches the next batch while the last one is on the wire:
// send marshals the batch (with gRPC's PreparedMsg, on the connector's
// goroutine, so the connector may change its records once send returns)
// and returns once the previous batch was handed to gRPC. An error sending
// a batch is returned by the next send and by close.
type batchSender struct {
	stream  pb.Connector_PullServer
	mu      sync.Mutex // send may be called from any goroutine
	closed  bool
	buf     pullBuffers // what the messages are built from, batch after batch
	batches chan []*grpc.PreparedMsg
	done    chan struct{} // closed when the goroutine ends, after err is set
	err     error
}

func newBatchSender(stream pb.Connector_PullServer) *batchSender {
	bs := &batchSender{stream: stream, batches: make(chan []*grpc.PreparedMsg), done: make(chan struct{})}
	go bs.run()
	return bs
}

func (bs *batchSender) run() {
	defer close(bs.done)
	for msgs := range bs.batches {
		for _, m := range msgs {
			if err := bs.stream.SendMsg(m); err != nil {
				bs.err = fmt.Errorf("send batch to the hub: %w", err)
				return
			}
		}
	}
}

// send is the send function the connector's Pull gets.
func (bs *batchSender) send(b connector.Batch) error {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.closed {
		return errors.New("send batch: Pull has returned")
	}
	msgs, err := bs.prepare(b)
	if err != nil {
		return fmt.Errorf("send batch: %w", err)
	}
	select {
	case bs.batches <- msgs:
		return nil
	case <-bs.done:
		return bs.err
	}
}

// prepare marshals b's messages.
func (bs *batchSender) prepare(b connector.Batch) ([]*grpc.PreparedMsg, error) {
	msgs, err := chunkRecords(b, &bs.buf)
	defer bs.buf.forget()
	if err != nil {
		return nil, err
	}
	out := make([]*grpc.PreparedMsg, len(msgs))
	for i, m := range msgs {
		out[i] = new(grpc.PreparedMsg)
		if err := out[i].Encode(bs.stream, m); err != nil {
			if bad := notUTF8(b.Records); bad != nil {
				return nil, bad
			}
			return nil, fmt.Errorf("marshal: %w", err)
		}
	}
	return out, nil
}

// close waits until the batches handed to send are sent, ends the
// goroutine and returns the first error sending.
func (bs *batchSender) close() error {
	bs.mu.Lock()
	if !bs.closed {
		bs.closed = true
		close(bs.batches)
	}
	bs.mu.Unlock()
	<-bs.done
	return bs.err
}

func (s *grpcServerAdapter) Push(ctx context.Context, req *pb.PushRequest) (*pb.PushResponse, error) {
	results, err := s.impl.Push(ctx, pushRequestFromProto(req))
	if err != nil {
		return nil, failureStatus(err)
	}
	out, err := resultsToProto(results)
	if err != nil {
		return nil, failureStatus(fmt.Errorf("push: %w", err))
	}
	return out, nil
}

func (s *grpcServerAdapter) Find(ctx context.Context, req *pb.FindRequest) (*pb.FindResponse, error) {
	rec, err := s.impl.Find(ctx, connector.EntityKind(req.GetKind()), req.GetMarker())
	if err != nil {
		return nil, failureStatus(err)
	}
	out := &pb.FindResponse{}
	if rec != nil {
		var names fieldNames
		out.Record = new(pb.Record)
		err := recordToProto(out.Record, rec, &names, make([]uint32, len(rec.Fields)), make([]string, len(rec.Fields)))
		if err != nil {
			return nil, failureStatus(fmt.Errorf("find: record %q: %w", rec.ExternalID, err))
		}
		out.FieldNames = names.next()
		if err := recordUTF8(rec); err != nil {
			return nil, failureStatus(fmt.Errorf("find: record %q: %w", rec.ExternalID, err))
		}
	}
	return out, nil
}

func (s *grpcServerAdapter) Publish(ctx context.Context, req *pb.PublishRequest) (*pb.PublishResponse, error) {
	p, err := s.impl.Publish(ctx, reportFromProto(req.GetReport()))
	if err != nil {
		return nil, failureStatus(err)
	}
	return publishedToProto(p), nil
}

// failureStatus turns a connector's error into a gRPC status whose Failure
// detail lets the host rebuild it: its text, and the *Error, *ConfigError or
// ErrUnsupported in its chain.
func failureStatus(err error) error {
	f := &pb.Failure{Message: err.Error()}
	code := codes.Unknown
	var (
		classified *connector.Error
		config     *connector.ConfigError
	)
	switch {
	case errors.As(err, &config):
		f.Config = configErrorToProto(config)
		code = codes.InvalidArgument
	case errors.As(err, &classified):
		f.Classified = errorToProto(classified)
		code = classCodes[classified.Class]
	case errors.Is(err, connector.ErrUnsupported):
		code = codes.Unimplemented
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	// Several may hold at once (a classified error that also wraps
	// ErrUnsupported); the detail carries each, the code names the first.
	f.Unsupported = errors.Is(err, connector.ErrUnsupported)
	if f.Classified == nil && errors.As(err, &classified) {
		f.Classified = errorToProto(classified)
	}
	if code == codes.OK {
		code = codes.Unknown
	}
	st, detailErr := status.New(code, f.Message).WithDetails(f)
	if detailErr != nil {
		return status.Error(code, f.Message)
	}
	return st.Err()
}

var classCodes = map[connector.ErrorClass]codes.Code{
	connector.ClassConflict:  codes.Aborted,
	connector.ClassInvalid:   codes.InvalidArgument,
	connector.ClassTransient: codes.Unavailable,
	connector.ClassPermanent: codes.FailedPrecondition,
}
