// Package connectorpb holds the Go code generated from the connector
// protocol, plugins/internal/proto/connector.proto. It is internal to
// plugins/: package sdk converts between these messages and its Go-native
// types (plugins/sdk/convert.go), and nothing else in usmhub imports it.
// Its package benchpb holds that of bench.proto, the pull benchmarks' bare
// baseline (plugins/internal/testconnector).
//
// Do not edit the *.pb.go files; change the .proto and run go generate
// (or make proto). gen_test.go proves the committed files are current.
package connectorpb

//go:generate ../proto/gen.sh
