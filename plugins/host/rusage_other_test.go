//go:build !unix

package host

import "time"

// processCPU is not measured here.
func processCPU() (self, children time.Duration, ok bool) { return 0, 0, false }
