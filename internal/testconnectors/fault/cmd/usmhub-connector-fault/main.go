// Command usmhub-connector-fault serves the fault connector (package
// internal/testconnectors/fault) as a plugin binary, for tests that must crash,
// kill or relaunch a real plugin process.
package main

import (
	"github.com/usmhub/usmhub/internal/testconnectors/fault"
	"github.com/usmhub/usmhub/plugins/sdk"
)

func main() { sdk.Serve(fault.New) }
