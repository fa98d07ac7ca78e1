package host

import (
	"io"
	"log"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// The scrubbing boundary.
//
// A connector's text is untrusted: a tool may echo the API key in a 400
// body, and a connector may wrap that body into its error or log it. The
// Instance is where such text enters the hub, so it scrubs there, before
// any caller (the reconciler, its log, the runs table, status, /healthz)
// sees it: every error a call returns, every per-change error of a Push,
// and every line the plugin logs (go-plugin relays its stderr through the
// Instance's logger). The secrets are the values of the sensitive
// attributes of the config sent to Configure (SensitiveValues), known from
// the moment it is sent.

// secretSet holds an instance's secrets; safe for concurrent use.
type secretSet struct {
	mu     sync.RWMutex
	values []string
}

func (s *secretSet) set(values []string) {
	s.mu.Lock()
	s.values = values
	s.mu.Unlock()
}

func (s *secretSet) get() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.values
}

// scrub is Scrub with the set's secrets.
func (s *secretSet) scrub(text string) string { return Scrub(text, s.get()) }

// containsSecret says whether text holds one of secrets (those Scrub hides).
func containsSecret(text string, secrets []string) bool {
	for _, v := range secrets {
		if len(v) >= 4 && strings.Contains(text, v) {
			return true
		}
	}
	return false
}

// ScrubError returns err with every secret replaced by RedactedValue in its
// text and in the text of every error it wraps, keeping what callers test
// for: an *sdk.Error keeps its class and RetryAfter (its Message scrubbed),
// an *sdk.ConfigError its attributes, and sentinel errors (ErrPluginExited,
// sdk.ErrUnsupported, context errors) stay themselves. An error whose chain
// holds no secret is returned as it is.
func ScrubError(err error, secrets []string) error {
	if err == nil || !chainHasSecret(err, secrets) {
		return err
	}
	return scrubTree(err, secrets)
}

// chainHasSecret says whether err or any error it wraps has a secret in
// its text.
func chainHasSecret(err error, secrets []string) bool {
	if err == nil {
		return false
	}
	if containsSecret(err.Error(), secrets) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return chainHasSecret(u.Unwrap(), secrets)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if chainHasSecret(e, secrets) {
				return true
			}
		}
	}
	return false
}

func scrubTree(err error, secrets []string) error {
	if err == nil || !chainHasSecret(err, secrets) {
		return err
	}
	switch e := err.(type) {
	case *sdk.Error:
		c := *e
		c.Message = Scrub(c.Message, secrets)
		return &c
	case *sdk.ConfigError:
		c := &sdk.ConfigError{Problems: make([]sdk.AttributeProblem, len(e.Problems))}
		for i, p := range e.Problems {
			p.Summary, p.Detail = Scrub(p.Summary, secrets), Scrub(p.Detail, secrets)
			c.Problems[i] = p
		}
		return c
	}
	s := &scrubbedError{msg: Scrub(err.Error(), secrets)}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if inner := u.Unwrap(); inner != nil {
			s.causes = []error{scrubTree(inner, secrets)}
		}
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			s.causes = append(s.causes, scrubTree(e, secrets))
		}
	}
	return s
}

// scrubbedError is an error whose text had a secret: the scrubbed text,
// unwrapping to the scrubbed errors it wrapped.
type scrubbedError struct {
	msg    string
	causes []error
}

func (e *scrubbedError) Error() string   { return e.msg }
func (e *scrubbedError) Unwrap() []error { return e.causes }

// scrubResults scrubs the per-change errors of a Push.
func scrubResults(results []sdk.Result, secrets []string) {
	for i := range results {
		if e := results[i].Err; e != nil && containsSecret(e.Message, secrets) {
			c := *e
			c.Message = Scrub(c.Message, secrets)
			results[i].Err = &c
		}
	}
}

// scrubLogger is an hclog.Logger that scrubs its messages and the values
// of its key/value pairs (strings, errors and anything else printed with
// %v) before passing them on.
type scrubLogger struct {
	hclog.Logger
	secrets *secretSet
}

var _ hclog.Logger = (*scrubLogger)(nil)

func newScrubLogger(l hclog.Logger, s *secretSet) hclog.Logger {
	return &scrubLogger{Logger: l, secrets: s}
}

func (l *scrubLogger) clean(msg string, args []any) (string, []any) {
	secrets := l.secrets.get()
	if len(secrets) == 0 {
		return msg, args
	}
	msg = Scrub(msg, secrets)
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = Scrub(v, secrets)
		case error:
			out[i] = Scrub(v.Error(), secrets)
		case nil, bool, int, int64, float64, hclog.Format:
			out[i] = a
		default:
			if s, ok := a.(interface{ String() string }); ok {
				out[i] = Scrub(s.String(), secrets)
			} else {
				out[i] = a
			}
		}
	}
	return msg, out
}

// Log scrubs and logs.
func (l *scrubLogger) Log(level hclog.Level, msg string, args ...any) {
	msg, args = l.clean(msg, args)
	l.Logger.Log(level, msg, args...)
}

// Trace scrubs and logs.
func (l *scrubLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }

// Debug scrubs and logs.
func (l *scrubLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }

// Info scrubs and logs.
func (l *scrubLogger) Info(msg string, args ...any) { l.Log(hclog.Info, msg, args...) }

// Warn scrubs and logs.
func (l *scrubLogger) Warn(msg string, args ...any) { l.Log(hclog.Warn, msg, args...) }

// Error scrubs and logs.
func (l *scrubLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

// With returns a scrubbing logger with the (scrubbed) arguments implied.
func (l *scrubLogger) With(args ...any) hclog.Logger {
	_, args = l.clean("", args)
	return newScrubLogger(l.Logger.With(args...), l.secrets)
}

// Named returns a scrubbing sub-logger.
func (l *scrubLogger) Named(name string) hclog.Logger {
	return newScrubLogger(l.Logger.Named(name), l.secrets)
}

// ResetNamed returns a scrubbing logger of that name.
func (l *scrubLogger) ResetNamed(name string) hclog.Logger {
	return newScrubLogger(l.Logger.ResetNamed(name), l.secrets)
}

// StandardLogger returns a standard logger writing through the scrubber.
func (l *scrubLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return log.New(l.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer whose lines are scrubbed and logged.
func (l *scrubLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return &scrubWriter{l: l, w: l.Logger.StandardWriter(opts)}
}

type scrubWriter struct {
	l *scrubLogger
	w io.Writer
}

func (w *scrubWriter) Write(p []byte) (int, error) {
	if _, err := w.w.Write([]byte(w.l.secrets.scrub(string(p)))); err != nil {
		return 0, err
	}
	return len(p), nil
}
