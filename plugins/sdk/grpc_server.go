package sdk

import (
	"context"
	"errors"
	"fmt"
	"sync"

	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// grpcServerAdapter serves a Connector as the gRPC connector service: the
// plugin side of the protocol.
type grpcServerAdapter struct {
	pb.UnimplementedConnectorServer
	impl Connector
}

func (s *grpcServerAdapter) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, failureStatus(err)
	}
	out, err := descriptionToProto(d)
	if err != nil {
		return nil, failureStatus(fmt.Errorf("describe: %w", err))
	}
	return out, nil
}

func (s *grpcServerAdapter) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if err := s.impl.Configure(ctx, NewConfig(req.GetConfigJson())); err != nil {
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
// the connector fetches (and send encodes) the next batch while the last
// one is on the wire: send returns once the batch is encoded and the
// previous one sent. An error sending a batch is returned by the next send
// and by close.
type batchSender struct {
	stream  pb.Connector_PullServer
	mu      sync.Mutex // send may be called from any goroutine
	closed  bool
	batches chan encodedBatch
	done    chan struct{} // closed when the goroutine ends, after err is set
	err     error
}

type encodedBatch struct {
	chunks [][]byte
	cursor string
}

func newBatchSender(stream pb.Connector_PullServer) *batchSender {
	bs := &batchSender{stream: stream, batches: make(chan encodedBatch), done: make(chan struct{})}
	go bs.run()
	return bs
}

func (bs *batchSender) run() {
	defer close(bs.done)
	for b := range bs.batches {
		for i, c := range b.chunks {
			msg := &pb.PullResponse{Records: c}
			if i == len(b.chunks)-1 {
				msg.EndOfBatch, msg.Cursor = true, b.cursor
			}
			if err := bs.stream.Send(msg); err != nil {
				bs.err = fmt.Errorf("send batch to the hub: %w", err)
				return
			}
		}
	}
}

// send is the send function the connector's Pull gets.
func (bs *batchSender) send(b Batch) error {
	chunks, err := encodeChunks(b.Records)
	if err != nil {
		return fmt.Errorf("send batch: %w", err)
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.closed {
		return errors.New("send batch: Pull has returned")
	}
	select {
	case bs.batches <- encodedBatch{chunks: chunks, cursor: b.Cursor}:
		return nil
	case <-bs.done:
		return bs.err
	}
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
	in, err := pushRequestFromProto(req)
	if err != nil {
		return nil, failureStatus(fmt.Errorf("push: %w", err))
	}
	results, err := s.impl.Push(ctx, in)
	if err != nil {
		return nil, failureStatus(err)
	}
	return resultsToProto(results), nil
}

func (s *grpcServerAdapter) Find(ctx context.Context, req *pb.FindRequest) (*pb.FindResponse, error) {
	rec, err := s.impl.Find(ctx, EntityKind(req.GetKind()), req.GetMarker())
	if err != nil {
		return nil, failureStatus(err)
	}
	out := &pb.FindResponse{}
	if rec != nil {
		if out.Record, err = encodeRecord(rec); err != nil {
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
		classified *Error
		config     *ConfigError
	)
	switch {
	case errors.As(err, &config):
		f.Config = configErrorToProto(config)
		code = codes.InvalidArgument
	case errors.As(err, &classified):
		f.Classified = errorToProto(classified)
		code = classCodes[classified.Class]
	case errors.Is(err, ErrUnsupported):
		code = codes.Unimplemented
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	// Several may hold at once (a classified error that also wraps
	// ErrUnsupported); the detail carries each, the code names the first.
	f.Unsupported = errors.Is(err, ErrUnsupported)
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

var classCodes = map[ErrorClass]codes.Code{
	ClassConflict:  codes.Aborted,
	ClassInvalid:   codes.InvalidArgument,
	ClassTransient: codes.Unavailable,
	ClassPermanent: codes.FailedPrecondition,
}
