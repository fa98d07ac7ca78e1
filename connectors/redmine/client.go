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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// client speaks Redmine's REST JSON API with one API key, through the SDK's
// HTTP client (sdk.HTTPClient): reads, updates and deletes that meet 429 or
// 5xx are retried briefly, honouring Retry-After; a create (POST) is sent
// once, and a failure that leaves open whether Redmine stored it is a
// transient error the hub resolves with Find. It classifies every failure
// as an *sdk.Error, counts its requests and, when asked, logs each one to a
// file (config request_log) so that tests and operators can see what a
// sync costs.
type client struct {
	base    *url.URL
	key     string
	http    *sdk.HTTPClient
	project string

	requests atomic.Int64 // HTTP requests sent, retries included

	logMu   sync.Mutex
	logPath string
}

func newClient(base *url.URL, key, project, logPath string, timeout time.Duration) *client {
	c := &client{base: base, key: key, project: project, logPath: logPath}
	c.http = sdk.NewHTTPClient(sdk.HTTPOptions{Service: "Redmine", Timeout: timeout, OnAttempt: c.attempted})
	return c
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
// returns the HTTP status (0 when no complete answer arrived).
func (c *client) do(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	var payload []byte
	contentType := ""
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, sdk.Errorf(sdk.ClassPermanent, "encode the request to %s: %v", path, err)
		}
		// Without it Redmine answers 422 with misleading errors.
		contentType = "application/json"
	}
	resp, err := c.send(ctx, method, path, query, contentType, payload)
	if err != nil {
		return 0, err
	}
	if !resp.OK() {
		return resp.StatusCode, &apiError{status: resp.StatusCode, sdkErr: c.classify(method, c.base.JoinPath(path).Path, resp.StatusCode, resp.Body, resp.RetryAfter)}
	}
	if out != nil {
		if err := resp.DecodeJSON(out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

// raw sends one request with a body of the given content type (empty: no
// body) and returns the answer's body: for uploads and downloads of files.
func (c *client) raw(ctx context.Context, method, path string, query url.Values, contentType string, body []byte) ([]byte, error) {
	resp, err := c.send(ctx, method, path, query, contentType, body)
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, &apiError{status: resp.StatusCode, sdkErr: c.classify(method, c.base.JoinPath(path).Path, resp.StatusCode, resp.Body, resp.RetryAfter)}
	}
	return resp.Body, nil
}

// send builds and sends one request through the SDK's HTTP client (which
// retries what is safe to retry, never a POST).
func (c *client) send(ctx context.Context, method, path string, query url.Values, contentType string, body []byte) (*sdk.HTTPResponse, error) {
	u := c.base.JoinPath(path)
	if len(query) > 0 {
		u.RawQuery = encodeQuery(query)
	}
	var rd io.Reader
	if contentType != "" {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, sdk.Errorf(sdk.ClassPermanent, "build request %s %s: %v", method, u.Path, err)
	}
	req.Header.Set("X-Redmine-API-Key", c.key)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.http.Do(req)
}

// encodeQuery encodes query values keeping the characters Redmine's filter
// syntax uses (*, |, :, ,) readable in logs; it is still a valid URL.
func encodeQuery(q url.Values) string {
	s := q.Encode()
	r := strings.NewReplacer("%2A", "*", "%7C", "|", "%3A", ":", "%2C", ",")
	return r.Replace(s)
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

// attempted counts each request sent, logs it at debug level and, with
// request_log set, appends "METHOD PATH?QUERY STATUS MS" to that file
// (status 0: no complete answer).
func (c *client) attempted(a sdk.HTTPAttempt) {
	c.requests.Add(1)
	method, u, status, d := a.Method, a.URL, a.Status, a.Duration
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
