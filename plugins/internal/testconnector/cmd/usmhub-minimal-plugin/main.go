// Command usmhub-minimal-plugin is the floor of a plugin launch on a
// machine: the smallest go-plugin gRPC plugin there is, a main with only
// go-plugin, gRPC and the generated bench protocol (the bare Pull of
// plugins/internal/proto/bench.proto), no SDK, no connector code; it logs
// at info level, as connectors do by default (go-plugin's own default is
// trace, whose lines the hub would read and relay at every launch). plugins/host's BenchmarkLaunchMinimal launches it
// with AutoMTLS the way BenchmarkLaunchBare launches the test connector,
// to tell what go-plugin, gRPC, TLS and the Go runtime cost on their own
// from what the connector binaries add.
package main

import (
	"context"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/usmhub/usmhub/plugins/internal/connectorpb/benchpb"
	"google.golang.org/grpc"
)

// The handshake of the minimal plugin; plugins/host's benchmark uses the
// same values.
const (
	cookieKey   = "USMHUB_MINIMAL_PLUGIN_COOKIE"
	cookieValue = "minimal"
	pluginName  = "minimal"
)

type minimalPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (minimalPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	benchpb.RegisterBareServer(s, server{})
	return nil
}

func (minimalPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil // the plugin side only serves
}

type server struct {
	benchpb.UnimplementedBareServer
}

// Pull answers with one batch of as many empty records as asked.
func (server) Pull(req *benchpb.PullRequest, stream benchpb.Bare_PullServer) error {
	return stream.Send(&benchpb.Batch{Records: make([][]byte, req.GetRecords()), Cursor: "c"})
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: cookieKey, MagicCookieValue: cookieValue},
		Plugins:         plugin.PluginSet{pluginName: minimalPlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: os.Stderr, JSONFormat: true}),
	})
}
