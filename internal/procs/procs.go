// Package procs finds, inspects, kills and waits for the processes of the
// tests that run usmhub for real (the CLI tests and the end-to-end suites):
// the usmhub a test launches and the connector plugin processes that
// usmhub launches in turn. It reads Linux's /proc, where a
// connector is known by the binary it runs (/proc/PID/exe) and by its
// parent (/proc/PID/stat), so a suite can kill the connector of one run and
// prove no connector outlives its hub.
package procs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// State is what /proc/PID/stat says of a process.
type State struct {
	// State is the one-letter state: R, S, D, Z (zombie), X (dead), ...
	State string
	// PPid is the parent's process id.
	PPid int
}

// Stat reads a process's state and parent from /proc/PID/stat.
func Stat(pid int) (State, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return State{}, err
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return State{}, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ppid, _ := strconv.Atoi(f[1])
	return State{State: f[0], PPid: ppid}, nil
}

// ParentOf returns the parent of process pid.
func ParentOf(pid int) (int, error) {
	st, err := Stat(pid)
	return st.PPid, err
}

// Running returns the live processes running the binary at the absolute
// path exe; zombies and processes gone while it looked are left out.
func Running(exe string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || strings.TrimSuffix(target, " (deleted)") != exe {
			continue
		}
		if st, err := Stat(pid); err == nil && st.State != "Z" && st.State != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Children returns the live processes running exe whose parent is parent.
func Children(exe string, parent int) []int {
	var out []int
	for _, pid := range Running(exe) {
		if st, err := Stat(pid); err == nil && st.PPid == parent {
			out = append(out, pid)
		}
	}
	return out
}

// KillChild SIGKILLs the first live process running exe whose parent is
// parent and reports whether it killed one.
func KillChild(exe string, parent int) bool {
	for _, pid := range Children(exe, parent) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			return true
		}
	}
	return false
}

// WaitGone waits until no process runs exe and fails the test if one still
// does after within (the connectors of a usmhub that ended, killed or not,
// must end with it).
func WaitGone(t testing.TB, exe string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		pids := Running(exe)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connector processes %v still run %s after their usmhub ended", pids, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The victims RunAndKill takes.
const (
	// VictimNone lets the run end by itself.
	VictimNone = ""
	// VictimHub SIGKILLs the started command (usmhub) itself.
	VictimHub = "usmhub"
	// VictimConnector SIGKILLs a connector process (running plugin) the
	// command launched.
	VictimConnector = "connector"
)

// RunAndKill starts cmd (a usmhub sync) and, after delay unless it ends
// first, SIGKILLs it (victim VictimHub) or a connector process it launched
// running the binary plugin (VictimConnector; tried every 2 ms until one
// runs), or lets it end (VictimNone). It then waits for cmd to end; if that
// takes longer than bound it kills cmd and fails the test with cmd's
// stderr. It reports whether a kill landed and how long the run took. It
// sets cmd's Stdout and Stderr.
func RunAndKill(t testing.TB, cmd *exec.Cmd, plugin, victim string, delay, bound time.Duration) (bool, time.Duration) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killed := false
	timer := time.After(delay)
	ended := false
wait:
	for victim != VictimNone {
		select {
		case <-done:
			ended = true
			break wait
		case <-timer:
			if victim == VictimHub {
				killed = cmd.Process.Signal(syscall.SIGKILL) == nil
				break wait
			}
			if KillChild(plugin, cmd.Process.Pid) {
				killed = true
				break wait
			}
			timer = time.After(2 * time.Millisecond)
		}
	}
	if !ended {
		select {
		case <-done:
		case <-time.After(bound):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			t.Errorf("a run did not end within %s (victim %q); killed\nstderr: %s", bound, victim, errb.String())
		}
	}
	return killed, time.Since(start)
}
