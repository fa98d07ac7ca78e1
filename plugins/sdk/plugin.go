package sdk

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/grpc"
)

// This file holds the go-plugin plumbing that the hub (plugins/host) and the
// conformance kit share with Serve. Connector authors need none of it: they
// call Serve.

// PluginName is the name under which a connector plugin dispenses its
// Connector (the key of go-plugin's plugin set).
const PluginName = "connector"

// Handshake is the go-plugin handshake a connector plugin and the hub must
// agree on. The magic cookie only keeps someone from running a plugin binary
// by hand; it is a usability guard, not a security measure (the host pins a
// binary by its sha256 for that).
//
// Its ProtocolVersion is the package's ProtocolVersion: a plugin built
// against another SDK version fails the handshake, before any call, and the
// host names both versions.
//
// Protocol history:
//
//	1  The first version: Describe, Configure, Check, Pull (server stream of
//	   batches, a batch may span several messages), Push, Find, Publish;
//	   failures travel as a Failure detail of the gRPC status.
//	2  Records and field maps in a hand-decoded encoding inside bytes fields
//	   (a Pull message carries a chunk of records as one bytes field; Find's
//	   record and the fields of a change or result likewise), update times
//	   as int64 Unix nanoseconds; protobuf package usmhub.connector.v2.
//	3  Records as protobuf messages again: a pulled or found Record names
//	   its fields by index into its message's table of names; a change's
//	   or result's fields are a map<string, string>; update times as int64
//	   Unix nanoseconds; strings must be UTF-8; protobuf package
//	   usmhub.connector.v3.
//
// Hosts and Serve read it; do not change it outside tests (a test plugin may,
// to pose as another protocol version).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "USMHUB_CONNECTOR_PLUGIN_COOKIE",
	MagicCookieValue: "7c2f9e41b0d85a36e1f4c7b29d063a58f1e2c4b7a9d0e3f6b8c1a4d7e0f3b6c9",
}

// maxMessageSize bounds one gRPC message either way (gRPC's default is
// 4 MiB). Pull cuts its batches into messages of about chunkSize (estimated
// by recordSize), so only a single record or a Push request larger than
// maxMessageSize fails.
const (
	maxMessageSize = 64 << 20
	chunkSize      = 1 << 20
)

// grpcServer builds the gRPC server of a connector plugin: go-plugin's
// default, with message size limits matching the client's.
func grpcServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))
	return grpc.NewServer(opts...)
}

// GRPCPlugin is the go-plugin plugin.GRPCPlugin of a connector.
//
// On the plugin side (Serve) Factory builds the Connector that GRPCServer
// serves; it is called once per plugin process. On the host side Factory is
// unused, and GRPCClient returns an sdk.Connector that makes each call over
// gRPC. The host type-asserts what go-plugin's Dispense returns to
// Connector.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Factory func() Connector
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the connector service on s.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Factory == nil {
		return errors.New("sdk.GRPCPlugin: no Factory to build the connector")
	}
	impl := p.Factory()
	if impl == nil {
		return errors.New("sdk.GRPCPlugin: Factory returned a nil Connector")
	}
	pb.RegisterConnectorServer(s, &grpcServerAdapter{impl: impl})
	return nil
}

// GRPCClient returns a Connector that calls the plugin over conn.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &grpcClientAdapter{client: pb.NewConnectorClient(conn)}, nil
}
