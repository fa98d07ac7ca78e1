package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/store"
)

// Metrics receives what runs did; core/daemon's Metrics implements it. A nil
// Metrics records nothing.
type Metrics interface {
	AddRecords(job, direction string, n int)
	AddErrors(job string, n int)
	AddConflicts(job string, n int)
}

// Engine runs bindings against the store.
type Engine struct {
	Store   store.Store
	Log     hclog.Logger
	Metrics Metrics
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
	// LeaseTTL bounds how long a run may hold its binding without renewing
	// (default 2 minutes); a run renews with every page.
	LeaseTTL time.Duration
	// Retries is how many times a transient failure of a whole call is
	// retried within a run (default 3), with exponential backoff from
	// RetryBase (default 500ms); a Retry-After is a minimum.
	Retries   int
	RetryBase time.Duration
	// MaxRetryWait is the longest wait a run sits out for a tool that
	// asked for one (Retry-After, a spent rate limit); default 2 minutes
	// (GitHub's search limit resets every minute).
	// A longer one ends the run and pauses the binding until the tool's
	// time (shown by status), so a CLI sync never hangs for an hour.
	MaxRetryWait time.Duration
	// MaxFailures is how many failed runs in a row pause a binding
	// (default 5).
	MaxFailures int
}

// Options change one run.
type Options struct {
	// Plan computes what the run would do and writes nothing anywhere.
	Plan bool
	// Full forces a full reconcile: every remote record is listed.
	Full bool
	// Force runs a paused binding.
	Force bool
	// AllowDeletes lets the run delete or close more linked records than
	// the binding's limit (a confirmed mass deletion).
	AllowDeletes bool
	// Progress, when set, is told about each page and push batch.
	Progress func(binding, phase string, done int)
	// RunID is the run's id when the caller chose it (the daemon answers
	// an HTTP trigger with it); empty means a new one.
	RunID string
}

// Errors a run may return; test with errors.Is.
var (
	// ErrBusy: another run holds the binding.
	ErrBusy = errors.New("binding is being synced by another run")
	// ErrPaused: the binding failed too often and is paused.
	ErrPaused = errors.New("binding is paused")
	// ErrTooManyDeletes: the run would delete or close more of the
	// binding's linked records than its limit; it deleted none of them.
	ErrTooManyDeletes = errors.New("too many deletions")
)

// errPlanDone rolls a plan's transaction back.
var errPlanDone = errors.New("plan: roll back")

// run is the state of one run of one binding.
type run struct {
	e      *Engine
	ctx    context.Context
	b      Binding
	conn   connector.Connector
	desc   connector.Description
	res    *Result
	sm     statusMap
	now    time.Time
	opts   Options
	log    hclog.Logger
	update func(fn func(store.Tx) error) error
	view   func(fn func(store.Reader) error) error
	owner  string
	// quarantined is the binding's quarantine as the run found it (loaded
	// on first use), so a record kept already is not quarantined again.
	quarantined map[string]store.Quarantined
	// deletes counts the linked records this run deleted or closed on the
	// hub's side; deleteLimit is what it may (-1 until counted).
	deletes, deleteLimit, linkedAtStart int
	// heads are the links of the page being pulled, by external id.
	heads map[string]store.LinkHead
	// linked are the page's linked risks to merge (a risk binding's records
	// whose version moved), by external id, read in one query; an entry is
	// taken once.
	linked map[string]linkedRisk
	// createsFailed: a create failed transiently in this run; createsWait
	// is the longest Retry-After the remote asked for.
	createsFailed bool
	createsWait   time.Duration
	// failedSeq is the lowest change sequence of an update that failed in
	// this run's push (0: none).
	failedSeq int64
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// leaseOwner names this process in a binding's lease.
func leaseOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), uuid.NewString()[:8])
}

