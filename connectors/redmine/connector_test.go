package main

// Unit tests without a Redmine: config checks, normalisation, cursors and
// how HTTP failures are classified. The connector against a real Redmine,
// conformance kit included, is proved in e2e/redmine.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

func configure(t *testing.T, m map[string]any) (*Connector, error) {
	t.Helper()
	c := New().(*Connector)
	cfg, err := sdk.ConfigFromMap(m)
	if err != nil {
		t.Fatal(err)
	}
	return c, c.Configure(context.Background(), cfg)
}

func good() map[string]any {
	return map[string]any{"url": "https://redmine.example.org/sub/", "api_key": "k", "project": "usm", "tracker": "Risk"}
}

func TestConfigureNamesTheBadAttribute(t *testing.T) {
	for _, tc := range []struct {
		set  map[string]any
		attr string
	}{
		{map[string]any{"url": "redmine.example.org"}, "url"},
		{map[string]any{"api_key": " "}, "api_key"},
		{map[string]any{"project": "USM Project"}, "project"},
		{map[string]any{"tracker": ""}, "tracker"},
		{map[string]any{"report_tracker": "risk"}, "report_tracker"},
		{map[string]any{"page_size": 500}, "page_size"},
		{map[string]any{"timeout": "soon"}, "timeout"},
		{map[string]any{"marker_field": ""}, "marker_field"},
	} {
		m := good()
		for k, v := range tc.set {
			m[k] = v
		}
		_, err := configure(t, m)
		var ce *sdk.ConfigError
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Attribute != tc.attr {
			t.Errorf("Configure with %v = %v, want one problem on %s", tc.set, err, tc.attr)
		}
	}
	c, err := configure(t, good())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.cfg.base.String(); got != "https://redmine.example.org/sub" {
		t.Errorf("base URL %q", got)
	}
	if c.cfg.pageSize != 100 || c.cfg.cfRef("") != "USM marker" || c.cfg.cfRef(sdk.FieldLikelihood) != "USM likelihood" {
		t.Errorf("defaults: %+v", c.cfg)
	}
	m := good()
	m["effort_field"], m["likelihood_field"] = "", 12
	c, err = configure(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.cfRef(sdk.FieldEffort) != "" || c.cfg.cfRef(sdk.FieldLikelihood) != "12" {
		t.Errorf("effort_field %q, likelihood_field %q", c.cfg.cfRef(sdk.FieldEffort), c.cfg.cfRef(sdk.FieldLikelihood))
	}
}

func TestNormTextIsAFixedPoint(t *testing.T) {
	in := "First line  \r\nWindows line\t \r\n\r\n  Indented line\r\nOld Mac\rLast line   \r\n\r\n"
	want := "First line\nWindows line\n\n  Indented line\nOld Mac\nLast line"
	got := normText(in)
	if got != want {
		t.Fatalf("normText = %q, want %q", got, want)
	}
	// Redmine stores \r\n: what comes back normalises to the same.
	if again := normText(strings.ReplaceAll(got, "\n", "\r\n")); again != got {
		t.Errorf("not a fixed point: %q", again)
	}
	for in, want := range map[string]string{" 4 ": "4", "4.0": "4", "x": "x"} {
		if got := normInt(in); got != want {
			t.Errorf("normInt(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"2.50": "2.5", "3": "3", "0.0": "0"} {
		if got := normNumber(in); got != want {
			t.Errorf("normNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCursor(t *testing.T) {
	at := time.Date(2026, 11, 27, 14, 1, 22, 0, time.UTC)
	got, err := parseCursor(encodeCursor(at))
	if err != nil || !got.Equal(at) {
		t.Errorf("round trip: %v %v", got, err)
	}
	if got, err := parseCursor(encodeCursor(time.Time{})); err != nil || !got.IsZero() {
		t.Errorf("empty cursor: %v %v", got, err)
	}
	for _, bad := range []string{"garbage!!", "rm1:yesterday"} {
		if _, err := parseCursor(bad); sdk.ClassOf(err) != sdk.ClassInvalid {
			t.Errorf("parseCursor(%q) = %v, want class invalid", bad, err)
		}
	}
	if s := redmineTime(at.In(time.FixedZone("CET", 3600))); s != "2026-11-27T14:01:22Z" {
		t.Errorf("redmineTime = %s", s)
	}
}

func TestChunksKeepFiltersSmall(t *testing.T) {
	var markers []string
	for i := 0; i < 200; i++ {
		markers = append(markers, sdk.Marker("0192d6a0-3f1e-7c3b-9a55-"+strings.Repeat("0", 8)+string(rune('a'+i%26))+"123"))
	}
	total := 0
	for _, c := range chunks(markers) {
		if n := len(strings.Join(c, "|")); n > filterBudget {
			t.Errorf("a chunk of %d markers is %d characters long", len(c), n)
		}
		total += len(c)
	}
	if total != len(markers) {
		t.Errorf("chunks hold %d markers, want %d", total, len(markers))
	}
}

func TestVersionStatus(t *testing.T) {
	for in, want := range map[string]string{"planned": "open", "active": "open", "closed": "closed", "Locked": "locked", "open": "open"} {
		if got, err := versionStatus(in); err != nil || got != want {
			t.Errorf("versionStatus(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := versionStatus("done"); err == nil {
		t.Error("versionStatus(done) succeeded")
	}
	v := rmVersion{Name: "Sprint 3: Fewer repeat incidents", DueDate: "2026-12-14", Status: "open",
		Description: "USM improvement sprint 3 from 2026-12-01 to 2026-12-14, capacity 10.5 [usmhub-abc]"}
	s := v.sprint()
	if s.number != "3" || s.goal != "Fewer repeat incidents" || s.start != "2026-12-01" || s.capacity != "10.5" || v.marker() != "usmhub-abc" {
		t.Errorf("sprint of %+v = %+v, marker %q", v, s, v.marker())
	}
	if p := s.payload("usmhub-abc"); p["name"] != v.Name || p["description"] != v.Description {
		t.Errorf("payload %v does not give back %+v", p, v)
	}
}

// fakeRedmine answers every request with status and body; it counts them.
func fakeRedmine(t *testing.T, h http.HandlerFunc) (*client, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Header.Get("X-Redmine-API-Key") != "secret-key" {
			t.Errorf("request without the API key header")
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c := newClient(u, "secret-key", "usm", "", 5*time.Second)
	return c, &n
}

func TestClientClassifiesFailures(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		class  sdk.ErrorClass
		says   string
	}{
		{401, "", sdk.ClassPermanent, "HTTP 401"},
		{403, "", sdk.ClassPermanent, "HTTP 403"},
		{404, "", sdk.ClassPermanent, "404"},
		{422, `{"errors":["Subject cannot be blank"]}`, sdk.ClassInvalid, "Subject cannot be blank"},
		{409, "", sdk.ClassConflict, "409"},
		{500, "", sdk.ClassTransient, "HTTP 500"},
	} {
		c, _ := fakeRedmine(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			w.Write([]byte(tc.body))
		})
		_, err := c.do(context.Background(), "GET", "issues.json", nil, nil, nil)
		if sdk.ClassOf(err) != tc.class || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("HTTP %d: %v, want class %s saying %q", tc.status, err, tc.class, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), "secret-key") {
			t.Errorf("HTTP %d: the error shows the key: %v", tc.status, err)
		}
		if tc.status == 404 && !errors.Is(err, errNotFound) {
			t.Errorf("HTTP 404 is not errNotFound: %v", err)
		}
	}
}

func TestClientHonoursRetryAfter(t *testing.T) {
	calls := 0
	c, n := fakeRedmine(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls < 3 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{"issues":[],"total_count":0}`))
	})
	var out issueList
	if _, err := c.do(context.Background(), "GET", "issues.json", nil, nil, &out); err != nil {
		t.Fatalf("after two 429s: %v", err)
	}
	if n.Load() != 3 || c.requests.Load() != 3 {
		t.Errorf("%d requests served, %d counted; want 3", n.Load(), c.requests.Load())
	}

	// A long Retry-After goes back to the hub, which waits it out.
	c, _ = fakeRedmine(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	_, err := c.do(context.Background(), "GET", "issues.json", nil, nil, nil)
	var se *sdk.Error
	if !errors.As(err, &se) || se.Class != sdk.ClassTransient || se.RetryAfter != 2*time.Minute {
		t.Errorf("503 with Retry-After 120 = %#v, want transient with RetryAfter 2m", err)
	}
}

func TestRefusedReadsBack(t *testing.T) {
	cfg := &config{Tracker: "Risk", Fields: map[string]*string{}}
	now := map[string]string{sdk.FieldStatus: "New", sdk.FieldLikelihood: "3", sdk.FieldDescription: "a\nb"}
	if e := refused(7, map[string]string{sdk.FieldStatus: "Locked"}, now, cfg); e == nil || e.Class != sdk.ClassInvalid || !strings.Contains(e.Message, "did not change the status of issue #7") {
		t.Errorf("refused status = %v", e)
	}
	if e := refused(7, map[string]string{sdk.FieldStatus: "new", sdk.FieldDescription: "a  \r\nb\r\n"}, now, cfg); e != nil {
		t.Errorf("values Redmine holds (in its spelling) = %v, want nil", e)
	}
	if e := refused(7, map[string]string{sdk.FieldImpact: "4"}, now, cfg); e == nil || !strings.Contains(e.Message, "USM impact") {
		t.Errorf("a value of a custom field the issue lacks = %v, want an error naming the field", e)
	}
}

// A create is sent once: Redmine may have stored the issue before its
// answer failed, and only Find may say whether to create it again. An
// answer cut off is transient, not a refusal; the API key never follows a
// redirect to another host.
func TestClientSendsACreateOnce(t *testing.T) {
	c, n := fakeRedmine(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable) // after storing the issue
	})
	_, err := c.do(context.Background(), "POST", "issues.json", nil, map[string]any{"issue": map[string]any{"subject": "x"}}, nil)
	if sdk.ClassOf(err) != sdk.ClassTransient || n.Load() != 1 {
		t.Errorf("POST answered 503: %v after %d requests; want a transient error after exactly 1", err, n.Load())
	}

	c, _ = fakeRedmine(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"issue":{"id":12,"subj`))
	})
	var out struct {
		Issue issue `json:"issue"`
	}
	_, err = c.do(context.Background(), "POST", "issues.json", nil, map[string]any{"issue": map[string]any{"subject": "x"}}, &out)
	if sdk.ClassOf(err) != sdk.ClassTransient {
		t.Errorf("POST answered 201 with JSON cut off = %v (class %s), want transient: the issue may exist", err, sdk.ClassOf(err))
	}

	var leaked atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Redmine-API-Key") != "" {
			leaked.Add(1)
		}
		w.Write([]byte(`{"issues":[]}`))
	}))
	t.Cleanup(other.Close)
	c, _ = fakeRedmine(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	})
	_, err = c.do(context.Background(), "GET", "issues.json", nil, nil, &out)
	if leaked.Load() > 0 {
		t.Errorf("the API key was sent to the host Redmine redirected to")
	}
	if err == nil || strings.Contains(err.Error(), "secret-key") {
		t.Errorf("GET redirected to another host = %v, want an error (without the key)", err)
	}
}
