package connectortest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/plugins/host"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// The three ways to hand Run a connector:
//
//	connectortest.Run(t, func(*testing.T) sdk.Connector { return New() }, fx) // the value itself
//	connectortest.Run(t, connectortest.InProcess(New), fx)                    // over real gRPC
//	connectortest.Run(t, connectortest.Binary(path), fx)                      // a built plugin binary
//
// A connector must pass all three the same way; the last two prove that
// what it says survives the protocol (classes of errors, config problems,
// nil Find results, batch boundaries).
//
// Tests of plugins/host itself that use the kit must live in package
// host_test: the kit imports host.

// InProcess returns a connector factory for Run that serves a fresh
// connector from factory inside the test process and calls it over real
// gRPC (host.InProcess): every call is encoded, sent, decoded and converted
// back, as for a plugin binary, less the process and AutoMTLS.
func InProcess(factory func() sdk.Connector) func(t *testing.T) sdk.Connector {
	return func(t *testing.T) sdk.Connector {
		t.Helper()
		conn, stop, err := host.InProcess(factory)
		if err != nil {
			t.Fatalf("connectortest: serve the connector in-process over gRPC: %v", err)
		}
		t.Cleanup(stop)
		return conn
	}
}

// Binary returns a connector factory for Run that launches the plugin
// binary at path (named usmhub-connector-<type>) through plugins/host as
// the hub does: pinned to its sha256, gRPC only, Managed, AutoMTLS, the
// versioned handshake and the Describe fingerprint. Each check gets its own
// plugin process, killed when the check ends.
func Binary(path string) func(t *testing.T) sdk.Connector {
	return func(t *testing.T) sdk.Connector {
		t.Helper()
		dir, name := filepath.Split(path)
		typ, ok := strings.CutPrefix(strings.TrimSuffix(name, ".exe"), host.BinaryPrefix)
		if !ok {
			t.Fatalf("connectortest: plugin binary %s is not named %s<type>", path, host.BinaryPrefix)
		}
		pin, err := host.FileSHA256(path)
		if err != nil {
			t.Fatalf("connectortest: plugin binary: %v", err)
		}
		h, err := host.New(host.Options{Dirs: []string{dir}})
		if err != nil {
			t.Fatalf("connectortest: plugin host: %v", err)
		}
		t.Cleanup(func() { _ = h.Close() })
		inst, err := h.Launch(t.Context(), typ, "conformance", pin)
		if err != nil {
			t.Fatalf("connectortest: launch %s: %v", path, err)
		}
		return inst
	}
}

// BuildBinary builds the connector's main package pkg (an import path, or
// a ./relative folder resolved against the current directory, which under
// go test is the test's package folder) into dir as the plugin binary of
// connector type typ, and returns its path. TestMain calls it, so that the
// tests run the connector exactly as the hub would, built as `make build`
// builds connectors: static (CGO_ENABLED=0), with the grpcnotrace tag and
// -ldflags '-s -w' (the Makefile's CONNECTOR_GOENV and CONNECTOR_GOFLAGS).
func BuildBinary(pkg, typ, dir string) (string, error) {
	exe := filepath.Join(dir, host.BinaryPrefix+typ)
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	cmd := exec.Command("go", "build", "-tags", "grpcnotrace", "-ldflags", "-s -w", "-o", exe, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build -o %s %s: %w\n%s", exe, pkg, err, out)
	}
	return exe, nil
}
