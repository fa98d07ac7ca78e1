package fault

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// Crash points (Faults.CrashAt), each "op:where:n":
//
//	pull:after_page:N    a Pull has sent its N-th batch and more are to come
//	push:before_apply:N  the N-th Push call of the remote's life arrived;
//	                     the hub recorded what it sends, the remote is as it was
//	push:after_commit:N  Push saved the N-th write of the remote's life (and
//	                     the point spent) and has not answered: the remote
//	                     did it, the hub never hears
//
// How the plugin dies there (Faults.CrashHow):
//
//	exit  os.Exit(2): the hub sees its plugin exit mid-call (the default);
//	      after a pull's page, what gRPC had not delivered yet is lost
//	kill  SIGKILL itself
//	hold  if the folder holds a FIFO named crash.fifo, write the point and
//	      a newline to it (waiting for a reader), then block until killed:
//	      the test, reading the FIFO, knows the process is exactly there and
//	      kills the hub (the plugin follows it) or the plugin
const crashFIFO = "crash.fifo"

// crashPoint is a parsed crash point.
type crashPoint struct {
	op, where string
	n         int
}

func (p crashPoint) String() string { return p.op + ":" + p.where + ":" + strconv.Itoa(p.n) }

var crashWheres = map[string][]string{"pull": {"after_page"}, "push": {"before_apply", "after_commit"}}

// parseCrashPoint reads "op:where:n".
func parseCrashPoint(s string) (crashPoint, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return crashPoint{}, fmt.Errorf("crash point %q is not op:where:n (e.g. push:after_commit:1)", s)
	}
	p := crashPoint{op: parts[0], where: parts[1]}
	if !slices.Contains(crashWheres[p.op], p.where) {
		return crashPoint{}, fmt.Errorf("crash point %q: no such point (pull:after_page, push:before_apply, push:after_commit)", s)
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 1 {
		return crashPoint{}, fmt.Errorf("crash point %q: n must be a whole number from 1", s)
	}
	p.n = n
	return p, nil
}

// check validates the crash point and how.
func (f Faults) check() error {
	if f.CrashAt != "" {
		if _, err := parseCrashPoint(f.CrashAt); err != nil {
			return err
		}
	}
	switch f.CrashHow {
	case "", "exit", "kill", "hold":
		return nil
	}
	return fmt.Errorf("crash_how %q: want exit, kill or hold", f.CrashHow)
}

// spend reports whether at is the faults' crash point, not spent yet, and
// then marks it spent in s.
func spend(s *State, f Faults, at crashPoint) bool {
	want, err := parseCrashPoint(f.CrashAt)
	if f.CrashAt == "" || err != nil || want != at || slices.Contains(s.Spent, at.String()) {
		return false
	}
	s.Spent = append(s.Spent, at.String())
	return true
}

// reach dies at point at when it is the faults' crash point and not spent
// yet; count, when set, gives at's n from the remote's state.
func (c *Connector) reach(cfg *Config, f Faults, at crashPoint, count func(*State) int) error {
	want, err := parseCrashPoint(f.CrashAt)
	if f.CrashAt == "" || err != nil || want.op != at.op || want.where != at.where {
		return nil
	}
	var fire bool
	err = EditRemote(cfg.Dir, func(s *State) error {
		if count != nil {
			at.n = count(s)
		}
		fire = spend(s, f, at)
		return nil
	})
	if err != nil {
		return err
	}
	if fire {
		die(cfg, f)
	}
	return nil
}

// die ends the process at the crash point as f.CrashHow says.
func die(cfg *Config, f Faults) {
	sdk.Logger().Warn("crash point reached", "at", f.CrashAt, "how", f.CrashHow)
	switch f.CrashHow {
	case "kill":
		if self, err := os.FindProcess(os.Getpid()); err == nil {
			_ = self.Kill() // SIGKILL on Unix
		}
	case "hold":
		path := filepath.Join(cfg.Dir, crashFIFO)
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
			if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
				_, _ = fmt.Fprintln(w, f.CrashAt)
				_ = w.Close()
			}
		}
		for {
			time.Sleep(time.Hour) // until the test kills the hub or this plugin
		}
	}
	os.Exit(2)
}
