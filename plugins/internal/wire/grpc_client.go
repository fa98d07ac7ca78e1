package wire

import (
	"context"
	"fmt"
	"github.com/usmhub/usmhub/core/connector"
	"io"

	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// grpcClientAdapter is a Connector that makes each call over gRPC: the host
// side of the protocol. It adds no timeouts and no retries; plugins/host
// does.
type grpcClientAdapter struct {
	client pb.ConnectorClient
}

var callOptions = []grpc.CallOption{
	grpc.MaxCallRecvMsgSize(maxMessageSize),
	grpc.MaxCallSendMsgSize(maxMessageSize),
}

func (c *grpcClientAdapter) Describe(ctx context.Context) (connector.Description, error) {
	resp, err := c.client.Describe(ctx, &pb.DescribeRequest{}, callOptions...)
	if err != nil {
		return connector.Description{}, callError(ctx, err)
	}
	return descriptionFromProto(resp), nil
}

func (c *grpcClientAdapter) Configure(ctx context.Context, cfg connector.Config) error {
	_, err := c.client.Configure(ctx, &pb.ConfigureRequest{ConfigJson: cfg.JSON()}, callOptions...)
	return callError(ctx, err)
}

func (c *grpcClientAdapter) Check(ctx context.Context) error {
	_, err := c.client.Check(ctx, &pb.CheckRequest{}, callOptions...)
	return callError(ctx, err)
}

// Pull hands send each batch once its last message has arrived. When the
// stream breaks (the plugin died, the context ended) the records received of
// an unfinished batch are dropped and the error is returned: what send got
// is exactly the complete batches.
//
// A goroutine receives (and unmarshals) the next message while this one
// converts the last and hands batches to send, so that the network, the
// decoding and the hub's work on a batch overlap.
func (c *grpcClientAdapter) Pull(ctx context.Context, req connector.PullRequest, send func(connector.Batch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // also ends the plugin's side, and the receiver, when send fails
	stream, err := c.client.Pull(ctx, pullRequestToProto(req), callOptions...)
	if err != nil {
		return callError(ctx, err)
	}
	msgs := make(chan *pb.PullResponse, 1)
	var recvErr error // set before msgs is closed
	go func() {
		defer close(msgs)
		for {
			msg, err := stream.Recv()
			if err != nil {
				recvErr = err
				return
			}
			select {
			case msgs <- msg:
			case <-ctx.Done():
				recvErr = ctx.Err()
				return
			}
		}
	}()
	var (
		pending []connector.Record
		partial bool
	)
	for msg := range msgs {
		if pending == nil { // the batch's first message (an empty batch too)
			pending = make([]connector.Record, 0, len(msg.GetRecords()))
		}
		for _, r := range msg.GetRecords() {
			rec, err := recordFromProto(r, msg.GetFieldNames())
			if err != nil {
				return fmt.Errorf("pull: the connector sent a malformed record: %w", err)
			}
			pending = append(pending, rec)
		}
		if !msg.GetEndOfBatch() {
			partial = true
			continue
		}
		b := connector.Batch{Records: pending, Cursor: msg.GetCursor()}
		pending, partial = nil, false
		if err := send(b); err != nil {
			return err
		}
	}
	if recvErr != io.EOF {
		return callError(ctx, recvErr)
	}
	if partial {
		return fmt.Errorf("pull: the connector ended the stream inside a batch; its %d records were dropped", len(pending))
	}
	return nil
}

func (c *grpcClientAdapter) Push(ctx context.Context, req connector.PushRequest) ([]connector.Result, error) {
	in, err := pushRequestToProto(req)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	resp, err := c.client.Push(ctx, in, callOptions...)
	if err != nil {
		return nil, callError(ctx, err)
	}
	return resultsFromProto(resp), nil
}

func (c *grpcClientAdapter) Find(ctx context.Context, kind connector.EntityKind, marker string) (*connector.Record, error) {
	resp, err := c.client.Find(ctx, &pb.FindRequest{Kind: string(kind), Marker: marker}, callOptions...)
	if err != nil {
		return nil, callError(ctx, err)
	}
	if resp.GetRecord() == nil {
		return nil, nil
	}
	rec, err := recordFromProto(resp.GetRecord(), resp.GetFieldNames())
	if err != nil {
		return nil, fmt.Errorf("find: the connector sent a malformed record: %w", err)
	}
	return &rec, nil
}

func (c *grpcClientAdapter) Publish(ctx context.Context, r connector.Report) (connector.Published, error) {
	resp, err := c.client.Publish(ctx, &pb.PublishRequest{Report: reportToProto(r)}, callOptions...)
	if err != nil {
		return connector.Published{}, callError(ctx, err)
	}
	return publishedFromProto(resp), nil
}

// callError rebuilds the connector's error from a failed call's status: the
// same text, and the *Error, *ConfigError or ErrUnsupported it carried, so
// errors.As, errors.Is and ClassOf answer as they would in-process. An error
// without a Failure detail did not come from the connector: when ctx ended
// it is ctx's cause (context.Canceled, DeadlineExceeded or what the caller
// gave), otherwise the gRPC status error of the broken transport.
func callError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if ok {
		for _, d := range st.Details() {
			if f, ok := d.(*pb.Failure); ok {
				return failureError(f)
			}
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

func failureError(f *pb.Failure) error {
	var causes []error
	if f.GetConfig() != nil {
		causes = append(causes, configErrorFromProto(f.GetConfig()))
	}
	if f.GetClassified() != nil {
		causes = append(causes, errorFromProto(f.GetClassified()))
	}
	if f.GetUnsupported() {
		causes = append(causes, connector.ErrUnsupported)
	}
	if len(causes) == 1 && causes[0].Error() == f.GetMessage() {
		return causes[0] // the connector returned it as is
	}
	return &remoteError{msg: f.GetMessage(), causes: causes}
}

// remoteError is a connector's error that wrapped one of the sdk's: its
// text verbatim, unwrapping to what it wrapped.
type remoteError struct {
	msg    string
	causes []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.causes }
