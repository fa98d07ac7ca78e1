package sdk

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testHTTPClient returns a client that does not sleep between retries but
// records each wait.
func testHTTPClient(opts HTTPOptions) (*HTTPClient, *[]time.Duration) {
	c := NewHTTPClient(opts)
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return nil
	}
	return c, waits
}

func newRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	var req *http.Request
	var err error
	if body == "" {
		req, err = http.NewRequestWithContext(t.Context(), method, url, nil)
	} else {
		req, err = http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	}
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// dropConnection closes the client's connection without an answer.
func dropConnection(t *testing.T, w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

// A POST the server stored before it failed (503, or a dropped connection)
// is sent exactly once: only Find may tell whether it needs sending again.
func TestHTTPPostIsSentOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(w http.ResponseWriter)
	}{
		{"503 after storing", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		}},
		{"429 after storing", func(w http.ResponseWriter) { w.WriteHeader(http.StatusTooManyRequests) }},
		{"connection dropped after storing", func(w http.ResponseWriter) { dropConnection(t, w) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stored atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				stored.Add(1) // the issue is created...
				tc.fail(w)    // ...and the answer is lost
			}))
			defer srv.Close()
			c, _ := testHTTPClient(HTTPOptions{Service: "Tool", BaseDelay: time.Millisecond})
			resp, err := c.Do(newRequest(t, http.MethodPost, srv.URL+"/issues.json", `{"issue":{}}`))
			if n := stored.Load(); n != 1 {
				t.Errorf("the server got the POST %d times, want exactly once", n)
			}
			if err == nil {
				err = resp.Err()
			}
			if ClassOf(err) != ClassTransient {
				t.Errorf("POST failing after the server stored it = %v (class %s), want transient: the hub keeps the create pending and asks Find", err, ClassOf(err))
			}
		})
	}
}

// Idempotent requests are retried after 5xx, 429 and broken connections.
func TestHTTPIdempotentRequestsAreRetried(t *testing.T) {
	for _, tc := range []struct {
		method string
		fail   func(w http.ResponseWriter)
	}{
		{http.MethodGet, func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }},
		{http.MethodGet, func(w http.ResponseWriter) { dropConnection(t, w) }},
		{http.MethodPut, func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }},
		{http.MethodDelete, func(w http.ResponseWriter) { w.WriteHeader(http.StatusTooManyRequests) }},
	} {
		var calls atomic.Int64
		var bodies []string
		var mu sync.Mutex
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var b bytes.Buffer
			b.ReadFrom(r.Body)
			mu.Lock()
			bodies = append(bodies, b.String())
			mu.Unlock()
			if calls.Add(1) == 1 {
				tc.fail(w)
				return
			}
			w.Write([]byte(`{"ok":true}`))
		}))
		c, waits := testHTTPClient(HTTPOptions{BaseDelay: time.Millisecond})
		body := ""
		if tc.method == http.MethodPut {
			body = `{"x":1}`
		}
		resp, err := c.Do(newRequest(t, tc.method, srv.URL+"/issues/1.json", body))
		srv.Close()
		if err != nil || !resp.OK() || resp.Attempts != 2 {
			t.Errorf("%s failing once, then 200: resp %+v, err %v; want success on attempt 2", tc.method, resp, err)
			continue
		}
		var out struct{ OK bool }
		if err := resp.DecodeJSON(&out); err != nil || !out.OK {
			t.Errorf("%s: DecodeJSON = %v, %+v", tc.method, err, out)
		}
		if len(*waits) != 1 {
			t.Errorf("%s: %d waits before retries, want 1", tc.method, len(*waits))
		}
		if tc.method == http.MethodPut && (len(bodies) != 2 || bodies[1] != body) {
			t.Errorf("PUT retried with bodies %q, want the same body twice", bodies)
		}
	}
}

// Retry-After is the least wait before a retry; one longer than MaxWait
// goes back to the hub as the answer's RetryAfter, without a retry.
func TestHTTPHonoursRetryAfter(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	c, waits := testHTTPClient(HTTPOptions{BaseDelay: time.Millisecond, MaxWait: time.Minute})
	resp, err := c.Do(newRequest(t, http.MethodGet, srv.URL+"/x", ""))
	if err != nil || !resp.OK() || calls.Load() != 3 {
		t.Fatalf("after two 429s: %+v, %v (%d calls)", resp, err, calls.Load())
	}
	for i, w := range *waits {
		if w < 3*time.Second {
			t.Errorf("wait %d before a retry was %v, less than Retry-After: 3", i+1, w)
		}
	}

	calls.Store(0)
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv2.Close()
	c, waits = testHTTPClient(HTTPOptions{BaseDelay: time.Millisecond, MaxWait: 10 * time.Second})
	resp, err = c.Do(newRequest(t, http.MethodGet, srv2.URL+"/x", ""))
	if err != nil {
		t.Fatal(err)
	}
	e := resp.Err()
	if calls.Load() != 1 || len(*waits) != 0 || e == nil || e.Class != ClassTransient || e.RetryAfter != 2*time.Minute {
		t.Errorf("503 with Retry-After 120 (MaxWait 10s): %d calls, waits %v, error %#v; want one call, no wait, transient with RetryAfter 2m", calls.Load(), *waits, e)
	}
}

