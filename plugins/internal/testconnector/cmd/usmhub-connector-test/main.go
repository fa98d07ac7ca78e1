// Command usmhub-connector-test serves the test connector of package
// testconnector; plugins/host's TestMain builds it. Environment variables
// (inherited from the hub) steer what must go wrong before any config
// arrives:
//
//	USMHUB_TESTCONNECTOR_HANDSHAKE_VERSION  answer the handshake with this protocol version
//	USMHUB_TESTCONNECTOR_DESCRIBE_VERSION   report this protocol version in Describe
//	USMHUB_TESTCONNECTOR_BARE=1             serve the bare benchmark baseline (testconnector.BarePlugin)
//	USMHUB_TESTCONNECTOR_KILL_STARTS=FILE   while FILE holds a number N > 0, write N-1 to it and
//	                                        SIGKILL this process before the handshake: the next N
//	                                        starts die as a plugin killed while it starts
package main

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/usmhub/usmhub/plugins/internal/testconnector"
	"github.com/usmhub/usmhub/plugins/internal/wire"
	"github.com/usmhub/usmhub/plugins/sdk"
)

func main() {
	if path := os.Getenv("USMHUB_TESTCONNECTOR_KILL_STARTS"); path != "" {
		killStart(path)
	}
	describe := wire.ProtocolVersion
	if v, err := strconv.Atoi(os.Getenv("USMHUB_TESTCONNECTOR_DESCRIBE_VERSION")); err == nil {
		describe = v
	}
	cfg := wire.ServeConfig(testconnector.New, describe, sdk.Logger())
	cfg.HandshakeConfig = wire.Handshake(wire.ProtocolVersion)
	if v, err := strconv.Atoi(os.Getenv("USMHUB_TESTCONNECTOR_HANDSHAKE_VERSION")); err == nil {
		cfg.HandshakeConfig = wire.Handshake(v)
	}
	if os.Getenv("USMHUB_TESTCONNECTOR_BARE") == "1" {
		cfg.Plugins = plugin.PluginSet{wire.PluginName: &testconnector.BarePlugin{}}
	}
	plugin.Serve(cfg)
}

// killStart kills this process, before it says anything to the host, when
// the file at path holds a number above zero, which it decrements first.
func killStart(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(n-1)), 0o600); err != nil {
		return
	}
	self, err := os.FindProcess(os.Getpid())
	if err == nil {
		_ = self.Kill() // SIGKILL on Unix
	}
	time.Sleep(time.Minute) // until the signal lands
}
