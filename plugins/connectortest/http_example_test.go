package connectortest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// riskTool is a tool that keeps risks behind a small JSON API, as trackers
// do: POST /risks creates a risk every time (the tool knows nothing of hub
// markers), GET /risks finds (?marker=) and lists changes (?after=), PUT
// and DELETE /risks/{id} update and delete.
type riskTool struct {
	mu      sync.Mutex
	seq     int
	records []sdk.Record
}

// newRiskTool serves a riskTool until the test ends; it returns its URL.
func newRiskTool(t *testing.T) string {
	t.Helper()
	tool := &riskTool{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /risks", tool.list)
	mux.HandleFunc("POST /risks", tool.create)
	mux.HandleFunc("PUT /risks/{id}", tool.update)
	mux.HandleFunc("DELETE /risks/{id}", tool.remove)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (tl *riskTool) list(w http.ResponseWriter, r *http.Request) {
	marker := r.URL.Query().Get("marker")
	after, err := strconv.Atoi("0" + r.URL.Query().Get("after"))
	if err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": "after is not a number"})
		return
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	out := []sdk.Record{}
	for _, rec := range tl.records {
		if v, _ := strconv.Atoi(rec.Version); marker == "" && v > after || marker != "" && rec.Marker == marker && !rec.Deleted {
			out = append(out, rec)
		}
	}
	reply(w, http.StatusOK, map[string]any{"records": out, "cursor": strconv.Itoa(max(after, tl.seq))})
}

// write stores fields over rec as a new version, or says why not.
func (tl *riskTool) write(w http.ResponseWriter, rec *sdk.Record, fields map[string]string) bool {
	merged := map[string]string{}
	for k, v := range rec.Fields {
		merged[k] = v
	}
	for k, v := range fields {
		merged[k] = normalise(v)
	}
	if err := validate(merged); err != nil {
		reply(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Message})
		return false
	}
	tl.seq++
	rec.Fields, rec.Version, rec.UpdatedAt = merged, strconv.Itoa(tl.seq), time.Now().UTC()
	return true
}

func (tl *riskTool) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Marker string
		Fields map[string]string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	rec := sdk.Record{ExternalID: "H-" + strconv.Itoa(len(tl.records)+1), Marker: in.Marker}
	if tl.write(w, &rec, in.Fields) {
		tl.records = append(tl.records, rec)
		reply(w, http.StatusCreated, map[string]any{"record": rec})
	}
}

func (tl *riskTool) find(w http.ResponseWriter, r *http.Request) *sdk.Record {
	for i := range tl.records {
		if rec := &tl.records[i]; rec.ExternalID == r.PathValue("id") && !(rec.Deleted && r.Method == http.MethodPut) {
			return rec
		}
	}
	reply(w, http.StatusNotFound, map[string]string{"error": "no risk " + r.PathValue("id")})
	return nil
}

func (tl *riskTool) update(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Version string
		Fields  map[string]string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	rec := tl.find(w, r)
	switch {
	case rec == nil:
	case in.Version != "" && in.Version != rec.Version:
		reply(w, http.StatusConflict, map[string]string{"error": "risk changed since version " + in.Version})
	default:
		next := *rec
		if tl.write(w, &next, in.Fields) {
			*rec = next
			reply(w, http.StatusOK, map[string]any{"record": next})
		}
	}
}

func (tl *riskTool) remove(w http.ResponseWriter, r *http.Request) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if rec := tl.find(w, r); rec != nil {
		tl.seq++
		rec.Deleted, rec.Version, rec.UpdatedAt = true, strconv.Itoa(tl.seq), time.Now().UTC()
		w.WriteHeader(http.StatusNoContent)
	}
}

// httpRisks is a connector to a riskTool over HTTP, through the SDK's HTTP
// client: it looks a create's marker up before it creates, and never sends
// a create twice.
type httpRisks struct {
	sdk.Unimplemented
	transport http.RoundTripper // under the SDK's client; nil: the default

	mu   sync.Mutex
	base *url.URL
	api  *sdk.HTTPClient
}

func newHTTPRisks() sdk.Connector { return &httpRisks{} }

func (c *httpRisks) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "httprisks", Version: "0.1.0", ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: []sdk.Capability{{Kind: sdk.KindRisk, Pull: true, Push: true, Delete: true}},
		Schema: sdk.Schema{Attributes: []sdk.Attribute{{Name: "url", Type: sdk.TypeString, Required: true,
			Description: "The risk tool's base URL."}}}}, nil
}

func (c *httpRisks) Configure(_ context.Context, cfg sdk.Config) error {
	var v struct {
		URL string `json:"url"`
	}
	_ = cfg.Decode(&v)
	u, err := url.Parse(v.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: "url",
			Summary: "the risk tool's http(s) URL is required", Detail: `E.g. url = "https://risks.example.org".`}}}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base = u
	c.api = sdk.NewHTTPClient(sdk.HTTPOptions{Service: "the risk tool", Transport: c.transport, BaseDelay: 10 * time.Millisecond})
	return nil
}

// call sends a request and decodes the JSON answer into out; a failure is
// an *sdk.Error.
func (c *httpRisks) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	c.mu.Lock()
	base, api := c.base, c.api
	c.mu.Unlock()
	if api == nil {
		return sdk.Errorf(sdk.ClassPermanent, "not configured")
	}
	u := base.JoinPath(path)
	u.RawQuery = query.Encode()
	var body *bytes.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return sdk.Errorf(sdk.ClassPermanent, "encode %s %s: %v", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, method, u.String(), body)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u.String(), nil)
	}
	if err != nil {
		return sdk.Errorf(sdk.ClassPermanent, "build %s %s: %v", method, path, err)
	}
	resp, err := api.Do(req)
	if err != nil {
		return err
	}
	if e := resp.Err(); e != nil {
		return e
	}
	if out != nil {
		return resp.DecodeJSON(out)
	}
	return nil
}

