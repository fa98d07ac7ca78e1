package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/usmhub/usmhub/plugins/internal/wire"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// InProcess serves the connector that factory builds inside this process
// and returns an sdk.Connector that calls it over real gRPC: go-plugin's
// test mode (plugin.ServeConfig.Test) serves wire.ServeConfig(factory, ...) on a
// unix socket, and a go-plugin client reattaches to it and dispenses the
// connector, exactly as the host does with a binary, less the process, the
// handshake and AutoMTLS. Every call is encoded, sent, decoded and converted
// back, so a connector that passes through InProcess behaves the same out
// of process. No timeouts or relaunches are added (that is Instance's job).
//
// stop closes the client and the server and waits for the server to end;
// call it once. The conformance kit and benchmarks use InProcess;
// the hub uses Host.Launch.
func InProcess(factory func() sdk.Connector) (conn sdk.Connector, stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	cfg := wire.ServeConfig(factory, wire.ProtocolVersion, hclog.New(&hclog.LoggerOptions{
		Name: "connector.inprocess.server", Level: hclog.Warn, Output: os.Stderr,
	}))
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed}
	go plugin.Serve(cfg)

	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-closed:
		cancel()
		return nil, nil, errors.New("in-process connector: server ended before it listened")
	case <-time.After(DefaultStartTimeout):
		cancel()
		return nil, nil, errors.New("in-process connector: server did not listen within the start timeout")
	}
	serverStop := func() {
		cancel()
		<-closed
	}

	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake(wire.ProtocolVersion),
		Plugins:          wire.ClientPlugins(),
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "connector.inprocess", Level: hclog.Warn, Output: os.Stderr,
		}),
	})
	rpc, err := client.Client()
	if err != nil {
		serverStop()
		return nil, nil, fmt.Errorf("in-process connector: connect: %w", err)
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		_ = rpc.Close()
		serverStop()
		return nil, nil, fmt.Errorf("in-process connector: dispense: %w", err)
	}
	conn, ok := raw.(sdk.Connector)
	if !ok {
		_ = rpc.Close()
		serverStop()
		return nil, nil, fmt.Errorf("in-process connector: dispensed %T, not a connector", raw)
	}
	// In test mode client.Kill leaves the server alone and closes nothing:
	// close the gRPC client ourselves, then end the server.
	// Closing the client makes go-plugin stop the server; cancelling the
	// context stops it too, and its Stop is not safe to run twice at once:
	// wait for the first stop to end before cancelling.
	return conn, func() {
		_ = rpc.Close()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
		}
		serverStop()
	}, nil
}
