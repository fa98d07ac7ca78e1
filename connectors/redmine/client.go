package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// client speaks Redmine's REST JSON API with one API key. It classifies
// every failure as an *sdk.Error, retries briefly what Redmine asks to be
// retried (429, 502–504), counts its requests and, when asked, logs each
// one to a file (config request_log) so that tests and operators can see
// what a sync costs.
type client struct {
	base    *url.URL
	key     string
	http    *http.Client
	project string

	requests atomic.Int64 // HTTP requests sent, retries included

	logMu   sync.Mutex
	logPath string

	// maxRetries and maxWait bound the client's own retries of 429 and
	// 502–504 answers; longer waits go back to the hub as transient
	// errors with RetryAfter.
	maxRetries int
	maxWait    time.Duration
}

func newClient(base *url.URL, key, project, logPath string, timeout time.Duration) *client {
	return &client{base: base, key: key, project: project, logPath: logPath,
		http: &http.Client{Timeout: timeout}, maxRetries: 2, maxWait: 10 * time.Second}
}

// errNotFound marks a 404 so callers can tell "gone" from other failures.
var errNotFound = errors.New("not found")

// apiError is a classified failure of one request.
type apiError struct {
	status int
	sdkErr *sdk.Error
}

func (e *apiError) Error() string { return e.sdkErr.Error() }
func (e *apiError) Unwrap() []error {
	if e.status == http.StatusNotFound {
		return []error{e.sdkErr, errNotFound}
	}
	return []error{e.sdkErr}
}

// asSDK returns err as an *sdk.Error (class permanent when unclassified).
func asSDK(err error) *sdk.Error {
	var se *sdk.Error
	if errors.As(err, &se) {
		return se
	}
	return &sdk.Error{Class: sdk.ClassPermanent, Message: err.Error()}
}

// do sends one request (path relative to the base URL, query values, a JSON
// body or nil) and decodes a JSON answer into out (nil: ignore the body). It
// returns the HTTP status.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	u := c.base.JoinPath(path)
	if len(query) > 0 {
		u.RawQuery = encodeQuery(query)
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, sdk.Errorf(sdk.ClassPermanent, "encode the request to %s: %v", path, err)
		}
	}
	for attempt := 0; ; attempt++ {
		status, retryAfter, err := c.once(ctx, method, u, payload, out)
		if err == nil {
			return status, nil
		}
		se := asSDK(err)
		retryable := status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable ||
			(method == http.MethodGet && (status == http.StatusBadGateway || status == http.StatusGatewayTimeout))
		if !retryable || attempt >= c.maxRetries || retryAfter > c.maxWait {
			return status, err
		}
		wait := retryAfter
		if wait < 0 { // no Retry-After: back off a little
			wait = time.Duration(attempt+1) * time.Second
		}
		sdk.Logger().Debug("redmine asked to retry", "method", method, "path", path, "status", status, "wait", wait, "error", se.Message)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return status, sdk.Errorf(sdk.ClassTransient, "%s %s: %v", method, path, ctx.Err())
		}
	}
}

// encodeQuery encodes query values keeping the characters Redmine's filter
// syntax uses (*, |, :, ,) readable in logs; it is still a valid URL.
func encodeQuery(q url.Values) string {
	s := q.Encode()
	r := strings.NewReplacer("%2A", "*", "%7C", "|", "%3A", ":", "%2C", ",")
	return r.Replace(s)
}

// once sends the request once and classifies the outcome.
func (c *client) once(ctx context.Context, method string, u *url.URL, payload []byte, out any) (int, time.Duration, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, 0, sdk.Errorf(sdk.ClassPermanent, "build request %s %s: %v", method, u.Path, err)
	}
	req.Header.Set("X-Redmine-API-Key", c.key)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		// Without it Redmine answers 422 with misleading errors.
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	c.requests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		c.logRequest(method, u, 0, time.Since(start))
		if ctx.Err() != nil {
			return 0, 0, sdk.Errorf(sdk.ClassTransient, "%s %s: %v", method, u.Path, ctx.Err())
		}
		return 0, 0, sdk.Errorf(sdk.ClassTransient, "%s %s: Redmine at %s cannot be reached: %v", method, u.Path, c.base.Host, stripURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	c.logRequest(method, u, resp.StatusCode, time.Since(start))
	if err != nil {
		return resp.StatusCode, 0, sdk.Errorf(sdk.ClassTransient, "%s %s: read the answer: %v", method, u.Path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return resp.StatusCode, 0, sdk.Errorf(sdk.ClassPermanent, "%s %s: Redmine's answer is not the JSON expected: %v", method, u.Path, err)
			}
		}
		return resp.StatusCode, 0, nil
	}
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return resp.StatusCode, retryAfter, &apiError{status: resp.StatusCode, sdkErr: c.classify(method, u.Path, resp.StatusCode, data, max(retryAfter, 0))}
}

// classify turns an HTTP failure into a classified error with a message a
// user can act on.
func (c *client) classify(method, path string, status int, body []byte, retryAfter time.Duration) *sdk.Error {
	what := method + " " + path
	switch {
	case status == http.StatusUnauthorized:
		return sdk.Errorf(sdk.ClassPermanent, "%s: Redmine refused the API key (HTTP 401): check api_key (My account → API access key), and that the REST API is enabled (Administration → Settings → API → Enable REST web service)", what)
	case status == http.StatusForbidden:
		return sdk.Errorf(sdk.ClassPermanent, "%s: Redmine forbids this to the API key's user (HTTP 403): make the user a member of project %q with a role that may view, add and edit issues and manage versions (an administrator's key can do everything)", what, c.project)
	case status == http.StatusNotFound:
		return sdk.Errorf(sdk.ClassPermanent, "%s: not found (HTTP 404)", what)
	case status == http.StatusConflict:
		return sdk.Errorf(sdk.ClassConflict, "%s: Redmine reports a conflicting change (HTTP 409)", what)
	case status == http.StatusUnprocessableEntity:
		var e struct {
			Errors []string `json:"errors"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
			msg = strings.Join(e.Errors, "; ")
		}
		return sdk.Errorf(sdk.ClassInvalid, "%s: Redmine refused the values (HTTP 422): %s", what, msg)
	case status == http.StatusTooManyRequests || status >= 500:
		e := sdk.Errorf(sdk.ClassTransient, "%s: Redmine is busy or failing (HTTP %d); try again later", what, status)
		e.RetryAfter = retryAfter
		return e
	}
	return sdk.Errorf(sdk.ClassPermanent, "%s: unexpected HTTP %d from Redmine: %.200s", what, status, strings.TrimSpace(string(body)))
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

// stripURL keeps the URL (and thus nothing sensitive, the key travels in a
// header) out of a transport error's text.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// logRequest counts the request in the debug log and, with request_log set,
// appends "METHOD PATH?QUERY STATUS MS" to that file.
func (c *client) logRequest(method string, u *url.URL, status int, d time.Duration) {
	target := u.Path
	if u.RawQuery != "" {
		target += "?" + u.RawQuery
	}
	sdk.Logger().Debug("redmine request", "method", method, "target", target, "status", status, "ms", d.Milliseconds())
	if c.logPath == "" {
		return
	}
	c.logMu.Lock()
	defer c.logMu.Unlock()
	f, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		sdk.Logger().Warn("cannot write request_log", "error", err)
		return
	}
	fmt.Fprintf(f, "%s %s %d %d\n", method, target, status, d.Milliseconds())
	f.Close()
}
