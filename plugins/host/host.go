// Package host is the hub's side of the connector plugin system: it finds
// connector binaries (usmhub-connector-<type>), verifies an optional sha256
// pin, launches them through hashicorp/go-plugin (gRPC only, Managed,
// AutoMTLS, the versioned wire.Handshake), fingerprints them with Describe,
// and hands out each connector instance as an sdk.Connector (Instance) that
// applies a timeout to every call and relaunches a crashed plugin, with
// backoff, on its next use. It also decodes a connector's HCL config block
// against the schema the plugin describes (DecodeConfig), and serves a
// connector in-process over real gRPC for tests and the conformance kit
// (InProcess).
//
// Set is a loaded config's connectors as the hub's core asks for them
// (core/app.Connectors): each block launched on first use, decoded,
// configured, fingerprinted, and its secrets scrubbed from what comes back.
// LockConfig pins the binaries a config uses; DescribeType launches one
// type to describe it.
//
// It owns plugin processes and their sockets; it reads the config but
// knows nothing of sync, stores or the canonical model, and never sees
// generated protobuf code.
//
// Whoever creates a Host closes it; main also defers plugin.CleanupClients()
// so that no plugin outlives the hub on any exit path go can run. On Linux a
// hub killed outright takes its plugins with it (parent-death signal).
package host

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/usmhub/usmhub/plugins/internal/warmcurve"
)

// DefaultCallTimeout bounds each call to a connector unless
// Options.CallTimeout says otherwise.
const DefaultCallTimeout = 60 * time.Second

// DefaultStartTimeout bounds a plugin's start: from exec to a completed
// handshake.
const DefaultStartTimeout = 30 * time.Second

// Options configure a Host.
type Options struct {
	// Dirs are the folders to look for connector binaries in, first match
	// wins: usually DefaultDirs(hub.plugin_dir).
	Dirs []string
	// Logger is the hub's logger; each instance logs, and relays its
	// plugin's stderr log, under Named("connector").Named("<type>.<name>").
	// Nil discards.
	Logger hclog.Logger
	// CallTimeout bounds each call (DefaultCallTimeout when zero). For Pull
	// it is an idle timeout: the connector must deliver each next batch
	// within it; time the hub spends storing a batch does not count.
	CallTimeout time.Duration
	// StartTimeout bounds a plugin's start (DefaultStartTimeout when zero).
	StartTimeout time.Duration
	// Env are extra KEY=VALUE entries for every plugin's environment.
	// Plugins do not inherit the hub's own environment (it often holds
	// secrets); their config reaches them through Configure.
	Env []string
	// WorkDir is the folder plugins run in, so that relative paths in a
	// connector's config are relative to the config file's folder. Empty
	// keeps the hub's working directory.
	WorkDir string
	// Lock maps a connector type to the sha256 (hex) its binary must have,
	// as the lock file LockFile records it: every launch of that type
	// verifies it, besides the pin of its connector block. Nil: no lock.
	Lock     map[string]string
	LockFile string
	// RequirePins refuses to launch a connector type whose binary is
	// pinned neither by the pin passed to Launch nor in Lock
	// (hub.require_plugin_pins).
	RequirePins bool
	// SocketBase overrides the folder holding the plugin socket folders
	// (default <os.TempDir()>/usmhub-plugins-<uid>); tests use it.
	SocketBase string
}

// Host launches connector plugins and keeps track of their instances.
// Its methods are safe for concurrent use.
type Host struct {
	opts    Options
	log     hclog.Logger
	sockets *socketDir

	mu        sync.Mutex
	instances map[*Instance]struct{}
	closed    bool
}

// New returns a Host. It makes the Host's plugin socket folder, removing
// those left behind by hubs that died (see sockets.go); a failure there is
// logged and the plugins fall back to go-plugin's default socket folder.
func New(opts Options) (*Host, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.SocketBase == "" {
		opts.SocketBase = socketBase()
	}
	h := &Host{opts: opts, log: opts.Logger.Named("plugins"), instances: map[*Instance]struct{}{}}
	sockets, removed, err := openSocketDir(opts.SocketBase)
	if err != nil {
		h.log.Warn("no private plugin socket folder; plugins use the default", "error", err)
	} else {
		h.sockets = sockets
	}
	if len(removed) > 0 {
		h.log.Info("removed stale plugin socket folders of hubs that are gone", "folders", removed)
	}
	return h, nil
}

