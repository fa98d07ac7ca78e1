package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/usmhub/usmhub/plugins/internal/wire"
	"github.com/usmhub/usmhub/plugins/sdk"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Relaunch backoff: the n-th launch in a row of a plugin that keeps dying
// waits until relaunchBase·2^(n-2) (capped at relaunchCap) after the one
// before it: 0.5s, 1s, 2s, … 30s. A plugin that ran for stableAfter before
// it died starts the count again, and is relaunched at once.
const (
	relaunchBase = 500 * time.Millisecond
	relaunchCap  = 30 * time.Second
	stableAfter  = time.Minute
)

// exitGrace is how long a call whose connection broke waits for go-plugin
// to notice the plugin process exited, to tell a crash from a network error.
const exitGrace = 2 * time.Second

// startAttempts bounds the launches one Launch, or one relaunch, makes of a
// plugin whose process exits before it is ready (killed, or crashing, while
// it starts): the first and up to three more, each after the relaunch
// backoff (0.5s, 1s, 2s).
const startAttempts = 4

// ErrPluginExited is in the chain of the error of a call during which the
// connector's plugin process exited (it crashed or was killed). Nothing
// after the last complete Pull batch was delivered. The error is classed
// transient (sdk.ClassOf): the next call relaunches the plugin, and every
// call may be retried under the sdk's lifecycle rules.
var ErrPluginExited = &sdk.Error{Class: sdk.ClassTransient, Message: "plugin process exited"}

// TimeoutError is the error of a call that exceeded the call timeout. It
// wraps context.DeadlineExceeded and is classed transient.
type TimeoutError struct {
	Connector string        // type.name
	Call      string        // configure, check, pull, push, find, publish
	After     time.Duration // the call timeout
	Idle      bool          // Pull: no batch arrived within After
}

func (e *TimeoutError) Error() string {
	if e.Idle {
		return fmt.Sprintf("connector %s: %s: no batch within %s (the call timeout, applied to each batch)", e.Connector, e.Call, e.After)
	}
	return fmt.Sprintf("connector %s: %s: no answer within %s (the call timeout)", e.Connector, e.Call, e.After)
}

// Unwrap makes a TimeoutError a context.DeadlineExceeded and a transient
// sdk.Error.
func (e *TimeoutError) Unwrap() []error {
	return []error{context.DeadlineExceeded, &sdk.Error{Class: sdk.ClassTransient, Message: "timed out"}}
}

// StartExitError is the error of a launch whose plugin process exited
// before the plugin was ready: it was killed, or crashed, while it started.
// The host relaunches such a plugin (with the relaunch backoff, up to four
// launches in a row) before it returns this error. It wraps ErrPluginExited,
// so it is classed transient.
type StartExitError struct {
	Connector string // type.name
	Binary    string // the plugin binary's path
	Phase     string // when it exited: "during its handshake", …
	Status    string // how the process ended ("signal: killed", "exit status 2"); "" when unknown
	Launches  int    // launches in a row that ended so
	Stopped   string // why it was not launched again before the limit, if so
}

func (e *StartExitError) Error() string {
	status := e.Status
	if status == "" {
		status = "exit status unknown"
	}
	msg := fmt.Sprintf("connector %s: the plugin process exited %s (%s)", e.Connector, e.Phase, status)
	if e.Launches > 1 {
		msg += fmt.Sprintf(", at each of %d launches in a row", e.Launches)
	}
	msg += " (binary " + e.Binary + ")"
	if e.Stopped != "" {
		msg += "; not launched again: " + e.Stopped
	}
	return msg
}

// Unwrap makes a StartExitError an ErrPluginExited.
func (e *StartExitError) Unwrap() error { return ErrPluginExited }

