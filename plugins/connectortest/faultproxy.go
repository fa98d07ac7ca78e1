package connectortest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// commitFault is how the fault proxy fails a request after the tool has
// committed it.
type commitFault string

const (
	// faultNone forwards every request and its answer.
	faultNone commitFault = ""
	// fault503 forwards the request and answers 503 instead of the tool.
	fault503 commitFault = "an HTTP 503 answer"
	// faultDrop forwards the request and closes the connection unanswered.
	faultDrop commitFault = "a dropped connection"
	// faultTruncate forwards the request and sends the tool's status and
	// Content-Length with only half its body.
	faultTruncate commitFault = "an answer cut off"
)

// commitFaults are the faults the kit injects, in order.
var commitFaults = []commitFault{fault503, faultDrop, faultTruncate}

// faultProxy is an HTTP reverse proxy in the test process between a
// connector and its tool. While a fault is set, it forwards each
// non-idempotent request (POST, PATCH: the tool applies them) to the tool,
// and then fails the answer with the fault; idempotent requests always pass
// through.
type faultProxy struct {
	srv    *httptest.Server
	target *url.URL // the tool's URL as the fixture configures it

	mu        sync.Mutex
	fault     commitFault
	committed []proxied // the requests failed after the tool took them
}

// proxied is a request the proxy forwarded and then failed.
type proxied struct {
	what   string // "METHOD /path"
	status int    // the tool's answer
}

// errFault carries the tool's answer to the proxy's error handler.
type errFault struct {
	status int
	header http.Header
	body   []byte
}

func (e *errFault) Error() string { return fmt.Sprintf("injected fault after HTTP %d", e.status) }

// newFaultProxy starts a proxy to target (an http or https URL), stopped
// when the test ends.
func newFaultProxy(t *testing.T, target *url.URL) *faultProxy {
	t.Helper()
	p := &faultProxy{target: target}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
		},
		Transport:      transport,
		ModifyResponse: p.modify,
		ErrorHandler:   p.fail,
	}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(func() {
		p.srv.Close()
		transport.CloseIdleConnections()
	})
	return p
}

// URL is the tool's URL with the proxy in its place: same path and query.
func (p *faultProxy) URL() string {
	u := *p.target
	proxy, _ := url.Parse(p.srv.URL)
	u.Scheme, u.Host, u.User = proxy.Scheme, proxy.Host, nil
	return u.String()
}

// set makes the proxy inject f (faultNone: pass everything) and forgets
// the requests it failed before.
func (p *faultProxy) set(f commitFault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.committed = f, nil
}

// failed returns the requests the proxy failed after the tool took them,
// since the last set.
func (p *faultProxy) failed() []proxied {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proxied(nil), p.committed...)
}

// modify turns the tool's answer to a non-idempotent request into an
// errFault while a fault is set; fail then answers with the fault.
func (p *faultProxy) modify(resp *http.Response) error {
	switch resp.Request.Method {
	case http.MethodPost, http.MethodPatch:
	default:
		return nil
	}
	p.mu.Lock()
	fault := p.fault
	if fault != faultNone {
		p.committed = append(p.committed, proxied{what: resp.Request.Method + " " + resp.Request.URL.Path, status: resp.StatusCode})
	}
	p.mu.Unlock()
	if fault == faultNone {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read the tool's answer: %w", err)
	}
	return &errFault{status: resp.StatusCode, header: resp.Header, body: body}
}

// fail answers a request whose forwarding failed, or which modify chose to
// fail.
func (p *faultProxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ef *errFault
	if !errors.As(err, &ef) {
		http.Error(w, "connectortest proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	p.mu.Lock()
	fault := p.fault
	p.mu.Unlock()
	switch fault {
	case fault503:
		w.Header().Set("Retry-After", "0")
		http.Error(w, "connectortest: injected 503 after the tool committed the request", http.StatusServiceUnavailable)
		return
	}
	conn, buf, herr := w.(http.Hijacker).Hijack()
	if herr != nil {
		http.Error(w, "connectortest proxy: "+herr.Error(), http.StatusBadGateway)
		return
	}
	defer conn.Close()
	if fault == faultTruncate {
		length := len(ef.body)
		half := ef.body[:length/2]
		if length == 0 {
			length = 64 // promise a body that never comes
		}
		fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
			ef.status, http.StatusText(ef.status), ef.header.Get("Content-Type"), length)
		buf.Write(half)
		buf.Flush()
	}
}
