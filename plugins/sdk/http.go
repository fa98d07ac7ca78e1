package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTPOptions configure an HTTPClient. The zero value is usable.
type HTTPOptions struct {
	// Service names the remote in error messages ("Redmine"); "the
	// remote" when empty.
	Service string
	// Timeout bounds one attempt: sending the request and reading the
	// whole answer (30 seconds when zero).
	Timeout time.Duration
	// Retries is how many times an idempotent request is sent again after
	// a 429 or 5xx answer or a failed connection (2 when zero; negative:
	// never). Other requests are never sent again.
	Retries int
	// BaseDelay is the backoff before the first retry (500ms when zero);
	// it doubles with each retry, with jitter, and a Retry-After the
	// remote sends is the least wait.
	BaseDelay time.Duration
	// MaxWait is the longest the client waits before a retry by itself
	// (10 seconds when zero). When the remote asks for longer, the client
	// returns the answer, whose RetryAfter the connector hands to the hub.
	MaxWait time.Duration
	// MaxBody bounds the body of an answer (64 MiB when zero).
	MaxBody int64
	// Transport sends the requests (a clone of http.DefaultTransport when
	// nil). It must not retry requests itself.
	Transport http.RoundTripper
	// OnAttempt, when set, is called after every attempt, retries
	// included: for request counts and request logs.
	OnAttempt func(HTTPAttempt)
}

// HTTPAttempt is one request sent by an HTTPClient.
type HTTPAttempt struct {
	Method   string
	URL      *url.URL // as sent; it may hold a query, never credentials in headers
	Status   int      // 0 when no answer arrived
	Duration time.Duration
	Err      error // nil when a complete answer arrived
}

// HTTPClient is the HTTP client every connector that speaks HTTP uses. It
// applies the SDK's retry rules (see the package doc, "What may be
// retried") so that no connector has to get them right by itself:
//
//   - Only idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) whose body
//     can be sent again are retried, after a 429 or 5xx answer (not 501),
//     a failed connection or an answer cut off; with exponential backoff
//     and jitter, never sooner than Retry-After says, and never waiting
//     longer than MaxWait. A POST or PATCH is sent exactly once: whether
//     the remote applied it is for Find to say.
//   - It reads the whole answer. An answer cut off (shorter than its
//     Content-Length, a broken chunked body, or JSON that ends early in
//     DecodeJSON) is a transient error: the remote may have done the work.
//   - Failures are *Error values with the SDK's classes; HTTPResponse.Err
//     classifies an answer's status.
//   - It never follows a redirect to another host (or from https to http),
//     so headers carrying credentials (Authorization, API keys) never
//     reach a host they were not meant for.
//
// It is safe for concurrent use.
type HTTPClient struct {
	client    *http.Client
	service   string
	retries   int
	baseDelay time.Duration
	maxWait   time.Duration
	maxBody   int64
	onAttempt func(HTTPAttempt)
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewHTTPClient returns an HTTPClient with opts.
func NewHTTPClient(opts HTTPOptions) *HTTPClient {
	if opts.Service == "" {
		opts.Service = "the remote"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	switch {
	case opts.Retries == 0:
		opts.Retries = 2
	case opts.Retries < 0:
		opts.Retries = 0
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 500 * time.Millisecond
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 10 * time.Second
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 20
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	c := &HTTPClient{service: opts.Service, retries: opts.Retries, baseDelay: opts.BaseDelay,
		maxWait: opts.MaxWait, maxBody: opts.MaxBody, onAttempt: opts.OnAttempt, sleep: sleepCtx}
	c.client = &http.Client{Transport: opts.Transport, Timeout: opts.Timeout, CheckRedirect: c.checkRedirect}
	return c
}

// HTTPResponse is a complete answer: its status, headers and whole body.
type HTTPResponse struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	// RetryAfter is the wait the answer's Retry-After header asks for
	// (zero when it has none).
	RetryAfter time.Duration
	// Attempts is how many times the request was sent.
	Attempts int

	what string // "METHOD /path", for messages
	// service names the remote in messages.
	service string
}

// Idempotent says whether req may be sent again without changing the
// outcome: its method is GET, HEAD, OPTIONS, TRACE, PUT or DELETE, and its
// body (if any) can be produced again (GetBody).
func Idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// Do sends req (bounded by its context) and reads the whole answer. It
// returns the answer whatever its status; the error is for requests that
// got no complete answer, and is an *Error: transient for failed
// connections, timeouts and answers cut off, permanent for a refused
// redirect or an oversized answer. Idempotent requests are retried as the
// HTTPClient doc says; others are sent exactly once.
func (c *HTTPClient) Do(req *http.Request) (*HTTPResponse, error) {
	ctx := req.Context()
	what := req.Method + " " + req.URL.Path
	retryable := Idempotent(req)
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, Errorf(ClassPermanent, "%s: rebuild the request body for a retry: %v", what, err)
				}
				r.Body = body
			}
		}
		resp, err := c.once(r, what)
		if resp != nil {
			resp.Attempts = attempt
		}
		again := retryable && attempt <= c.retries && ctx.Err() == nil
		switch {
		case err != nil:
			again = again && ClassOf(err) == ClassTransient
		default:
			again = again && retryStatus(resp.StatusCode)
		}
		if !again {
			var se *Error
			if !retryable && errors.As(err, &se) && se.Class == ClassTransient {
				err = Errorf(ClassTransient, "%s (not sent again: the request is not idempotent, and %s may have applied it)", se.Message, c.service)
			}
			return resp, err
		}
		wait := c.backoff(attempt)
		if resp != nil && resp.RetryAfter > wait {
			wait = resp.RetryAfter
		}
		if wait > c.maxWait {
			return resp, err // the hub waits it out (Error.RetryAfter)
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		Logger().Debug("retrying an idempotent request", "service", c.service, "method", req.Method, "host", req.URL.Host,
			"path", req.URL.Path, "attempt", attempt, "status", status, "error", err, "wait", wait)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, Errorf(ClassTransient, "%s: %v", what, err)
		}
	}
}

