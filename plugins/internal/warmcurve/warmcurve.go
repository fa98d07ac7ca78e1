// Package warmcurve makes a connector plugin's start shorter: in a process
// that a hub launched with AutoMTLS (go-plugin's PLUGIN_CLIENT_CERT is set),
// it starts building the P-521 generator table in the background as soon as
// it is initialised, while the rest of the plugin's packages initialise.
// The hub's plugins/host calls Warm in the background at its first launch,
// for the certificate go-plugin makes there before the exec.
//
// go-plugin makes the plugin's own TLS certificate with a fresh P-521 key
// before the plugin can answer the handshake, and a process's first P-521
// key builds the curve's generator table (crypto/internal/fips140/nistec,
// a sync.Once): about 5 ms of CPU on the critical path of every launch.
// Begun here, that work runs on another core during package init; the key
// made here is thrown away, and the table is the one go-plugin's key then
// uses. Elsewhere (the hub imports the SDK too) it does nothing. It costs
// 1-2 ms more CPU (its own scalar multiplication, a thread started
// earlier) for 3-4 ms less from exec to the handshake line on an idle core
// (docs/BENCHMARKS.md).
//
// plugins/sdk imports it for its side effect only. It imports nothing but
// os and crypto/ecdh (not crypto/rand, which needs math/big), so that Go
// initialises it early: before gRPC, protobuf and go-plugin, whose package
// init is most of the rest.
package warmcurve

import (
	"crypto/ecdh"
	"os"
)

// EnvClientCert is the variable through which go-plugin's AutoMTLS hands a
// plugin the hub's certificate.
const EnvClientCert = "PLUGIN_CLIENT_CERT"

func init() {
	if os.Getenv(EnvClientCert) != "" {
		go Warm()
	}
}

// Warm builds the P-521 generator table, if no one did yet (crypto/ecdh
// and crypto/ecdsa share it): it computes the public key of the P-521
// private scalar 1, whose public key is the curve's generator. No secret
// is involved and nothing is kept.
func Warm() { _, _ = warm() }

// warm returns the key Warm makes, for the test.
func warm() (*ecdh.PrivateKey, error) {
	one := make([]byte, 66) // a P-521 scalar is 66 bytes, big-endian
	one[len(one)-1] = 1
	return ecdh.P521().NewPrivateKey(one)
}
