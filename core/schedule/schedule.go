// Package schedule runs usmhub's jobs — scheduled syncs and report
// publications — on cron schedules, never two runs of one job at a time.
//
// A Scheduler owns when a job runs and how its runs end: at most one run of
// each job at any moment (a scheduled tick that finds the job still running
// is skipped; so is a Trigger), an optional random delay (jitter) before each
// scheduled run so that many hubs or jobs do not hit a tool in the same
// second, a recovered panic counted as that run's error, and a graceful Stop
// that waits for running jobs before it cancels them.
//
// The package knows nothing of what a job does: it does not import the sync
// engine, the store, the config or the connectors. The daemon (core/daemon)
// builds the jobs, and records their results through Options.OnFinish.
//
// robfig/cron/v3 does the timing. Its logs go through the hclog logger given
// to New, at debug level; its default logger would write to stdout.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/robfig/cron/v3"
)

// Errors callers may test for with errors.Is.
var (
	// ErrUnknownJob: no job with that name was added.
	ErrUnknownJob = errors.New("unknown job")
	// ErrStopped: the scheduler is stopping or stopped; it starts no new runs.
	ErrStopped = errors.New("scheduler stopped")
)

// Job is one named unit of work on a cron schedule.
type Job struct {
	// Name identifies the job: in logs, metrics, and Trigger. Unique per
	// Scheduler.
	Name string
	// Spec is the cron schedule; see ValidateSpec. Empty: the job runs only
	// when triggered.
	Spec string
	// Run does the work. Its context is cancelled when Stop gives up
	// waiting: a job should then finish the page it is on, leave its state
	// consistent, and return. Run is never called concurrently with itself.
	Run func(ctx context.Context) error
}

// Result describes one finished run, as passed to Options.OnFinish.
type Result struct {
	// Job is the name of the job that ran.
	Job string
	// Triggered is true for a run started by Trigger, false for a run
	// started by the schedule.
	Triggered bool
	// Started is when the job's Run was called (after any jitter).
	Started time.Time
	// Duration is how long Run took.
	Duration time.Duration
	// Err is what Run returned, or the recovered panic as an error.
	Err error
}

// Options tune a Scheduler. The zero value is valid.
type Options struct {
	// Jitter is the largest random delay before each scheduled run; the
	// delay is drawn uniformly from [0, Jitter). Runs started by Trigger are
	// not delayed. Zero (the default) means no delay.
	Jitter time.Duration
	// Location is the time zone of the cron fields of specs without a
	// CRON_TZ= prefix. Nil means time.Local.
	Location *time.Location
	// OnFinish, if set, is called after every run, from the run's goroutine
	// and before the job counts as no longer running. It must not block for
	// long and must not call Stop.
	OnFinish func(Result)
}

// JobInfo is a snapshot of one job's state, as returned by Jobs.
type JobInfo struct {
	// Name and Spec are the job's.
	Name, Spec string
	// Running is true while a run of the job is under way.
	Running bool
	// Next is when the schedule next fires (before jitter); zero before
	// Start and after Stop.
	Next time.Time
}

// Scheduler runs jobs on their cron schedules and on demand.
//
// Lifecycle: New, then Add each job, then Start; Add also works after
// Start. Trigger runs a job now. Stop ends scheduling for good: a stopped
// Scheduler cannot be started again, and Add and Trigger then return
// ErrStopped. All methods are safe for concurrent use.
type Scheduler struct {
	logger   hclog.Logger
	opts     Options
	cron     *cron.Cron
	runCtx   context.Context    // the context of every run
	cancel   context.CancelFunc // cancels runCtx
	stopping chan struct{}      // closed by the first Stop; ends jitter waits
	done     chan struct{}      // closed once stopped and every run returned

	mu      sync.Mutex // guards jobs, started, stopped, and runs.Add
	jobs    map[string]*entry
	started bool
	stopped bool
	runs    sync.WaitGroup // runs and jitter waits under way
}

// entry is one added job.
type entry struct {
	job     Job
	sched   cron.Schedule
	id      cron.EntryID
	running atomic.Bool // the no-overlap guard: set while a run is under way
}

