package testconnector

import (
	"bytes"
	"context"
	"io"

	"github.com/hashicorp/go-plugin"
	"github.com/usmhub/usmhub/plugins/internal/connectorpb/benchpb"
	"google.golang.org/grpc"
)

// BarePlugin is the benchmark baseline: a go-plugin gRPC plugin whose Pull
// streams batches of opaque records (protocol bench.proto: one message per
// batch, each record a bytes payload), built once, and whose client counts
// the records it receives. It measures what go-plugin, gRPC, TLS and
// protobuf cost on their own for the same volume of records: no SDK, no
// conversion, no per-field encoding.
type BarePlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

// GRPCServer serves the bare Pull.
func (BarePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterBareServer(s)
	return nil
}

// GRPCClient returns a *BareClient.
func (BarePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewBareClient(c), nil
}

// BareClient pulls from a bare server.
type BareClient struct {
	client benchpb.BareClient
}

// NewBareClient returns a BareClient over conn.
func NewBareClient(conn grpc.ClientConnInterface) *BareClient {
	return &BareClient{client: benchpb.NewBareClient(conn)}
}

// Pull asks for batches batches of records records of size bytes each and
// returns how many records arrived.
func (c *BareClient) Pull(ctx context.Context, batches, records, size int) (int, error) {
	stream, err := c.client.Pull(ctx, &benchpb.PullRequest{Batches: int64(batches), Records: int64(records), RecordBytes: int64(size)},
		grpc.MaxCallRecvMsgSize(64<<20))
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
	benchpb.UnimplementedBareServer
}

// RegisterBareServer registers the bare Pull on s.
func RegisterBareServer(s *grpc.Server) { benchpb.RegisterBareServer(s, bareServer{}) }

func (bareServer) Pull(req *benchpb.PullRequest, stream benchpb.Bare_PullServer) error {
	records, size := int(req.GetRecords()), int(req.GetRecordBytes())
	msg := &benchpb.Batch{Records: make([][]byte, records), Cursor: "c"}
	payload := bytes.Repeat([]byte("x"), size)
	for i := range msg.Records {
		msg.Records[i] = payload
	}
	for range req.GetBatches() {
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	return nil
}
