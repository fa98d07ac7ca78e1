package procs

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// binary copies the system's sleep to a path of its own, so that no other
// process on the machine runs the same binary.
func binary(t *testing.T) string {
	t.Helper()
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("this test needs sleep(1): %v", err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), "procs-sleep")
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// A child is found by its binary and parent, a zombie is not live, and
// WaitGone returns once it is reaped.
func TestRunningChildrenZombie(t *testing.T) {
	exe := binary(t)
	cmd := exec.Command(exe, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if got := Running(exe); !slices.Equal(got, []int{pid}) {
		t.Fatalf("Running = %v, want [%d]", got, pid)
	}
	if got := Children(exe, os.Getpid()); !slices.Equal(got, []int{pid}) {
		t.Fatalf("Children(me) = %v, want [%d]", got, pid)
	}
	if got := Children(exe, pid); len(got) != 0 {
		t.Fatalf("Children(child) = %v, want none", got)
	}
	if ppid, err := ParentOf(pid); err != nil || ppid != os.Getpid() {
		t.Fatalf("ParentOf = %d, %v; want %d", ppid, err, os.Getpid())
	}
	if !KillChild(exe, os.Getpid()) {
		t.Fatal("KillChild killed nothing")
	}
	// Killed but not reaped: a zombie, which no longer counts as running.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := Stat(pid)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed child is in state %q, not a zombie", st.State)
		}
		time.Sleep(time.Millisecond)
	}
	if got := Running(exe); len(got) != 0 {
		t.Fatalf("Running counts the zombie: %v", got)
	}
	_ = cmd.Wait()
	WaitGone(t, exe, time.Second)
	if _, err := Stat(pid); err == nil {
		t.Fatal("Stat of a reaped process succeeded")
	}
}

// RunAndKill kills the connector a run launched, lets a run end by itself,
// and kills the run itself.
func TestRunAndKill(t *testing.T) {
	exe := binary(t)
	// A stand-in for usmhub: it launches the "connector" and goes on
	// (exiting) when the connector dies.
	hub := func() *exec.Cmd { return exec.Command("sh", "-c", exe+" 30; exit 3") }

	killed, took := RunAndKill(t, hub(), exe, VictimConnector, 10*time.Millisecond, 10*time.Second)
	if !killed {
		t.Fatalf("connector: killed %v after %s, want a kill", killed, took)
	}
	WaitGone(t, exe, 5*time.Second)

	killed, _ = RunAndKill(t, exec.Command("true"), exe, VictimNone, time.Millisecond, 10*time.Second)
	if killed {
		t.Fatal("no victim, yet a kill")
	}

	cmd := exec.Command(exe, "30")
	killed, took = RunAndKill(t, cmd, exe, VictimHub, 10*time.Millisecond, 10*time.Second)
	if !killed || cmd.ProcessState.Success() {
		t.Fatalf("hub: killed %v after %s (%v), want a kill", killed, took, cmd.ProcessState)
	}
	WaitGone(t, exe, 5*time.Second)
}

// fatalTB records a Fatalf and ends the goroutine as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// WaitGone fails the test, naming the process, when one still runs exe
// after the bound.
func TestWaitGoneFails(t *testing.T) {
	exe := binary(t)
	cmd := exec.Command(exe, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); WaitGone(f, exe, 20*time.Millisecond) }()
	<-done
	if want := fmt.Sprintf("connector processes [%d] still run", cmd.Process.Pid); !strings.HasPrefix(f.msg, want) {
		t.Fatalf("WaitGone with a live process: %q, want it to fail with %q…", f.msg, want)
	}
}
