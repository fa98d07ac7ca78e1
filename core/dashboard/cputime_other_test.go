//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package dashboard

import "time"

// cpuTime is unknown here; the benchmark reports no CPU figure.
func cpuTime() time.Duration { return 0 }