// New returns a Scheduler that logs through logger (nil: discard). It
// schedules nothing until Start.
func New(logger hclog.Logger, opts Options) *Scheduler {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		logger: logger,
		opts:   opts,
		cron: cron.New(
			cron.WithParser(specParser),
			cron.WithLocation(opts.Location),
			cron.WithLogger(cronLogger{logger.Named("cron")}),
		),
		runCtx:   ctx,
		cancel:   cancel,
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
		jobs:     make(map[string]*entry),
	}
}

// Add schedules job. It fails if the name is empty or taken, the spec is
// invalid (see ValidateSpec), Run is nil, or the scheduler is stopped.
func (s *Scheduler) Add(job Job) error {
	if job.Name == "" {
		return errors.New("adding a job: the job has no name")
	}
	if job.Run == nil {
		return fmt.Errorf("adding job %q: the job has no Run function", job.Name)
	}
	var sched cron.Schedule
	if job.Spec != "" {
		var err error
		if sched, err = parseSpec(job.Spec); err != nil {
			return fmt.Errorf("adding job %q: %w", job.Name, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return fmt.Errorf("adding job %q: %w", job.Name, ErrStopped)
	}
	if _, dup := s.jobs[job.Name]; dup {
		return fmt.Errorf("adding job %q: a job with that name is already scheduled; job names must be unique", job.Name)
	}
	e := &entry{job: job, sched: sched}
	if sched != nil { // a job without a spec runs only when triggered
		e.id = s.cron.Schedule(sched, cron.FuncJob(func() { s.tick(e) }))
	}
	s.jobs[job.Name] = e
	return nil
}

// Start starts running jobs on their schedules. It does not wait for the
// first run. Starting twice, or after Stop, does nothing.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	s.cron.Start()
	s.logger.Debug("scheduler started", "jobs", len(s.jobs))
}

// Trigger starts a run of the named job now, in the background, unless one
// is already under way: then it returns started=false and a nil error. It
// returns an error wrapping ErrUnknownJob for a name that was never added,
// and ErrStopped once Stop has been called. Trigger works before Start.
func (s *Scheduler) Trigger(name string) (started bool, err error) {
	return s.TriggerRun(name, "")
}

// runIDKey is the context key of a triggered run's id.
type runIDKey struct{}

// RunID returns the id TriggerRun gave the run whose context ctx is, or ""
// (a scheduled run, or one triggered without an id).
func RunID(ctx context.Context) string {
	id, _ := ctx.Value(runIDKey{}).(string)
	return id
}

// TriggerRun is Trigger with the run's id, which the job reads from its
// context with RunID: the HTTP trigger answers with it, and a sync run
// takes it as its own, so the caller can follow the run (usmhub log -run).
func (s *Scheduler) TriggerRun(name, runID string) (started bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.jobs[name]
	if !ok {
		return false, fmt.Errorf("triggering job %q: %w", name, ErrUnknownJob)
	}
	if s.stopped {
		return false, fmt.Errorf("triggering job %q: %w", name, ErrStopped)
	}
	if !e.running.CompareAndSwap(false, true) {
		s.logger.Debug("trigger ignored: the job is already running", "job", name)
		return false, nil
	}
	s.runs.Add(1)
	go s.run(e, true, runID)
	return true, nil
}

// Running reports whether a run of the named job is under way; false for
// an unknown name.
func (s *Scheduler) Running(name string) bool {
	s.mu.Lock()
	e, ok := s.jobs[name]
	s.mu.Unlock()
	return ok && e.running.Load()
}

// Jobs returns a snapshot of every job, sorted by name.
func (s *Scheduler) Jobs() []JobInfo {
	s.mu.Lock()
	entries := make([]*entry, 0, len(s.jobs))
	for _, e := range s.jobs {
		entries = append(entries, e)
	}
	s.mu.Unlock()

	next := make(map[cron.EntryID]time.Time, len(entries))
	for _, ce := range s.cron.Entries() {
		next[ce.ID] = ce.Next
	}
	s.mu.Lock()
	active := s.started && !s.stopped
	s.mu.Unlock()
	now := time.Now().In(s.opts.Location)
	infos := make([]JobInfo, 0, len(entries))
	for _, e := range entries {
		info := JobInfo{Name: e.job.Name, Spec: e.job.Spec, Running: e.running.Load()}
		if active {
			info.Next = next[e.id]
			if info.Next.IsZero() { // cron's loop has not planned this entry yet
				if e.sched != nil {
					info.Next = e.sched.Next(now)
				}
			}
		}
		infos = append(infos, info)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos
}

// Stop stops scheduling new runs and waits for the runs under way to
// return. If ctx is done first, Stop cancels the context of the runs still
// going — they should finish their current page and return — and returns
// an error wrapping ctx.Err() without waiting further; Done tells when they
// have returned. Calling Stop again waits again.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.stopping)
		s.cron.Stop()
		go func() {
			s.runs.Wait()
			close(s.done)
		}()
		if running := s.runningLocked(); len(running) > 0 {
			s.logger.Info("scheduler stopping: waiting for running jobs", "jobs", running)
		} else {
			s.logger.Debug("scheduler stopping")
		}
	}
	s.mu.Unlock()

	select {
	case <-s.done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		running := s.runningLocked()
		s.mu.Unlock()
		s.cancel()
		s.logger.Warn("stop deadline reached: cancelled the running jobs", "jobs", running)
		return fmt.Errorf("waiting for running jobs %v: %w", running, ctx.Err())
	}
}