// A 2xx answer cut off is a transient error, not a refusal: the remote may
// have done the work.
func TestHTTPTruncatedAnswerIsTransient(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/short": // Content-Length promises more than arrives
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"issue":{"id":7`))
		case "/cut": // a complete HTTP body holding half a JSON document
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"issue":{"id":7,"sub`))
		case "/bad":
			w.Write([]byte(`<html>maintenance</html>`))
		}
	}))
	defer srv.Close()
	c, _ := testHTTPClient(HTTPOptions{Service: "Tool", BaseDelay: time.Millisecond})

	_, err := c.Do(newRequest(t, http.MethodPost, srv.URL+"/short", `{}`))
	if ClassOf(err) != ClassTransient || !strings.Contains(err.Error(), "broke off") {
		t.Errorf("POST answered 201 with a short body = %v, want a transient error saying the answer broke off", err)
	}
	if calls.Load() != 1 {
		t.Errorf("the POST was sent %d times, want once", calls.Load())
	}

	resp, err := c.Do(newRequest(t, http.MethodPost, srv.URL+"/cut", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := resp.DecodeJSON(&out); ClassOf(err) != ClassTransient {
		t.Errorf("DecodeJSON of JSON cut off = %v (class %s), want transient", err, ClassOf(err))
	}
	resp, err = c.Do(newRequest(t, http.MethodGet, srv.URL+"/bad", ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.DecodeJSON(&out); err == nil || ClassOf(err) != ClassPermanent {
		t.Errorf("DecodeJSON of HTML = %v, want a permanent error", err)
	}

	calls.Store(0)
	_, err = c.Do(newRequest(t, http.MethodGet, srv.URL+"/short", ""))
	if ClassOf(err) != ClassTransient || calls.Load() != 3 {
		t.Errorf("GET always cut off = %v after %d attempts, want transient after 3", err, calls.Load())
	}
}

// Credentials never reach another host: a redirect there is refused.
func TestHTTPRedirectDoesNotLeakCredentials(t *testing.T) {
	var leaked atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Redmine-API-Key") != "" || r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		w.Write([]byte(`{}`))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, other.URL+"/issues.json", http.StatusTemporaryRedirect)
		case "/old":
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
		case "/new":
			if r.Header.Get("X-Redmine-API-Key") != "secret-key" {
				w.WriteHeader(http.StatusUnauthorized)
			}
		}
	}))
	defer srv.Close()
	c, _ := testHTTPClient(HTTPOptions{Service: "Redmine"})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req := newRequest(t, method, srv.URL+"/moved", "")
		req.Header.Set("X-Redmine-API-Key", "secret-key")
		req.Header.Set("Authorization", "Bearer secret-token")
		_, err := c.Do(req)
		if err == nil || ClassOf(err) != ClassPermanent || !strings.Contains(err.Error(), "another host") {
			t.Errorf("%s redirected to another host = %v, want a permanent error saying so", method, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error shows a credential: %v", err)
		}
	}
	if n := leaked.Load(); n > 0 {
		t.Errorf("the other host received the credentials %d times", n)
	}

	req := newRequest(t, http.MethodGet, srv.URL+"/old", "")
	req.Header.Set("X-Redmine-API-Key", "secret-key")
	resp, err := c.Do(req)
	if err != nil || !resp.OK() {
		t.Errorf("a redirect on the same host: %+v, %v; want it followed with the key", resp, err)
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]ErrorClass{400: ClassInvalid, 401: ClassPermanent, 404: ClassPermanent, 409: ClassConflict,
		412: ClassConflict, 422: ClassInvalid, 429: ClassTransient, 500: ClassTransient, 501: ClassPermanent, 503: ClassTransient} {
		if got := StatusClass(code); got != want {
			t.Errorf("StatusClass(%d) = %s, want %s", code, got, want)
		}
	}
	if got := parseRetryAfter(time.Date(2030, 1, 1, 0, 0, 30, 0, time.UTC).Format(http.TimeFormat), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)); got != 30*time.Second {
		t.Errorf("Retry-After as a date = %v, want 30s", got)
	}
}