func (c *httpRisks) Check(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "risks", url.Values{"marker": {"usmhub-check"}}, nil, nil)
}

type toolList struct {
	Records []sdk.Record
	Cursor  string
}

func (c *httpRisks) Pull(ctx context.Context, req sdk.PullRequest, send func(sdk.Batch) error) error {
	if _, err := strconv.Atoi("0" + req.Cursor); err != nil {
		return sdk.Errorf(sdk.ClassInvalid, "cursor %q is not one of ours", req.Cursor)
	}
	var page toolList
	if err := c.call(ctx, http.MethodGet, "risks", url.Values{"after": {req.Cursor}}, nil, &page); err != nil {
		return err
	}
	return send(sdk.Batch{Records: page.Records, Cursor: page.Cursor})
}

func (c *httpRisks) Find(ctx context.Context, _ sdk.EntityKind, marker string) (*sdk.Record, error) {
	var page toolList
	if err := c.call(ctx, http.MethodGet, "risks", url.Values{"marker": {marker}}, nil, &page); err != nil {
		return nil, err
	}
	if len(page.Records) == 0 {
		return nil, nil
	}
	return &page.Records[0], nil
}

func (c *httpRisks) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	results := make([]sdk.Result, len(req.Changes))
	for i, ch := range req.Changes {
		rec, err := c.apply(ctx, ch)
		if err != nil {
			var e *sdk.Error
			if !errors.As(err, &e) {
				e = sdk.Errorf(sdk.ClassPermanent, "%v", err)
			}
			results[i] = sdk.Result{ExternalID: ch.ExternalID, Err: e}
			continue
		}
		results[i] = sdk.Result{ExternalID: rec.ExternalID, Version: rec.Version, Fields: rec.Fields}
	}
	return results, nil
}

func (c *httpRisks) apply(ctx context.Context, ch sdk.Change) (sdk.Record, error) {
	var out struct{ Record sdk.Record }
	switch ch.Op {
	case sdk.OpCreate:
		// Find before creating: the hub may send a create again.
		if found, err := c.Find(ctx, sdk.KindRisk, ch.Marker); err != nil || found != nil {
			if found == nil {
				return sdk.Record{}, err
			}
			return *found, nil
		}
		err := c.call(ctx, http.MethodPost, "risks", nil, map[string]any{"Marker": ch.Marker, "Fields": ch.Fields}, &out)
		return out.Record, err
	case sdk.OpUpdate:
		err := c.call(ctx, http.MethodPut, "risks/"+url.PathEscape(ch.ExternalID), nil, map[string]any{"Version": ch.Version, "Fields": ch.Fields}, &out)
		return out.Record, err
	case sdk.OpDelete:
		err := c.call(ctx, http.MethodDelete, "risks/"+url.PathEscape(ch.ExternalID), nil, nil, nil)
		return sdk.Record{ExternalID: ch.ExternalID}, err
	}
	return sdk.Record{}, sdk.Errorf(sdk.ClassInvalid, "unknown operation %q", ch.Op)
}

// httpFixture is the fixture of httpRisks on the tool at toolURL.
func httpFixture(toolURL string) connectortest.Fixture {
	return connectortest.Fixture{
		Config:       map[string]any{"url": toolURL},
		BadConfig:    map[string]any{"url": "risks.example.org"},
		BadAttribute: "url",
		URLAttribute: "url",

		OptimisticConcurrency: true,
		PullsDeletes:          true,
	}
}

// An HTTP connector that creates only after Find and uses the SDK's HTTP
// client passes the kit, push_create_fails_after_commit included.
func TestHTTPConnector(t *testing.T) {
	connectortest.Run(t, connectortest.InProcess(newHTTPRisks), httpFixture(newRiskTool(t)))
}

// retriesEverything is a transport that sends any request again after a
// 5xx answer or a failed connection, POST included: what no layer under a
// connector may do.
type retriesEverything struct{ next http.RoundTripper }

func (rt retriesEverything) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		r := req.Clone(req.Context())
		if attempt > 1 && req.GetBody != nil {
			r.Body, _ = req.GetBody()
		}
		resp, err := rt.next.RoundTrip(r)
		if attempt < 3 && (err != nil || resp.StatusCode >= 500) {
			if resp != nil {
				resp.Body.Close()
			}
			continue
		}
		return resp, err
	}
}

// createFailuresPermanent reports every failed change as permanent, as a
// connector that takes an answer cut off for a refusal.
type createFailuresPermanent struct{ sdk.Connector }

func (w createFailuresPermanent) Push(ctx context.Context, req sdk.PushRequest) ([]sdk.Result, error) {
	res, err := w.Connector.Push(ctx, req)
	for i := range res {
		if res[i].Err != nil && res[i].Err.Class == sdk.ClassTransient {
			res[i].Err = sdk.Errorf(sdk.ClassPermanent, "push refused: %s", res[i].Err.Message)
		}
	}
	return res, err
}

// brokenHTTP are broken variants of httpRisks, run like broken.
var brokenHTTP = []brokenConnector{
	{"retries_posts", func(sdk.Connector) sdk.Connector {
		return &httpRisks{transport: retriesEverything{http.DefaultTransport}}
	}, "push_create_fails_after_commit", "a create is retried only through Find, never blindly"},
	{"create_failure_permanent", func(c sdk.Connector) sdk.Connector { return createFailuresPermanent{c} },
		"push_create_fails_after_commit", "want class transient"},
}
