//go:build unix

package host

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) this process has used,
// and its children that have been waited for: the plugins it launched and
// closed.
func processCPU() (self, children time.Duration, ok bool) {
	var s, c syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &s) != nil || syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c) != nil {
		return 0, 0, false
	}
	return time.Duration(s.Utime.Nano() + s.Stime.Nano()), time.Duration(c.Utime.Nano() + c.Stime.Nano()), true
}
