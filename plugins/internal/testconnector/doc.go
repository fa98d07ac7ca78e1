// Package testconnector is a connector for plugins/host's own tests and
// benchmarks; cmd/usmhub-connector-test serves it as a plugin binary. Its
// behaviour is steered by its config (how many batches of how many records
// of what size, a pause between batches, a crash after some batches) and,
// for what must go wrong before any config arrives, by environment
// variables (see the command). It keeps pushed risks in memory, so Push,
// Find and Publish work too.
//
// It also provides BarePlugin, the benchmark baseline: the same stream of
// records as protocol messages built once, with no SDK conversion on either
// side.
//
// It is not a usable connector; connectors/file is the reference one.
package testconnector
