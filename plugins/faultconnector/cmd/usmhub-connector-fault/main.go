// Command usmhub-connector-fault serves the fault connector (package
// plugins/faultconnector) as a plugin binary, for tests that must crash,
// kill or relaunch a real plugin process.
package main

import (
	"github.com/usmhub/usmhub/plugins/faultconnector"
	"github.com/usmhub/usmhub/plugins/sdk"
)

func main() { sdk.Serve(faultconnector.New) }