// Instance is one configured connector (a connector "<type>" "<name>"
// block) backed by a plugin process. It implements sdk.Connector, so the
// hub calls it like any connector, and it is safe for concurrent use.
//
// Every call is bounded by the Host's CallTimeout (Pull: per batch, see
// Options.CallTimeout). A call during which the plugin process exits fails
// with an error wrapping ErrPluginExited. The next call relaunches the
// plugin (same discovery, pin check and fingerprint as Launch; with backoff
// when it keeps dying) and, before making the call, sends it the last
// config Configure accepted. Describe answers from the fingerprint taken at
// launch, without a call.
type Instance struct {
	host    *Host
	typ     string
	name    string
	pin     string
	log     hclog.Logger
	timeout time.Duration
	done    chan struct{} // closed by Close: ends a relaunch backoff wait
	once    sync.Once
	// secrets are the sensitive values of the configs sent to Configure:
	// what the connector returns or logs is scrubbed of them (scrub.go).
	secrets *secretSet

	// mu guards what follows. It is held while (re)launching, never during
	// a call.
	mu         sync.Mutex
	client     *plugin.Client
	conn       sdk.Connector
	desc       sdk.Description
	binary     Binary
	config     *sdk.Config // the last config Configure accepted
	launchedAt time.Time
	launches   int // launches in a row of a plugin that did not stay up
	closed     bool
}

var _ sdk.Connector = (*Instance)(nil)

// ID returns "<type>.<name>", as errors and logs name the instance.
func (i *Instance) ID() string { return i.typ + "." + i.name }

// Type returns the connector type (the binary's suffix).
func (i *Instance) Type() string { return i.typ }

// Name returns the instance name (the second label of its block).
func (i *Instance) Name() string { return i.name }

// Binary returns the plugin binary the running (or last) process was
// started from.
func (i *Instance) Binary() Binary {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.binary
}

// Pid returns the plugin process id, or 0 when no process runs.
func (i *Instance) Pid() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.client == nil || i.client.Exited() {
		return 0
	}
	if rc := i.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Describe returns the description the plugin gave when it was last
// launched.
func (i *Instance) Describe(context.Context) (sdk.Description, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return sdk.Description{}, fmt.Errorf("connector %s: %w", i.ID(), errClosed)
	}
	return i.desc, nil
}

// Configure sends cfg to the plugin; once accepted, it is sent again to
// every relaunched process. A rejection is the connector's error (often an
// *sdk.ConfigError: see ConfigureDiagnostics), wrapped.
//
// From the moment it is sent, the values of cfg's sensitive attributes are
// scrubbed from every error, result and log line of the connector.
func (i *Instance) Configure(ctx context.Context, cfg sdk.Config) error {
	i.mu.Lock()
	schema := i.desc.Schema
	i.mu.Unlock()
	i.addSecrets(SensitiveValues(schema, cfg))
	err := i.call(ctx, "configure", func(ctx context.Context, c sdk.Connector) error {
		return c.Configure(ctx, cfg)
	})
	if err == nil {
		i.mu.Lock()
		i.config = &cfg
		i.mu.Unlock()
	}
	return i.scrubbed(err)
}

// Hide adds values to those scrubbed from the connector's errors, results
// and log lines, beside its sensitive attributes' values: the hub hides
// there whatever its config read with env() or file().
func (i *Instance) Hide(values []string) { i.addSecrets(values) }

// addSecrets adds values to the secrets scrubbed, longest first.
func (i *Instance) addSecrets(values []string) {
	all := append(slices.Clone(i.secrets.get()), values...)
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	i.secrets.set(slices.Compact(all))
}

// scrubbed is err with the instance's secrets scrubbed (ScrubError).
func (i *Instance) scrubbed(err error) error {
	return ScrubError(err, i.secrets.get())
}

// Check asks the connector to reach its remote with its config.
func (i *Instance) Check(ctx context.Context) error {
	return i.scrubbed(i.call(ctx, "check", func(ctx context.Context, c sdk.Connector) error {
		return c.Check(ctx)
	}))
}

