package host

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal asks the kernel to SIGKILL the plugin when its parent
// dies, so a hub killed with SIGKILL (which runs no cleanup) leaves no
// orphan. The signal fires when the OS thread that forked the plugin exits,
// not the process: plugins are therefore started from one locked thread
// that never exits (see launcher).
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