// once sends one attempt and reads its answer.
func (c *HTTPClient) once(req *http.Request, what string) (*HTTPResponse, error) {
	start := time.Now()
	status := 0
	resp, err := c.client.Do(req)
	if err == nil {
		status = resp.StatusCode
		var data []byte
		data, err = c.readBody(resp, what)
		resp.Body.Close()
		if err == nil {
			c.attempted(req, status, start, nil)
			return &HTTPResponse{StatusCode: status, Header: resp.Header, Body: data, what: what, service: c.service,
				RetryAfter: max(parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), 0)}, nil
		}
	} else {
		err = c.transportError(req, what, err)
	}
	c.attempted(req, status, start, err)
	return nil, err
}

func (c *HTTPClient) attempted(req *http.Request, status int, start time.Time, err error) {
	if c.onAttempt != nil {
		c.onAttempt(HTTPAttempt{Method: req.Method, URL: req.URL, Status: status, Duration: time.Since(start), Err: err})
	}
}

// readBody reads a whole answer, classifying a body cut off as transient.
func (c *HTTPClient) readBody(resp *http.Response, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	switch {
	case err != nil:
		n := fmt.Sprintf("%d bytes", len(data))
		if resp.ContentLength >= 0 {
			n += fmt.Sprintf(" of %d", resp.ContentLength)
		}
		return nil, Errorf(ClassTransient, "%s: %s's answer (HTTP %d) broke off after %s: %v", what, c.service, resp.StatusCode, n, stripURL(err))
	case int64(len(data)) > c.maxBody:
		return nil, Errorf(ClassPermanent, "%s: %s's answer is larger than %d bytes", what, c.service, c.maxBody)
	}
	return data, nil
}