// holderGone reports whether a lease holder is a process of this host that
// no longer runs (it was killed), so its lease may be taken over at once.
func holderGone(holder string) bool {
	parts := strings.Split(holder, ":")
	if len(parts) != 3 {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(parts[1])
	if parts[0] != host || err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// Run runs one binding against conn. With opts.Plan it writes nothing and
// pushes nothing, and the Result lists what a run would do. The returned
// Result is never nil; err is the run's failure, if any (a Result may also
// hold per-record errors of a run that succeeded).
func (e *Engine) Run(ctx context.Context, b Binding, conn connector.Connector, opts Options) (*Result, error) {
	b = b.withDefaults()
	r := &run{e: e, ctx: ctx, b: b, conn: conn, opts: opts, now: e.now().UTC(),
		res: &Result{RunID: cmp.Or(opts.RunID, uuid.NewString()), Binding: b.Name, Plan: opts.Plan}, sm: newStatusMap(b.MapStatus), deleteLimit: -1}
	r.log = e.log().With("binding", b.Name, "run", r.res.RunID)
	actor := store.Actor{Name: "sync:" + b.Name, RunID: r.res.RunID}
	start := time.Now()
	defer func() { r.res.Duration = time.Since(start) }()

	desc, err := conn.Describe(ctx)
	if err != nil {
		return r.res, fmt.Errorf("sync %s: describe %s: %w", b.Name, b.Connector, err)
	}
	r.desc = desc

	if opts.Plan {
		err := e.Store.Update(ctx, actor, func(tx store.Tx) error {
			r.update = func(fn func(store.Tx) error) error { return fn(tx) }
			r.view = func(fn func(store.Reader) error) error { return fn(tx) }
			if err := r.body(); err != nil {
				return err
			}
			if err := r.tally(); err != nil {
				return err
			}
			return errPlanDone
		})
		if errors.Is(err, errPlanDone) {
			err = nil
		}
		if err != nil {
			return r.res, fmt.Errorf("plan %s: %w", b.Name, err)
		}
		return r.res, nil
	}

	r.update = func(fn func(store.Tx) error) error { return e.Store.Update(ctx, actor, fn) }
	r.view = func(fn func(store.Reader) error) error { return e.Store.View(ctx, fn) }
	if err := r.claim(); err != nil {
		return r.res, err
	}
	defer r.release()
	if err := r.update(func(tx store.Tx) error {
		return tx.RecordRun(store.Run{ID: r.res.RunID, Binding: b.Name, StartedAt: r.now, Status: "running"})
	}); err != nil {
		return r.res, err
	}
	runErr := r.body()
	if runErr == nil {
		if runErr = r.tally(); runErr == nil {
			runErr = r.res.Unsettled()
		}
	}
	r.finish(runErr)
	if runErr != nil {
		return r.res, fmt.Errorf("sync %s: %w", b.Name, runErr)
	}
	return r.res, nil
}

func (e *Engine) log() hclog.Logger {
	if e.Log == nil {
		return hclog.NewNullLogger()
	}
	return e.Log
}

// claim takes the binding's lease, refusing when another live run holds it
// or the binding is paused.
func (r *run) claim() error {
	r.owner = leaseOwner()
	ttl := r.e.LeaseTTL
	if ttl <= 0 {
		ttl = 2 * time.Minute
	}
	var held bool
	var holder string
	err := r.update(func(tx store.Tx) error {
		st, err := tx.BindingState(r.b.Name)
		if err != nil {
			return err
		}
		if !r.opts.Force && st.PausedUntil.After(r.now) {
			if st.PausedFingerprint == "" || r.b.Fingerprint == "" || st.PausedFingerprint == r.b.Fingerprint {
				return fmt.Errorf("sync %s: %w until %s after %d failed run(s) (last error: %s); it tries again by itself then, or as soon as the connector's configuration or secrets change; -force tries now",
					r.b.Name, ErrPaused, st.PausedUntil.Format(time.RFC3339), st.Failures, st.LastError)
			}
			r.log.Info("the connector's configuration changed since the binding was paused: trying again", "paused_until", st.PausedUntil)
		}
		held, holder, err = tx.Lease(r.b.Name, r.owner, r.now.Add(ttl), r.now, holderGone)
		if err != nil || !held {
			return err
		}
		if n, err := tx.AbortRuns(r.b.Name); err != nil {
			return err
		} else if n > 0 {
			r.log.Warn("earlier runs ended without recording their end (killed); marked aborted", "runs", n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("sync %s: %w (%s)", r.b.Name, ErrBusy, holder)
	}
	return nil
}

// renew extends the lease; called with each page.
func (r *run) renew(tx store.Tx) error {
	if r.opts.Plan {
		return nil
	}
	ttl := r.e.LeaseTTL
	if ttl <= 0 {
		ttl = 2 * time.Minute
	}
	now := r.e.now()
	held, holder, err := tx.Lease(r.b.Name, r.owner, now.Add(ttl), now, nil)
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("lost the lease of %s to %s", r.b.Name, holder)
	}
	return nil
}

func (r *run) release() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 5*time.Second)
	defer cancel()
	err := r.e.Store.Update(ctx, store.Actor{Name: "sync:" + r.b.Name, RunID: r.res.RunID}, func(tx store.Tx) error {
		return tx.ReleaseLease(r.b.Name, r.owner)
	})
	if err != nil {
		r.log.Warn("could not release the lease", "error", err)
	}
}

// finish records the run's outcome and the binding's health.
func (r *run) finish(runErr error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 5*time.Second)
	defer cancel()
	maxFail := r.e.MaxFailures
	if maxFail <= 0 {
		maxFail = 5
	}
	err := r.e.Store.Update(ctx, store.Actor{Name: "sync:" + r.b.Name, RunID: r.res.RunID}, func(tx store.Tx) error {
		st, err := tx.BindingState(r.b.Name)
		if err != nil {
			return err
		}
		run := store.Run{ID: r.res.RunID, Binding: r.b.Name, StartedAt: r.now, FinishedAt: r.e.now(), Counts: r.res.Counts.Map(), Status: "ok"}
		switch {
		case errors.Is(runErr, ErrIncomplete):
			// The run did its work but left records failed or waiting: not
			// ok, yet nothing a pause would help with.
			run.Status, run.Error = "incomplete", runErr.Error()
			st.Failures, st.LastError, st.PausedUntil, st.PausedFingerprint, st.PauseCause = 0, runErr.Error(), time.Time{}, "", ""
		case runErr != nil:
			run.Status, run.Error = "failed", runErr.Error()
			st.Failures++
			st.LastError = runErr.Error()
			switch {
			case explicitlyPermanent(runErr):
				// 401, 403, a missing project: hammering will not help; the
				// pause ends early when the connector's config changes.
				backoff := 5 * time.Minute << min(st.Failures-1, 4)
				st.PausedUntil = r.e.now().Add(min(backoff, time.Hour))
				st.PauseCause = "permanent error: retrying will not help until the connector's configuration or secrets change"
			case retryAfter(runErr) > r.e.maxRetryWait():
				// The tool said when to come back (a spent rate limit):
				// the binding waits until then, not a guessed backoff.
				st.PausedUntil = r.e.now().Add(retryAfter(runErr))
				st.PauseCause = "rate limited: " + r.b.Connector + " asked to wait until " + st.PausedUntil.UTC().Format(time.RFC3339)
			case st.Failures >= maxFail:
				backoff := time.Minute << min(st.Failures-maxFail, 6)
				st.PausedUntil = r.e.now().Add(min(backoff, time.Hour))
				st.PauseCause = fmt.Sprintf("%d failed runs in a row: backing off", st.Failures)
			}
			st.PausedFingerprint = r.b.Fingerprint
			if !st.PausedUntil.IsZero() && st.PausedUntil.After(r.e.now()) {
				r.log.Error("binding paused", "until", st.PausedUntil, "failures", st.Failures, "error", runErr)
			}
		default:
			st.Failures, st.LastError, st.PausedUntil, st.LastSuccess, st.PausedFingerprint, st.PauseCause = 0, "", time.Time{}, r.e.now(), "", ""
		}
		if err := tx.PutBindingState(st); err != nil {
			return err
		}
		return tx.RecordRun(run)
	})
	if err != nil {
		r.log.Error("could not record the run", "error", err)
	}
	if m := r.e.Metrics; m != nil {
		c := r.res.Counts
		m.AddRecords(r.b.Name, "pull", c.Pulled)
		m.AddRecords(r.b.Name, "push", c.PushCreates+c.PushUpdates+c.PushDeletes)
		m.AddConflicts(r.b.Name, c.Conflicts)
		// Records failed in this run, plus what still waits after it: a
		// binding with held fields or pending creates keeps counting.
		w := r.res.Waiting
		m.AddErrors(r.b.Name, c.Errors+w.Held+w.Quarantined+w.Pending)
	}
}

// tally counts what waits when the run ends (in a plan: what would) and
// lists the held fields among the run's changes.
func (r *run) tally() error {
	w := Waiting{}
	var held []Change
	err := r.view(func(rd store.Reader) error {
		if err := rd.HeldLinks(r.b.Name, func(l store.Link) error {
			if l.State != store.LinkLinked {
				return nil
			}
			key := l.HubID
			hubFields := map[string]string{}
			if risk, err := rd.Risk(l.HubID); err == nil {
				key, hubFields = risk.Key, RiskFields(risk)
			}
			for _, f := range sortedKeys(l.Held) {
				h := l.Held[f]
				w.Held++
				if len(held) >= MaxChanges {
					continue
				}
				held = append(held, Change{Direction: h.Side, Op: "held", Key: key, HubID: l.HubID, ExternalID: l.ExternalID,
					Fields: []FieldChange{{Field: f, Base: l.Base[f], Hub: hubFields[f], Remote: h.Value}}, Reason: heldReason(h)})
			}
			return nil
		}); err != nil {
			return err
		}
		for _, state := range []store.LinkState{store.LinkPending, store.LinkQuarantined} {
			n, err := rd.CountLinks(r.b.Name, state)
			if err != nil {
				return err
			}
			if state == store.LinkPending {
				w.Pending = n
			} else {
				w.Quarantined += n
			}
		}
		return rd.Quarantine(r.b.Name, func(store.Quarantined) error { w.Quarantined++; return nil })
	})
	if err != nil {
		return fmt.Errorf("tally: %w", err)
	}
	r.res.Waiting = w
	r.res.Held = held
	return nil
}

// spendDelete counts one deletion (or close) of a linked record on the
// hub's side, refusing once the run would pass the binding's limit: a
// folder that is not mounted, an emptied file or a mistyped project must
// not wipe the register.
func (r *run) spendDelete(tx store.Reader, n int) error {
	if err := r.checkDeletes(tx, n); err != nil {
		return err
	}
	r.deletes += n
	return nil
}

// checkDeletes says whether n more deletions fit the binding's limit,
// without counting them: a full reconcile checks all it found gone first,
// so its error names them all and it deletes none.
func (r *run) checkDeletes(tx store.Reader, n int) error {
	if r.opts.AllowDeletes {
		return nil
	}
	if r.deleteLimit < 0 {
		linked, err := tx.CountLinks(r.b.Name, store.LinkLinked)
		if err != nil {
			return err
		}
		r.deleteLimit = r.b.deleteLimit(linked + r.deletes)
		r.linkedAtStart = linked + r.deletes
	}
	if r.deletes+n > r.deleteLimit {
		err := fmt.Errorf("%w: this run would delete or close %d (or more) of the %d linked record(s) of %s, more than its limit of %d (max_delete_percent = %g, max_delete_min = %d); nothing more was deleted. "+
			"Check the connector's source first (a mistyped or unmounted folder, an emptied file, a wrong project or label); if the deletions are right, run: usmhub sync -allow-deletes %s",
			ErrTooManyDeletes, r.deletes+n, r.linkedAtStart, r.b.Name, r.deleteLimit, r.b.MaxDeletePercent, r.b.MaxDeleteMin, r.b.Name)
		if !r.opts.Plan {
			return err
		}
		// A plan shows every deletion, and that the sync would stop.
		if !r.res.DeleteLimitExceeded {
			r.res.add(Change{Direction: "pull", Op: "stop", Reason: err.Error()})
			r.res.DeleteLimitExceeded = true
		}
	}
	return nil
}

// explicitlyPermanent reports whether a connector classed the failure of a
// whole call as permanent (401, 403, a missing project). Other failures —
// unclassified ones included — count towards pausing but do not pause at
// once.
func explicitlyPermanent(err error) bool {
	var se *connector.Error
	return errors.As(err, &se) && se.Class == connector.ClassPermanent && !errors.Is(err, context.Canceled)
}

// body runs the phases of SYNC.md: resolve, pull, push.
func (r *run) body() error {
	switch r.b.Kind {
	case connector.KindRisk:
		return r.risks()
	case connector.KindVote:
		return r.votes()
	case connector.KindScan:
		return r.scans()
	case connector.KindSprint:
		return r.sprints()
	case connector.KindItem:
		return r.items()
	}
	return fmt.Errorf("unknown kind %q", r.b.Kind)
}

// retry runs call, retrying transient failures with exponential backoff and
// jitter; a Retry-After is a minimum.
func (r *run) retry(what string, call func() error) error {
	tries := r.e.Retries
	if tries == 0 {
		tries = 3
	}
	base := r.e.retryBase()
	for attempt := 0; ; attempt++ {
		err := call()
		if err == nil || attempt >= tries || connector.ClassOf(err) != connector.ClassTransient || r.ctx.Err() != nil {
			return err
		}
		wait := base << attempt
		wait += time.Duration(rand.Int64N(int64(wait)/2 + 1))
		if ra := retryAfter(err); ra > r.e.maxRetryWait() {
			r.log.Warn("the tool asks for a long wait: the run ends and the binding waits", "call", what, "retry_after", ra, "error", err)
			return err
		} else if ra > wait {
			wait = ra
		}
		r.log.Warn("transient failure, retrying", "call", what, "attempt", attempt+1, "wait", wait, "error", err)
		select {
		case <-time.After(wait):
		case <-r.ctx.Done():
			return errors.Join(err, r.ctx.Err())
		}
	}
}

// retryAfter is the wait a transient error asks for (zero when none).
func retryAfter(err error) time.Duration {
	var se *connector.Error
	if errors.As(err, &se) && se.Class == connector.ClassTransient {
		return se.RetryAfter
	}
	return 0
}

func (e *Engine) maxRetryWait() time.Duration {
	if e.MaxRetryWait <= 0 {
		return 2 * time.Minute
	}
	return e.MaxRetryWait
}

func (e *Engine) retryBase() time.Duration {
	if e.RetryBase <= 0 {
		return 500 * time.Millisecond
	}
	return e.RetryBase
}

func (r *run) progress(phase string, n int) {
	if r.opts.Progress != nil {
		r.opts.Progress(r.b.Name, phase, n)
	}
}
