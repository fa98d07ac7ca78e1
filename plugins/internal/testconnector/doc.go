// Package testconnector is a connector for plugins/host's own tests and
// benchmarks; cmd/usmhub-connector-test serves it as a plugin binary. Its
// behaviour is steered by its config (how many batches of how many records
// of what size, a pause between batches, a crash after some batches) and,
// for what must go wrong before any config arrives, by environment
// variables (see the command). It keeps pushed risks in memory, so Push,
// Find and Publish work too. Project "leaky" makes it a connector that
// echoes its secret (token) in every error, refused change and log line,
// and "leaky-config" one that echoes it in Configure's refusal, to test
// the host's scrubbing.
//
// It also provides BarePlugin, the benchmark baseline: batches of as many
// records of as many bytes, each record an opaque bytes payload, in a
// message built once (plugins/internal/proto/bench.proto), with no SDK and
// no per-field encoding on either side: what go-plugin, gRPC, mTLS and
// protobuf cost on their own.
//
// It is not a usable connector; connectors/file is the reference one.
package testconnector
