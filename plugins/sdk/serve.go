package sdk

import (
	"os"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	_ "github.com/usmhub/usmhub/plugins/internal/warmcurve" // begins AutoMTLS's P-521 work during init
	"github.com/usmhub/usmhub/plugins/internal/wire"
)

// EnvLogLevel names the environment variable through which the host tells a
// connector plugin the level to log at (trace, debug, info, warn, error).
// Unset, a plugin logs at info.
const EnvLogLevel = "USMHUB_CONNECTOR_LOG_LEVEL"

// EnvStateDir names the environment variable through which the hub tells a
// connector plugin a folder it may keep state in between launches (caches,
// such as ETags): <data_dir>/connectors, which the connector creates when
// it first writes there. The hub launches plugins without its own
// environment (no HOME), so a connector must not rely on the user's cache
// folder. Unset (tests, a run by hand), a connector chooses.
const EnvStateDir = "USMHUB_CONNECTOR_STATE_DIR"

var (
	loggerOnce sync.Once
	logger     hclog.Logger
)

// Logger returns the connector's logger. It writes JSON lines to the
// plugin's stderr, which the host reads and relays into the hub's log under
// the connector instance's name ("connector.<type>.<name>"), at the level
// each line was logged at. Log with key/value pairs, and never log a
// sensitive config value.
//
// A connector must not write to stdout: go-plugin owns it.
func Logger() hclog.Logger {
	loggerOnce.Do(func() {
		logger = hclog.New(&hclog.LoggerOptions{
			Level:      hclog.LevelFromString(levelFromEnv()),
			Output:     os.Stderr, // the real stderr, captured before go-plugin swaps os.Stderr
			JSONFormat: true,
		})
	})
	return logger
}

func levelFromEnv() string {
	if l := os.Getenv(EnvLogLevel); hclog.LevelFromString(l) != hclog.NoLevel {
		return l
	}
	return "info"
}

// Serve runs a connector plugin: it answers the host's handshake and serves
// the connector over gRPC until the host closes it. A connector's main is
// one line:
//
//	func main() { sdk.Serve(New) }
//
// factory is called once per plugin process, before the first call. Serve
// does not return normally; run by hand (not by the hub), the binary prints
// that it is a plugin and exits with status 1.
func Serve(factory func() Connector) {
	plugin.Serve(wire.ServeConfig(factory, wire.ProtocolVersion, Logger()))
}
