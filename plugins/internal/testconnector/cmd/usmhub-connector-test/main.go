// Command usmhub-connector-test serves the test connector of package
// testconnector; plugins/host's TestMain builds it. Environment variables
// (inherited from the hub) steer what must go wrong before any config
// arrives:
//
//	USMHUB_TESTCONNECTOR_HANDSHAKE_VERSION  answer the handshake with this protocol version
//	USMHUB_TESTCONNECTOR_DESCRIBE_VERSION   report this protocol version in Describe
//	USMHUB_TESTCONNECTOR_BARE=1             serve the bare benchmark baseline (testconnector.BarePlugin)
package main

import (
	"os"
	"strconv"

	"github.com/hashicorp/go-plugin"
	"github.com/usmhub/usmhub/plugins/internal/testconnector"
	"github.com/usmhub/usmhub/plugins/sdk"
)

func main() {
	if v, err := strconv.Atoi(os.Getenv("USMHUB_TESTCONNECTOR_HANDSHAKE_VERSION")); err == nil {
		sdk.Handshake.ProtocolVersion = uint(v)
	}
	if os.Getenv("USMHUB_TESTCONNECTOR_BARE") == "1" {
		cfg := sdk.ServeConfig(testconnector.New)
		cfg.Plugins = plugin.PluginSet{sdk.PluginName: &testconnector.BarePlugin{}}
		plugin.Serve(cfg)
		return
	}
	sdk.Serve(testconnector.New)
}