// Pull hands send each complete batch, in order. The call timeout applies
// to each batch: the plugin must deliver the next batch within it, and the
// time send takes does not count. An error send returns ends the pull and is
// returned as is.
func (i *Instance) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	conn, client, err := i.acquire(ctx)
	if err != nil {
		return i.scrubbed(err)
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := &TimeoutError{Connector: i.ID(), Call: "pull", After: i.timeout, Idle: true}
	timer := time.AfterFunc(i.timeout, func() { cancel(idle) })
	defer timer.Stop()
	var sendErr error
	err = conn.Pull(pctx, req, func(b sdk.Batch) error {
		if !timer.Stop() {
			return context.Cause(pctx) // timed out just now
		}
		if sendErr = send(b); sendErr != nil {
			return sendErr
		}
		timer.Reset(i.timeout)
		return nil
	})
	if err == nil {
		return nil
	}
	if sendErr != nil && errors.Is(err, sendErr) {
		return sendErr
	}
	return i.scrubbed(i.failed(ctx, pctx, "pull", client, err))
}

// Push applies the changes; see sdk.Connector.
func (i *Instance) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	var results []sdk.Result
	err := i.call(ctx, "push", func(ctx context.Context, c sdk.Connector) error {
		var err error
		results, err = c.Push(ctx, req)
		return err
	})
	scrubResults(results, i.secrets.get())
	return results, i.scrubbed(err)
}

// Find returns the record of kind carrying marker, or nil.
func (i *Instance) Find(ctx context.Context, kind sdk.EntityKind, marker string) (*sdk.Record, error) {
	var rec *sdk.Record
	err := i.call(ctx, "find", func(ctx context.Context, c sdk.Connector) error {
		var err error
		rec, err = c.Find(ctx, kind, marker)
		return err
	})
	return rec, i.scrubbed(err)
}

// Publish creates or updates the report's ticket.
func (i *Instance) Publish(ctx context.Context, r sdk.Report) (sdk.Published, error) {
	var p sdk.Published
	err := i.call(ctx, "publish", func(ctx context.Context, c sdk.Connector) error {
		var err error
		p, err = c.Publish(ctx, r)
		return err
	})
	return p, i.scrubbed(err)
}

// Close kills the plugin process; later calls fail.
func (i *Instance) Close() error {
	i.close()
	i.host.forget(i)
	return nil
}

func (i *Instance) close() {
	i.once.Do(func() { close(i.done) })
	i.mu.Lock()
	defer i.mu.Unlock()
	i.closed = true
	i.reapLocked()
}

// call runs f against a live plugin under the call timeout.
func (i *Instance) call(ctx context.Context, name string, f func(context.Context, sdk.Connector) error) error {
	conn, client, err := i.acquire(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeoutCause(ctx, i.timeout, &TimeoutError{Connector: i.ID(), Call: name, After: i.timeout})
	defer cancel()
	if err := f(cctx, conn); err != nil {
		return i.failed(ctx, cctx, name, client, err)
	}
	return nil
}

// failed wraps a failed call's error: a timeout, the plugin's death, or the
// connector's own error.
func (i *Instance) failed(ctx, cctx context.Context, name string, client *plugin.Client, err error) error {
	if ctx.Err() == nil && cctx.Err() != nil {
		var timeout *TimeoutError
		if errors.As(context.Cause(cctx), &timeout) {
			i.log.Warn("call timed out", "call", name, "timeout", i.timeout)
			return timeout
		}
	}
	if i.exited(client, err) {
		i.log.Error("plugin process exited during a call; it is relaunched on the next call", "call", name, "error", err)
		return fmt.Errorf("connector %s: %s: %w (it is relaunched on the next call): %v", i.ID(), name, ErrPluginExited, err)
	}
	return fmt.Errorf("connector %s: %s: %w", i.ID(), name, err)
}

// exited says whether client's process has exited, waiting briefly for
// go-plugin to notice when err looks like a broken connection.
func (i *Instance) exited(client *plugin.Client, err error) bool {
	if client.Exited() {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Internal, codes.Canceled:
	default:
		return false
	}
	deadline := time.Now().Add(exitGrace)
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if client.Exited() {
			return true
		}
	}
	return false
}

