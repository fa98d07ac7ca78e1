// Package testconnectors holds, in its sub-packages, the connectors that
// exist only for tests; none is built by make build or installed.
//
//   - fault (and cmd/usmhub-connector-fault): a scriptable connector whose
//     remote is a JSON file in a folder, with faults and deterministic crash
//     points, for the engine's tests in core/reconcile and
//     the crash tests of e2e/crash.
//
// Being under the module's internal/, they are importable by core, cmd,
// plugins and e2e alike, and by nothing outside the module. The test
// connector of plugins/host (plugins/internal/testconnector) is the one
// test-only connector that is not here: it serves the plugin protocol's
// internals (a wrong handshake, the bare benchmark protocol) through
// plugins/internal/wire, which Go's internal rule lets only packages under
// plugins/ import.
//
// The public kit for connector authors stays public: plugins/connectortest.
package testconnectors
