package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// client speaks RT's REST2 API with one auth token through the SDK's HTTP
// client: reads and updates (PUT) that meet 429 or 5xx are retried briefly,
// a create or comment (POST) is sent once. Every failure is an *sdk.Error;
// with request_log set each request is appended to that file.
type client struct {
	base    *url.URL
	token   string
	http    *sdk.HTTPClient
	logMu   sync.Mutex
	logPath string
	catMu   sync.Mutex
	catalog map[string]string // catalog name → id
}

func newClient(base *url.URL, token, logPath string) *client {
	c := &client{base: base.JoinPath("REST", "2.0"), token: token, logPath: logPath, catalog: map[string]string{}}
	c.http = sdk.NewHTTPClient(sdk.HTTPOptions{Service: "RT", OnAttempt: c.attempted})
	return c
}

// errNotFound marks a 404.
var errNotFound = errors.New("not found")

// notFound is a 404: an *sdk.Error that also is errNotFound.
type notFound struct{ err *sdk.Error }

func (e notFound) Error() string   { return e.err.Error() }
func (e notFound) Unwrap() []error { return []error{e.err, errNotFound} }

// do sends one request (path under /REST/2.0) and decodes a JSON answer
// into out (nil: ignore it).
func (c *client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.base.JoinPath(path)
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var rd io.Reader
	if body != nil {
		payload, err := json.Marshal(body)
		if err != nil {
			return sdk.Errorf(sdk.ClassPermanent, "encode the request to %s: %v", path, err)
		}
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return sdk.Errorf(sdk.ClassPermanent, "build request %s %s: %v", method, u.Path, err)
	}
	req.Header.Set("Authorization", "token "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json") // else RT answers 415
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	if !resp.OK() {
		return c.classify(method, u.Path, resp)
	}
	if out != nil {
		return resp.DecodeJSON(out)
	}
	return nil
}

func (c *client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, q, nil, out)
}

// classify turns an HTTP failure into an error a user can act on.
func (c *client) classify(method, path string, resp *sdk.HTTPResponse) error {
	what := method + " " + path
	var m struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(resp.Body))
	if json.Unmarshal(resp.Body, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized:
		return sdk.Errorf(sdk.ClassPermanent, "%s: RT refused the token (HTTP 401): check token (an auth token of the hub's RT user, Settings → Auth Tokens)", what)
	case s == http.StatusForbidden:
		return sdk.Errorf(sdk.ClassPermanent, "%s: RT forbids this to the token's user (HTTP 403): %s; grant the user the rights on the queue or catalog", what, msg)
	case s == http.StatusNotFound:
		return notFound{sdk.Errorf(sdk.ClassPermanent, "%s: not found (HTTP 404)", what)}
	case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
		return sdk.Errorf(sdk.ClassInvalid, "%s: RT refused the values (HTTP %d): %s", what, s, msg)
	}
	return resp.Err()
}

// attempted appends "METHOD PATH?QUERY STATUS MS" to request_log.
func (c *client) attempted(a sdk.HTTPAttempt) {
	if c.logPath == "" {
		return
	}
	target := a.URL.Path
	if a.URL.RawQuery != "" {
		target += "?" + a.URL.RawQuery
	}
	c.logMu.Lock()
	defer c.logMu.Unlock()
	f, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%s %s %d %d\n", a.Method, target, a.Status, a.Duration.Milliseconds())
	f.Close()
}

// catalogID returns a catalog's id (asset searches need it), cached.
func (c *client) catalogID(ctx context.Context, name string) (string, error) {
	c.catMu.Lock()
	id, ok := c.catalog[name]
	c.catMu.Unlock()
	if ok {
		return id, nil
	}
	var cat struct {
		ID rtID `json:"id"`
	}
	if err := c.get(ctx, "/catalog/"+url.PathEscape(name), nil, &cat); err != nil {
		return "", err
	}
	c.catMu.Lock()
	c.catalog[name] = cat.ID.String()
	c.catMu.Unlock()
	return cat.ID.String(), nil
}

// ref is RT's reference to another object: {"id": "ops", "type": "user"}.
type ref struct {
	ID rtID `json:"id"`
}

// rtID is an id as RT writes it: a string in collections and references
// ("2", "ops"), a number in a single record (2).
type rtID string

// UnmarshalJSON takes a string or a number.
func (id *rtID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*id = rtID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("an RT id is a string or a number, not %s", b)
	}
	*id = rtID(n.String())
	return nil
}

// String returns the id.
func (id rtID) String() string { return string(id) }

// cfValue is one custom field on a record.
type cfValue struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// page is one page of a search.
type page[T any] struct {
	Total    int    `json:"total"`
	Items    []T    `json:"items"`
	NextPage string `json:"next_page"`
}

// rtTime formats a time for TicketSQL and asset searches: "YYYY-MM-DD
// HH:MM:SS", read in RT's time zone (the hub's RT runs in UTC; an ISO 8601
// value with T…Z would be read as midnight of its day).
func rtTime(t time.Time) string { return t.UTC().Format(time.DateTime) }

// cfMap reads custom fields into name → first value.
func cfMap(cfs []cfValue) map[string]string {
	m := make(map[string]string, len(cfs))
	for _, f := range cfs {
		if len(f.Values) > 0 {
			m[f.Name] = f.Values[0]
		} else {
			m[f.Name] = ""
		}
	}
	return m
}

// userName reads an owner reference: "" for RT's Nobody.
func userName(r *ref) string {
	if r == nil || r.ID.String() == "Nobody" {
		return ""
	}
	return r.ID.String()
}

// recordVersion is a record's version: RT's LastUpdated and a digest of what the
// hub reads from it. LastUpdated alone has one-second resolution, so a
// person's edit in the second of the hub's own update would carry the
// version the hub stored and be taken for its echo; the digest tells them
// apart.
func recordVersion(lastUpdated, marker string, fields map[string]string) string {
	h := sha256.New()
	h.Write([]byte(marker))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		fmt.Fprintf(h, "\x00%s\x00%s", k, fields[k])
	}
	return lastUpdated + "#" + hex.EncodeToString(h.Sum(nil)[:8])
}