// acquire returns the live plugin's connector, relaunching the plugin first
// when its process has exited.
func (i *Instance) acquire(ctx context.Context) (sdk.Connector, *plugin.Client, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil, nil, fmt.Errorf("connector %s: %w", i.ID(), errClosed)
	}
	if i.client != nil && !i.client.Exited() {
		return i.conn, i.client, nil
	}
	if i.client != nil {
		if time.Since(i.launchedAt) >= stableAfter {
			i.launches = 0
		}
		i.reapLocked()
	}
	if err := i.backoffLocked(ctx); err != nil {
		return nil, nil, fmt.Errorf("connector %s: %w", i.ID(), err)
	}
	i.log.Info("relaunching plugin")
	if err := i.startLocked(ctx); err != nil {
		return nil, nil, err
	}
	if i.config != nil {
		cctx, cancel := context.WithTimeout(ctx, i.timeout)
		err := i.conn.Configure(cctx, *i.config)
		cancel()
		if err != nil {
			i.reapLocked()
			return nil, nil, fmt.Errorf("connector %s: relaunched plugin refused the config it accepted before: %w", i.ID(), err)
		}
	}
	return i.conn, i.client, nil
}

// backoffLocked waits until the relaunch backoff allows the next launch.
// It fails, without waiting, when that is past ctx's deadline, and when ctx
// ends or the instance closes while it waits.
func (i *Instance) backoffLocked(ctx context.Context) error {
	if i.launches == 0 {
		return nil
	}
	wait := time.Until(i.launchedAt.Add(relaunchDelay(i.launches)))
	if wait <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return fmt.Errorf("plugin keeps exiting (%d launches in a row); next relaunch in %s: %w",
			i.launches, wait.Round(time.Millisecond), ErrPluginExited)
	}
	i.log.Info("waiting before relaunching the plugin", "wait", wait, "launches", i.launches)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting to relaunch the plugin: %w", ctx.Err())
	case <-i.done:
		return errClosed
	}
}

// startLocked launches the plugin and, while its process exits before it
// is ready (killed or crashing while it starts), launches it again after
// the relaunch backoff, startAttempts launches at most.
func (i *Instance) startLocked(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := i.launchLocked(ctx)
		var exited *StartExitError
		if err == nil || !errors.As(err, &exited) {
			return err
		}
		exited.Launches = attempt
		if attempt >= startAttempts {
			i.log.Error("plugin process keeps exiting while it starts; giving up", "phase", exited.Phase, "status", exited.Status, "attempt", attempt)
			return exited
		}
		i.log.Warn("plugin process exited while it started; relaunching it", "phase", exited.Phase, "status", exited.Status, "attempt", attempt)
		if err := i.backoffLocked(ctx); err != nil {
			exited.Stopped = err.Error()
			return exited
		}
	}
}

// relaunchDelay is the least time between the (n-1)-th and the n-th launch
// in a row, n ≥ 1 launches done.
func relaunchDelay(n int) time.Duration {
	d := relaunchBase
	for k := 1; k < n && d < relaunchCap; k++ {
		d *= 2
	}
	return min(d, relaunchCap)
}

// reapLocked kills the plugin process (if any) and removes its socket.
func (i *Instance) reapLocked() {
	if i.client == nil {
		return
	}
	var socket string
	if rc := i.client.ReattachConfig(); rc != nil {
		if a, ok := rc.Addr.(*net.UnixAddr); ok {
			socket = a.Name
		}
	}
	i.client.Kill()
	i.host.sockets.removeSocket(socket)
	i.client, i.conn = nil, nil
}

