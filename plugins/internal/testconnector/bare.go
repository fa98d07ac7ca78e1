package testconnector

import (
	"context"
	"fmt"
	"io"

	"github.com/hashicorp/go-plugin"
	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BarePlugin is the benchmark baseline: a go-plugin gRPC plugin whose Pull
// streams protocol messages built once, and whose client counts the records
// it receives. It measures what go-plugin, gRPC and protobuf cost on their
// own, without the SDK's conversions.
type BarePlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

// GRPCServer serves the bare Pull.
func (BarePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterConnectorServer(s, bareServer{})
	return nil
}

// GRPCClient returns a *BareClient.
func (BarePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &BareClient{client: pb.NewConnectorClient(c)}, nil
}

// BareClient pulls from a bare server.
type BareClient struct {
	client pb.ConnectorClient
}

// NewBareClient returns a BareClient over conn.
func NewBareClient(conn grpc.ClientConnInterface) *BareClient {
	return &BareClient{client: pb.NewConnectorClient(conn)}
}

// Pull asks for batches batches of records records of about size bytes and
// returns how many records arrived.
func (c *BareClient) Pull(ctx context.Context, batches, records, size int) (int, error) {
	stream, err := c.client.Pull(ctx, &pb.PullRequest{Cursor: fmt.Sprintf("%d:%d:%d", batches, records, size)})
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += len(msg.GetRecords())
	}
}

type bareServer struct {
	pb.UnimplementedConnectorServer
}

// RegisterBareServer registers the bare Pull on s.
func RegisterBareServer(s *grpc.Server) { pb.RegisterConnectorServer(s, bareServer{}) }

func (bareServer) Pull(req *pb.PullRequest, stream pb.Connector_PullServer) error {
	var batches, records, size int
	if _, err := fmt.Sscanf(req.GetCursor(), "%d:%d:%d", &batches, &records, &size); err != nil {
		return fmt.Errorf("bare pull: cursor %q: %w", req.GetCursor(), err)
	}
	msg := &pb.PullResponse{EndOfBatch: true, Cursor: "c"}
	for _, r := range makeBatch(records, size) {
		msg.Records = append(msg.Records, &pb.Record{
			ExternalId: r.ExternalID, Version: r.Version, UpdatedAt: timestamppb.New(r.UpdatedAt), Fields: r.Fields,
		})
	}
	for range batches {
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	return nil
}
