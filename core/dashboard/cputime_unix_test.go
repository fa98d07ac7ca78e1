//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package dashboard

import (
	"syscall"
	"time"
)

// cpuTime is the user and system CPU time this process has used: a measure
// of work that other processes on a busy machine do not inflate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