// launchLocked finds, verifies, starts and fingerprints the plugin.
func (i *Instance) launchLocked(ctx context.Context) error {
	i.launchedAt = time.Now()
	i.launches++
	bin, err := find(i.typ, i.host.opts.Dirs)
	if err != nil {
		return fmt.Errorf("connector %s: %w", i.ID(), err)
	}
	secure, err := i.verify(bin)
	if err != nil {
		return err
	}

	cmd := exec.Command(bin.Path)
	cmd.Dir = i.host.opts.WorkDir
	// The plugin gets no environment of the hub's but what it needs: secrets
	// reach it through its config block (env() is evaluated by the hub).
	cmd.Env = append(cmd.Env, i.host.opts.Env...)
	cmd.Env = append(cmd.Env, sdk.EnvLogLevel+"="+levelName(i.log))
	if i.host.sockets != nil {
		cmd.Env = append(cmd.Env, plugin.EnvUnixSocketDir+"="+i.host.sockets.path)
	}
	setParentDeathSignal(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake(wire.ProtocolVersion),
		Plugins:          wire.ClientPlugins(),
		Cmd:              cmd,
		SecureConfig:     secure,
		Managed:          true,
		AutoMTLS:         true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		SkipHostEnv:      true, // secrets in the hub's environment stay there
		Logger:           i.log,
		StartTimeout:     i.host.opts.StartTimeout,
	})
	fail := func(err error) error {
		client.Kill()
		return err
	}
	// exitedAfterHandshake explains a failure after the handshake by the
	// process's end, if it ended.
	exitedAfterHandshake := func(phase string, err error) error {
		if status, ok := processEnd(client, cmd, exitGrace); ok {
			i.log.Debug("plugin process exited while it started", "phase", phase, "error", err)
			return &StartExitError{Connector: i.ID(), Binary: bin.Path, Phase: phase, Status: status}
		}
		return nil
	}
	if err := theLauncher().start(ctx, client); err != nil {
		return fail(i.startError(bin, client, cmd, err))
	}
	rpc, err := client.Client()
	if err != nil {
		if exited := exitedAfterHandshake("after its handshake, before the hub could connect", err); exited != nil {
			return fail(exited)
		}
		return fail(fmt.Errorf("connector %s: connect to plugin %s: %w", i.ID(), bin.Path, err))
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		if exited := exitedAfterHandshake("after its handshake, before the hub could connect", err); exited != nil {
			return fail(exited)
		}
		return fail(fmt.Errorf("connector %s: plugin %s serves no %q plugin: %w", i.ID(), bin.Path, wire.PluginName, err))
	}
	conn, ok := raw.(sdk.Connector)
	if !ok {
		return fail(fmt.Errorf("connector %s: plugin %s dispensed %T, not a connector", i.ID(), bin.Path, raw))
	}
	dctx, cancel := context.WithTimeout(ctx, i.timeout)
	desc, err := conn.Describe(dctx)
	cancel()
	if err != nil {
		if i.exited(client, err) {
			if exited := exitedAfterHandshake("after its handshake, before it described itself", err); exited != nil {
				return fail(exited)
			}
		}
		return fail(fmt.Errorf("connector %s: describe: %w", i.ID(), err))
	}
	if desc.ProtocolVersion != sdk.ProtocolVersion {
		return fail(fmt.Errorf("connector %s: plugin describes connector protocol version %d, this hub speaks version %d (binary %s): rebuild the connector against this hub's SDK",
			i.ID(), desc.ProtocolVersion, sdk.ProtocolVersion, bin.Path))
	}
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	i.client, i.conn, i.desc, i.binary = client, conn, desc, bin
	i.log.Info("plugin started", "path", bin.Path, "pid", pid, "version", desc.Version, "protocol", desc.ProtocolVersion, "sha256", bin.SHA256)
	return nil
}

func (i *Instance) pinMismatch(want string, bin Binary) error {
	return fmt.Errorf("connector %s: plugin sha256 mismatch: expected %s, got %s (binary %s)", i.ID(), want, bin.SHA256, bin.Path)
}

// lockMismatch says that bin is not the binary the lock file recorded.
func (i *Instance) lockMismatch(want string, bin Binary) error {
	return fmt.Errorf("connector %s: plugin binary %s has sha256:%s, but the lock file %s records sha256:%s for connector type %q: "+
		"if you upgraded the connector on purpose, run `usmhub plugins lock` to record the new binary; otherwise find out who replaced it",
		i.ID(), bin.Path, bin.SHA256, i.host.opts.LockFile, want, i.typ)
}

