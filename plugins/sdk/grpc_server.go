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
	var mu sync.Mutex // send may be called from any goroutine; Send may not be
	send := func(b Batch) error {
		mu.Lock()
		defer mu.Unlock()
		if err := sendBatch(stream, b); err != nil {
			return fmt.Errorf("send batch to the hub: %w", err)
		}
		return nil
	}
	if err := s.impl.Pull(stream.Context(), pullRequestFromProto(req), send); err != nil {
		return failureStatus(err)
	}
	return nil
}

func sendBatch(stream pb.Connector_PullServer, b Batch) error {
	recs := recordsToProto(b.Records)
	from, size := 0, 0
	for i := range b.Records {
		n := recordSize(&b.Records[i])
		if size+n > chunkSize && i > from {
			if err := stream.Send(&pb.PullResponse{Records: recs[from:i]}); err != nil {
				return err
			}
			from, size = i, 0
		}
		size += n
	}
	return stream.Send(&pb.PullResponse{Records: recs[from:], EndOfBatch: true, Cursor: b.Cursor})
}

func (s *grpcServerAdapter) Push(ctx context.Context, req *pb.PushRequest) (*pb.PushResponse, error) {
	results, err := s.impl.Push(ctx, pushRequestFromProto(req))
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
		out.Record = recordToProto(*rec)
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