// Launch starts the plugin of connector type typ for the instance named
// name (the labels of its connector block), and fingerprints it: the
// binary must match pinSHA256 when that is set (hex sha256; checked by the
// Host and again by go-plugin), the handshake must succeed, and Describe
// must report sdk.ProtocolVersion. A plugin whose process exits while it
// starts (killed, or crashing) is launched again, with the relaunch
// backoff, up to four launches; then the error is a *StartExitError saying
// how the process ended. Every error names the instance as
// "connector <type>.<name>".
//
// The instance is not configured yet: call Configure next.
func (h *Host) Launch(ctx context.Context, typ, name, pinSHA256 string) (*Instance, error) {
	// go-plugin's AutoMTLS makes a P-521 certificate before each exec, and
	// the process's first one builds the curve's generator table (~5 ms of
	// CPU): begin it now, beside the binary's sha256 (a first launch of it
	// reads it whole), instead of after.
	warmOnce.Do(func() { go warmcurve.Warm() })
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("connector %s.%s: host is closed", typ, name)
	}
	secrets := &secretSet{}
	i := &Instance{
		host:    h,
		typ:     typ,
		name:    name,
		pin:     pinSHA256,
		log:     newScrubLogger(h.opts.Logger.Named("connector").Named(typ+"."+name), secrets),
		timeout: h.opts.CallTimeout,
		done:    make(chan struct{}),
		secrets: secrets,
	}
	if pinSHA256 != "" {
		if _, _, err := parsePin(pinSHA256); err != nil {
			return nil, fmt.Errorf("connector %s: %w", i.ID(), err)
		}
	}
	i.mu.Lock()
	err := i.startLocked(ctx)
	i.mu.Unlock()
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		i.Close()
		return nil, fmt.Errorf("connector %s: host is closed", i.ID())
	}
	h.instances[i] = struct{}{}
	return i, nil
}

// Instances returns the instances launched and not closed.
func (h *Host) Instances() []*Instance {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Instance, 0, len(h.instances))
	for i := range h.instances {
		out = append(out, i)
	}
	return out
}

// Close kills every instance's plugin and removes the Host's socket folder.
// Later Launches fail.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	instances := h.instances
	h.instances = map[*Instance]struct{}{}
	h.mu.Unlock()

	var wg sync.WaitGroup
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i.close()
		}()
	}
	wg.Wait()
	return h.sockets.close()
}

func (h *Host) forget(i *Instance) {
	h.mu.Lock()
	delete(h.instances, i)
	h.mu.Unlock()
}

// launcher starts plugin processes from one goroutine locked to its OS
// thread for the life of the hub. On Linux the parent-death signal fires
// when the thread that forked a plugin exits; Go may end a thread (one that
// a goroutine left locked), so every fork happens on this thread, which never
// exits. go-plugin forks inside Client.Start, so the whole Start (exec and
// handshake) runs here: launches are serialised, each bounded by its start
// timeout.
type launcher struct {
	reqs chan launchReq
}

type launchReq struct {
	client *plugin.Client
	done   chan error // buffered: the requester may have gone
}

var theLauncher = sync.OnceValue(func() *launcher {
	l := &launcher{reqs: make(chan launchReq)}
	go l.run()
	return l
})

func (l *launcher) run() {
	runtime.LockOSThread() // never unlocked: see launcher
	for r := range l.reqs {
		_, err := r.client.Start()
		r.done <- err
	}
}

// start runs client.Start on the launcher thread. If ctx ends first, the
// start is left to finish there and its plugin is killed.
func (l *launcher) start(ctx context.Context, client *plugin.Client) error {
	r := launchReq{client: client, done: make(chan error, 1)}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		go func() {
			<-r.done
			client.Kill()
		}()
		return ctx.Err()
	}
}

// warmOnce starts warmcurve.Warm at the process's first launch.
var warmOnce sync.Once

// errClosed is returned by calls on a closed Instance.
var errClosed = errors.New("connector instance is closed")