// Done returns a channel that is closed once Stop has been called and
// every run has returned.
func (s *Scheduler) Done() <-chan struct{} {
	return s.done
}

// runningLocked lists the names of the jobs running now; s.mu is held.
func (s *Scheduler) runningLocked() []string {
	var names []string
	for name, e := range s.jobs {
		if e.running.Load() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// tick is what cron calls when e's schedule fires: wait out the jitter, then
// run e unless it is already running.
func (s *Scheduler) tick(e *entry) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.runs.Add(1)
	s.mu.Unlock()

	if s.opts.Jitter > 0 {
		t := time.NewTimer(rand.N(s.opts.Jitter))
		select {
		case <-t.C:
		case <-s.stopping:
			t.Stop()
			s.runs.Done()
			return
		}
	}
	if !e.running.CompareAndSwap(false, true) {
		s.logger.Debug("scheduled run skipped: the previous run is still going", "job", e.job.Name)
		s.runs.Done()
		return
	}
	s.run(e, false, "")
}

// run runs e once, with e.running already set and s.runs already counting
// this run; it clears both when done.
func (s *Scheduler) run(e *entry, triggered bool, runID string) {
	defer s.runs.Done()
	defer e.running.Store(false)

	name := e.job.Name
	cause := "schedule"
	if triggered {
		cause = "trigger"
	}
	s.logger.Info("run started", "job", name, "cause", cause)
	started := time.Now()
	err := s.call(e.job, runID)
	d := time.Since(started)
	if err != nil {
		s.logger.Error("run failed", "job", name, "cause", cause, "duration", d, "error", err)
	} else {
		s.logger.Info("run finished", "job", name, "cause", cause, "duration", d)
	}
	if s.opts.OnFinish != nil {
		s.opts.OnFinish(Result{Job: name, Triggered: triggered, Started: started, Duration: d, Err: err})
	}
}

// call calls job.Run, turning a panic into an error.
func (s *Scheduler) call(job Job, runID string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("job panicked", "job", job.Name, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("job %q panicked: %v", job.Name, r)
		}
	}()
	ctx := s.runCtx
	if runID != "" {
		ctx = context.WithValue(ctx, runIDKey{}, runID)
	}
	return job.Run(ctx)
}

// cronLogger is the hclog adapter for robfig/cron's logger: its routine
// messages (start, schedule, wake, run, stop) go to debug, its errors to
// error.
type cronLogger struct{ logger hclog.Logger }

// Info logs a routine cron message at debug level.
func (l cronLogger) Info(msg string, keysAndValues ...interface{}) {
	l.logger.Debug(msg, keysAndValues...)
}

// Error logs a cron error.
func (l cronLogger) Error(err error, msg string, keysAndValues ...interface{}) {
	l.logger.Error(msg, append([]interface{}{"error", err}, keysAndValues...)...)
}
