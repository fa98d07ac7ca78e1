//go:build !linux

package host

import "os/exec"

// setParentDeathSignal does nothing outside Linux: there a hub that is
// SIGKILLed leaves its plugins running until they notice their gRPC
// connection is gone. go-plugin's CleanupClients covers every other way out.
func setParentDeathSignal(*exec.Cmd) {}