// transportError classifies an error of http.Client.Do.
func (c *HTTPClient) transportError(req *http.Request, what string, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return se // a refused redirect
	}
	if ctxErr := req.Context().Err(); ctxErr != nil {
		return Errorf(ClassTransient, "%s: %v", what, ctxErr)
	}
	return Errorf(ClassTransient, "%s: %s at %s cannot be reached: %v", what, c.service, req.URL.Host, stripURL(err))
}

// checkRedirect follows redirects on the same host (and scheme, or http to
// https) only: headers carrying credentials must not reach another host.
func (c *HTTPClient) checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	what := first.Method + " " + first.URL.Path
	switch {
	case len(via) >= 10:
		return Errorf(ClassPermanent, "%s: %s redirected it 10 times", what, c.service)
	case !strings.EqualFold(req.URL.Host, first.URL.Host):
		return Errorf(ClassPermanent, "%s: %s at %s redirects it to another host, %s; the client does not follow (its credentials must not leave %s): if that is where %s now lives, configure its address",
			what, c.service, first.URL.Host, req.URL.Host, first.URL.Host, c.service)
	case first.URL.Scheme == "https" && req.URL.Scheme != "https":
		return Errorf(ClassPermanent, "%s: %s at %s redirects it from https to %s; the client does not follow (credentials would travel unencrypted)",
			what, c.service, first.URL.Host, req.URL.Scheme)
	}
	return nil
}

// backoff is the wait before retry n (n ≥ 1): BaseDelay·2^(n-1), less up
// to half of it at random.
func (c *HTTPClient) backoff(n int) time.Duration {
	d := c.baseDelay << min(n-1, 16)
	return d - time.Duration(rand.Int64N(int64(d)/2+1))
}

// retryStatus says whether an answer with this status is worth sending an
// idempotent request again for.
func retryStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported
}

// OK says whether the answer is a success (2xx).
func (r *HTTPResponse) OK() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// Err returns nil for a success (2xx), else an *Error of the status's class
// (StatusClass), saying the status and the start of the body, with
// RetryAfter set from the answer. Connectors with better words for a
// status (what to fix on a 401) make their own.
func (r *HTTPResponse) Err() *Error {
	if r.OK() {
		return nil
	}
	e := Errorf(StatusClass(r.StatusCode), "%s: %s answered HTTP %d: %.200s", r.what, r.service, r.StatusCode, strings.TrimSpace(string(r.Body)))
	e.RetryAfter = r.RetryAfter
	return e
}

// DecodeJSON decodes the body into v; an empty body leaves v as it is. A
// body that ends before its JSON does is a transient error (an answer cut
// off: the remote may well have done the work); other JSON that does not
// fit v is permanent.
func (r *HTTPResponse) DecodeJSON(v any) error {
	data := bytes.TrimSpace(r.Body)
	if len(data) == 0 {
		return nil
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) && syn.Offset >= int64(len(data)) {
		return Errorf(ClassTransient, "%s: %s's answer (HTTP %d) is cut off: its JSON ends after %d bytes", r.what, r.service, r.StatusCode, len(data))
	}
	return Errorf(ClassPermanent, "%s: %s's answer is not the JSON expected: %v", r.what, r.service, err)
}

// StatusClass is the class of a failure answered with an HTTP status: 409
// and 412 are conflicts, 400 and 422 refused values, 408, 425, 429 and 5xx
// (but 501 and 505) transient, the rest permanent.
func StatusClass(code int) ErrorClass {
	switch {
	case code == http.StatusConflict || code == http.StatusPreconditionFailed:
		return ClassConflict
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		return ClassInvalid
	case code == http.StatusRequestTimeout || code == http.StatusTooEarly || retryStatus(code):
		return ClassTransient
	}
	return ClassPermanent
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date; -1
// when there is none.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// stripURL keeps the URL (its query may hold anything) out of a transport
// error's text.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