// verify checks bin against the pin of the connector block and the lock
// file, and applies RequirePins. It returns the SecureConfig with which
// go-plugin checks the digest again right before exec (nil when nothing is
// pinned); pinHash answers it from the digest cache when the file is still
// the one hashed.
func (i *Instance) verify(bin Binary) (*plugin.SecureConfig, error) {
	var raw []byte
	if i.pin != "" {
		want, r, err := parsePin(i.pin)
		if err != nil {
			return nil, fmt.Errorf("connector %s: %w", i.ID(), err)
		}
		if bin.SHA256 != want {
			return nil, i.pinMismatch(want, bin)
		}
		raw = r
	}
	if locked, ok := i.host.opts.Lock[i.typ]; ok {
		want, r, err := parsePin(locked)
		if err != nil {
			return nil, fmt.Errorf("connector %s: lock file %s: %w", i.ID(), i.host.opts.LockFile, err)
		}
		if bin.SHA256 != want {
			return nil, i.lockMismatch(want, bin)
		}
		raw = r
	}
	if raw == nil {
		if i.host.opts.RequirePins {
			return nil, fmt.Errorf("connector %s: hub.require_plugin_pins is set and the binary %s (sha256:%s) is pinned neither by plugin_sha256 in the connector block nor in the lock file %s: "+
				"run `usmhub plugins lock` to record it, or set plugin_sha256", i.ID(), bin.Path, bin.SHA256, i.host.opts.LockFile)
		}
		return nil, nil
	}
	return &plugin.SecureConfig{Checksum: raw, Hash: newPinHash()}, nil
}

var pluginVersion = regexp.MustCompile(`incompatible API version with plugin\. Plugin version: (\d+)`)

// handshakeExit matches go-plugin's (v1.8) errors of a Start whose plugin
// process ended before it printed its handshake line: its stdout closed
// without a line (go-plugin then blames the architecture, libraries,
// permissions or protocol, which is misleading for a process that was
// killed), or it exited before go-plugin read one.
var handshakeExit = regexp.MustCompile(`plugin exited before we could connect|Failed to read any lines from plugin's stdout`)

// processEnd waits up to grace for client's process to have exited and
// returns how it ended ("signal: killed", "exit status 2"; "" when go-plugin
// does not know); ok is false when it still runs.
func processEnd(client *plugin.Client, cmd *exec.Cmd, grace time.Duration) (status string, ok bool) {
	deadline := time.Now().Add(grace)
	for !client.Exited() {
		if !time.Now().Before(deadline) {
			return "", false
		}
		time.Sleep(10 * time.Millisecond)
	}
	// go-plugin sets Exited after cmd.Wait returned, under its lock:
	// ProcessState is complete.
	if cmd.ProcessState == nil {
		return "", true
	}
	return cmd.ProcessState.String(), true
}

// startError explains why a plugin did not start.
func (i *Instance) startError(bin Binary, client *plugin.Client, cmd *exec.Cmd, err error) error {
	if handshakeExit.MatchString(err.Error()) {
		status, _ := processEnd(client, cmd, exitGrace)
		i.log.Debug("plugin process exited during its handshake", "status", status, "error", err)
		return &StartExitError{Connector: i.ID(), Binary: bin.Path, Phase: "during its handshake", Status: status}
	}
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		// The binary changed between our check and go-plugin's.
		got, herr := FileSHA256(bin.Path)
		if herr != nil {
			got = "(unreadable: " + herr.Error() + ")"
		}
		changed := Binary{Path: bin.Path, SHA256: got}
		if locked, ok := i.host.opts.Lock[i.typ]; ok {
			if want, _, _ := parsePin(locked); want != got {
				return i.lockMismatch(want, changed)
			}
		}
		want, _, _ := parsePin(i.pin)
		return i.pinMismatch(want, changed)
	case pluginVersion.MatchString(err.Error()):
		v := pluginVersion.FindStringSubmatch(err.Error())[1]
		return fmt.Errorf("connector %s: plugin speaks connector protocol version %s, this hub speaks version %d (binary %s): rebuild the connector against this hub's SDK",
			i.ID(), v, sdk.ProtocolVersion, bin.Path)
	}
	return fmt.Errorf("connector %s: start plugin %s: %w", i.ID(), bin.Path, err)
}

// levelName is the plugin log level matching the hub logger's.
func levelName(l hclog.Logger) string {
	switch {
	case l.IsTrace():
		return "trace"
	case l.IsDebug():
		return "debug"
	case l.IsInfo():
		return "info"
	case l.IsWarn():
		return "warn"
	default:
		return "error"
	}
}
