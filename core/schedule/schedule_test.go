package schedule

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// deadline bounds every wait in these tests. It is a deadline for a test
// that would otherwise hang, not a speed requirement.
const deadline = 20 * time.Second

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLogger returns a debug logger into a buffer that is printed if the
// test fails.
func newLogger(t *testing.T) (hclog.Logger, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("scheduler log:\n%s", buf.String())
		}
	})
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: buf}), buf
}

// newScheduler returns a scheduler that is stopped (with a short grace)
// when the test ends.
func newScheduler(t *testing.T, opts Options) (*Scheduler, *logBuffer) {
	t.Helper()
	logger, buf := newLogger(t)
	s := New(logger, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s, buf
}

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receive waits for a value on ch, failing the test at the deadline.
func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deadline):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestScheduledRun(t *testing.T) {
	results := make(chan Result, 10)
	s, buf := newScheduler(t, Options{OnFinish: func(r Result) { results <- r }})
	ran := make(chan struct{}, 10)
	job := Job{Name: "every-second", Spec: "@every 1s", Run: func(ctx context.Context) error {
		ran <- struct{}{}
		return nil
	}}
	if err := s.Add(job); err != nil {
		t.Fatal(err)
	}
	s.Start()
	if info := s.Jobs(); len(info) != 1 || info[0].Name != "every-second" || info[0].Spec != "@every 1s" || info[0].Next.IsZero() {
		t.Errorf("Jobs() = %+v, want every-second with a next run", info)
	}
	receive(t, "a scheduled run", ran)
	r := receive(t, "the run's result", results)
	if r.Job != "every-second" || r.Triggered || r.Err != nil || r.Started.IsZero() {
		t.Errorf("result = %+v, want a successful scheduled run of every-second", r)
	}
	// robfig/cron logs through the hclog adapter, not to stdout.
	waitFor(t, "the run to be logged", func() bool { return strings.Contains(buf.String(), "run finished") })
	logs := buf.String()
	for _, want := range []string{"test.cron: start", "job=every-second", "cause=schedule", "duration="} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestScheduledRunWithJitter(t *testing.T) {
	s, _ := newScheduler(t, Options{Jitter: 300 * time.Millisecond})
	ran := make(chan struct{}, 10)
	if err := s.Add(Job{Name: "j", Spec: "@every 1s", Run: func(ctx context.Context) error {
		ran <- struct{}{}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	receive(t, "a jittered scheduled run", ran)
}

func TestNoOverlappingRuns(t *testing.T) {
	var current, peak, runs atomic.Int32
	s, buf := newScheduler(t, Options{})
	slow := Job{Name: "slow", Spec: "@every 1s", Run: func(ctx context.Context) error {
		n := current.Add(1)
		defer current.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// Longer than the schedule's period, so that ticks find it running.
		time.Sleep(1500 * time.Millisecond)
		runs.Add(1)
		return nil
	}}
	if err := s.Add(slow); err != nil {
		t.Fatal(err)
	}
	s.Start()

	// Hammer Trigger while the schedule ticks.
	var refused atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				started, err := s.Trigger("slow")
				if err != nil {
					t.Errorf("Trigger: %v", err)
					return
				}
				if !started {
					refused.Add(1)
				}
			}
		}()
	}
	waitFor(t, "three runs", func() bool { return runs.Load() >= 3 })
	close(stop)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	if p := peak.Load(); p != 1 {
		t.Errorf("at most %d runs of one job overlapped, want 1", p)
	}
	if refused.Load() == 0 {
		t.Error("no Trigger was refused while the job was running")
	}
	if !strings.Contains(buf.String(), "scheduled run skipped: the previous run is still going: job=slow") {
		// Triggers keep the job busy, so some tick must have found it running.
		t.Errorf("no skipped tick was logged")
	}
}

func TestTriggerWhileRunning(t *testing.T) {
	results := make(chan Result, 10)
	s, _ := newScheduler(t, Options{OnFinish: func(r Result) { results <- r }})
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	if err := s.Add(Job{Name: "blocking", Spec: "@yearly", Run: func(ctx context.Context) error {
		entered <- struct{}{}
		<-release
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	s.Start()

	started, err := s.Trigger("blocking")
	if err != nil || !started {
		t.Fatalf("first Trigger = %v, %v; want true, nil", started, err)
	}
	receive(t, "the triggered run", entered)
	if !s.Running("blocking") {
		t.Error("Running = false during a run")
	}
	started, err = s.Trigger("blocking")
	if err != nil || started {
		t.Errorf("Trigger while running = %v, %v; want false, nil", started, err)
	}
	close(release)
	r := receive(t, "the run's result", results)
	if !r.Triggered || r.Err != nil {
		t.Errorf("result = %+v, want a successful triggered run", r)
	}
	waitFor(t, "the run to end", func() bool { return !s.Running("blocking") })
	started, err = s.Trigger("blocking")
	if err != nil || !started {
		t.Errorf("Trigger after the run = %v, %v; want true, nil", started, err)
	}
	receive(t, "the second run", entered)
}

func TestTriggerErrors(t *testing.T) {
	s, _ := newScheduler(t, Options{})
	if err := s.Add(Job{Name: "a", Spec: "@daily", Run: func(context.Context) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Trigger("nope"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("Trigger(unknown) error = %v, want ErrUnknownJob", err)
	}
	if s.Running("nope") {
		t.Error("Running(unknown) = true")
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if started, err := s.Trigger("a"); started || !errors.Is(err, ErrStopped) {
		t.Errorf("Trigger after Stop = %v, %v; want false, ErrStopped", started, err)
	}
}

func TestAddErrors(t *testing.T) {
	s, _ := newScheduler(t, Options{})
	noop := func(context.Context) error { return nil }
	if err := s.Add(Job{Name: "a", Spec: "@hourly", Run: noop}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		job  Job
		want string
	}{
		{Job{Name: "a", Spec: "@daily", Run: noop}, `adding job "a": a job with that name is already scheduled`},
		{Job{Name: "b", Spec: "every day", Run: noop}, `adding job "b": invalid schedule "every day"`},
		{Job{Spec: "@daily", Run: noop}, "the job has no name"},
		{Job{Name: "c", Spec: "@daily"}, `adding job "c": the job has no Run function`},
	}
	for _, tc := range cases {
		err := s.Add(tc.job)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%+v) = %v, want an error containing %q", tc.job, err, tc.want)
		}
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(Job{Name: "late", Spec: "@daily", Run: noop}); !errors.Is(err, ErrStopped) {
		t.Errorf("Add after Stop = %v, want ErrStopped", err)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	results := make(chan Result, 10)
	s, buf := newScheduler(t, Options{OnFinish: func(r Result) { results <- r }})
	if err := s.Add(Job{Name: "boom", Spec: "@yearly", Run: func(context.Context) error { panic("kaboom") }}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the scheduler survives and runs the job again
		if started, err := s.Trigger("boom"); err != nil || !started {
			t.Fatalf("Trigger %d = %v, %v", i, started, err)
		}
		r := receive(t, "the run's result", results)
		if r.Err == nil || !strings.Contains(r.Err.Error(), `job "boom" panicked: kaboom`) {
			t.Errorf("result error = %v, want the panic", r.Err)
		}
		waitFor(t, "the run to end", func() bool { return !s.Running("boom") })
	}
	if logs := buf.String(); !strings.Contains(logs, "[ERROR] test: job panicked: job=boom panic=kaboom") {
		t.Errorf("the panic was not logged as an error:\n%s", logs)
	}
}

func TestStopWaitsForRunningJob(t *testing.T) {
	s, _ := newScheduler(t, Options{})
	entered := make(chan struct{})
	var finished atomic.Bool
	var sawCancel atomic.Bool
	if err := s.Add(Job{Name: "finisher", Spec: "@yearly", Run: func(ctx context.Context) error {
		close(entered)
		time.Sleep(300 * time.Millisecond) // the current page
		sawCancel.Store(ctx.Err() != nil)
		finished.Store(true)
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	if _, err := s.Trigger("finisher"); err != nil {
		t.Fatal(err)
	}
	receive(t, "the run", entered)

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v, want nil", err)
	}
	if !finished.Load() {
		t.Error("Stop returned before the running job finished")
	}
	if sawCancel.Load() {
		t.Error("the job's context was cancelled although it finished within the grace period")
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done is not closed after a successful Stop")
	}
}

func TestStopCancelsAfterDeadline(t *testing.T) {
	s, _ := newScheduler(t, Options{})
	entered := make(chan struct{})
	cancelledAt := make(chan time.Time, 1)
	if err := s.Add(Job{Name: "stubborn", Spec: "@yearly", Run: func(ctx context.Context) error {
		close(entered)
		<-ctx.Done()
		cancelledAt <- time.Now()
		return ctx.Err()
	}}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	if _, err := s.Trigger("stubborn"); err != nil {
		t.Fatal(err)
	}
	receive(t, "the run", entered)

	const grace = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	graceEnd, _ := ctx.Deadline()
	err := s.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "stubborn") {
		t.Errorf("Stop's error %q does not name the running job", err)
	}
	at := receive(t, "the job to see its context cancelled", cancelledAt)
	if at.Before(graceEnd) {
		t.Errorf("the job's context was cancelled %v before the grace period ended", graceEnd.Sub(at))
	}
	receive(t, "Done", s.Done())
	if s.Running("stubborn") {
		t.Error("Running after the cancelled run returned")
	}
}

func TestCronLogger(t *testing.T) {
	logger, buf := newLogger(t)
	l := cronLogger{logger.Named("cron")}
	l.Info("wake", "now", "then")
	l.Error(errors.New("bad schedule"), "failed", "entry", 3)
	logs := buf.String()
	for _, want := range []string{"[DEBUG] test.cron: wake: now=then", "[ERROR] test.cron: failed: error=\"bad schedule\" entry=3"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestJobWithoutSpecRunsOnlyWhenTriggered(t *testing.T) {
	s := New(hclog.NewNullLogger(), Options{})
	ran := make(chan struct{}, 4)
	if err := s.Add(Job{Name: "manual", Run: func(context.Context) error { ran <- struct{}{}; return nil }}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Stop(context.Background())
	select {
	case <-ran:
		t.Fatal("a job without a spec ran on its own")
	case <-time.After(1500 * time.Millisecond):
	}
	if started, err := s.Trigger("manual"); err != nil || !started {
		t.Fatalf("Trigger = %v, %v", started, err)
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the triggered job did not run")
	}
}
