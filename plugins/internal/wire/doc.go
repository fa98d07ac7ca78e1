// Package wire carries the connector port (core/connector) between the hub
// and a connector plugin process: go-plugin's handshake and plugin set, the
// gRPC client and server adapters, and the conversion to and from the
// generated protobuf messages. The SDK's Serve uses the server side, the
// plugin host the client side; connector authors and the hub's core never
// see it.
package wire
