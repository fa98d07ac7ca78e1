package wire

import (
	"context"
	"errors"
	"github.com/hashicorp/go-hclog"
	"github.com/usmhub/usmhub/core/connector"

	"github.com/hashicorp/go-plugin"
	pb "github.com/usmhub/usmhub/plugins/internal/connectorpb"
	"google.golang.org/grpc"
)

// ProtocolVersion is the connector protocol version of this wire. The host
// refuses a plugin that speaks another one; the plugin side stamps it into
// Describe's answer.
const ProtocolVersion = 3

// PluginName is the name under which a connector plugin dispenses its
// Connector (the key of go-plugin's plugin set).
const PluginName = "connector"

// Handshake returns the go-plugin handshake a connector plugin and the hub must
// agree on. The magic cookie only keeps someone from running a plugin binary
// by hand; it is a usability guard, not a security measure (the host pins a
// binary by its sha256 for that).
//
// version is the protocol version the handshake announces, ProtocolVersion
// everywhere except in test plugins that pose as another version: a plugin
// built against another SDK version fails the handshake, before any call,
// and the host names both versions.
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
// It is a function, not a variable, so no package can change the handshake
// of another.
func Handshake(version int) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  uint(version),
		MagicCookieKey:   "USMHUB_CONNECTOR_PLUGIN_COOKIE",
		MagicCookieValue: "7c2f9e41b0d85a36e1f4c7b29d063a58f1e2c4b7a9d0e3f6b8c1a4d7e0f3b6c9",
	}
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
	Factory func() connector.Connector
	// Version is the protocol version the plugin side stamps into
	// Describe's answer (ProtocolVersion when zero).
	Version int
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the connector service on s.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Factory == nil {
		return errors.New("wire.GRPCPlugin: no Factory to build the connector")
	}
	impl := p.Factory()
	if impl == nil {
		return errors.New("wire.GRPCPlugin: Factory returned a nil Connector")
	}
	version := p.Version
	if version == 0 {
		version = ProtocolVersion
	}
	pb.RegisterConnectorServer(s, &grpcServerAdapter{impl: impl, version: version})
	return nil
}

// GRPCClient returns a Connector that calls the plugin over conn.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &grpcClientAdapter{client: pb.NewConnectorClient(conn)}, nil
}

// ServeConfig is the go-plugin configuration a connector plugin serves with:
// the handshake of version (ProtocolVersion but in tests), gRPC only, the
// connector under PluginName, and logger. The SDK's Serve runs it; the host
// and tests use it to serve a connector in-process (go-plugin's test mode,
// ServeConfig.Test).
func ServeConfig(factory func() connector.Connector, version int, logger hclog.Logger) *plugin.ServeConfig {
	if version == 0 {
		version = ProtocolVersion
	}
	return &plugin.ServeConfig{
		HandshakeConfig: Handshake(version),
		Plugins:         plugin.PluginSet{PluginName: &GRPCPlugin{Factory: factory, Version: version}},
		GRPCServer:      grpcServer,
		Logger:          logger,
	}
}

// ClientPlugins is the plugin set a host dispenses a connector from.
func ClientPlugins() plugin.PluginSet {
	return plugin.PluginSet{PluginName: &GRPCPlugin{}}
}
