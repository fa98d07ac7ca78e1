package connectortest

import (
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// toolURL returns the tool's URL the fixture configures in URLAttribute.
func (fx Fixture) toolURL() (*url.URL, error) {
	v, ok := fx.Config[fx.URLAttribute].(string)
	if !ok {
		return nil, fmt.Errorf("URLAttribute %q: Config must set it, to the tool's http(s) URL (a string)", fx.URLAttribute)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("URLAttribute %q: Config sets it to %q, which is not an http(s) URL", fx.URLAttribute, v)
	}
	return u, nil
}

// checkCreateFailsAfterCommit: a create whose answer fails after the tool
// stored the record (a 503, a dropped connection, an answer cut off: see
// faultProxy) is a transient failure, is not sent again blindly, and is
// resolved as the hub resolves it: Find(marker) finds exactly one record,
// a full pull shows no second one, and pushing the create again (the hub
// re-sends a Push whose whole call failed) answers with that record.
func checkCreateFailsAfterCommit(e *env) {
	if e.fx.URLAttribute == "" {
		e.t.Skip("Fixture.URLAttribute is empty: the connector reaches no HTTP tool the kit can put its proxy in front of")
	}
	target, err := e.fx.toolURL()
	if err != nil {
		e.t.Fatalf("connectortest: fixture: %v", err)
	}
	proxy := newFaultProxy(e.t, target)
	cfg := maps.Clone(e.fx.Config)
	cfg[e.fx.URLAttribute] = proxy.URL()
	e.configureWith(cfg, "Fixture.Config with "+e.fx.URLAttribute+" pointing at the kit's proxy")

	for _, fault := range commitFaults {
		ch := e.createChange(e.newFields())
		proxy.set(fault)
		results, err := e.conn.Push(e.ctx, sdk.PushRequest{Kind: e.fx.Kind, Changes: []sdk.Change{ch}})
		failed := proxy.failed()
		proxy.set(faultNone)
		what := fmt.Sprintf("with %s once the tool had taken it (the tool's answers: %s)", fault, describeFailed(failed))

		var res sdk.Result
		switch {
		case err != nil:
			if cl := classOf(err); cl != sdk.ClassTransient {
				e.t.Errorf("Push(create %s) %s = %v (class %q), want class transient: the hub must keep the create pending and resolve it with Find, not give it up", ch.Marker, what, err, cl)
			}
		case len(results) != 1:
			e.t.Fatalf("Push(create %s) %s returned %d results, want 1", ch.Marker, what, len(results))
		default:
			res = results[0]
			if cl := errClass(res.Err); cl != "" && cl != sdk.ClassTransient {
				e.t.Errorf("Push(create %s) %s: the result's error is %v (class %q), want class transient: the tool may hold the record, so the hub must keep the create pending and ask Find, not quarantine it", ch.Marker, what, res.Err, cl)
			}
		}
		if len(failed) == 0 {
			e.t.Logf("%s: the create sent no POST or PATCH, so no answer failed after the tool took it", fault)
		}

		// The hub's next run resolves the pending create with Find.
		rec := e.findSettled(ch.Marker)
		if rec == nil {
			if stored(failed) {
				e.t.Errorf("Find(%q) = nil after the create failed %s: the tool holds the record, and the hub would create it again", ch.Marker, what)
			}
			continue
		}
		if res.Err == nil && err == nil && res.ExternalID != rec.ExternalID {
			e.t.Errorf("Push(create %s) %s reported record %s, but Find returns %s: the create was sent again", ch.Marker, what, res.ExternalID, rec.ExternalID)
		}
		if !e.wantOneLive(ch.Marker, "after the create failed "+what) {
			continue
		}

		// The hub re-sends a Push whose whole call failed: the connector
		// must find the record by its marker, not make a second one.
		again := e.push(ch)[0]
		e.wantOK([]sdk.Change{ch}, 0, again)
		if again.ExternalID != rec.ExternalID {
			e.t.Errorf("pushing create %s again after it failed %s made record %s besides %s (which Find returns)", ch.Marker, what, again.ExternalID, rec.ExternalID)
		}
		e.wantOneLive(ch.Marker, "after the create that failed "+what+" was pushed again")
	}
}

// findSettled is Find(marker), asked again until Description.SearchLag has
// passed while it finds nothing.
func (e *env) findSettled(marker string) *sdk.Record {
	e.t.Helper()
	deadline := time.Now().Add(e.desc.SearchLag)
	for {
		r, err := e.conn.Find(e.ctx, e.fx.Kind, marker)
		if err != nil {
			e.t.Fatalf("Find(%q) = %v, want success", marker, err)
		}
		if r != nil && !r.Deleted {
			return r
		}
		if !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-time.After(min(200*time.Millisecond, time.Until(deadline))):
		case <-e.ctx.Done():
			e.t.Fatalf("Find(%q): %v", marker, e.ctx.Err())
		}
	}
}

// wantOneLive fails the check unless a full pull shows exactly one live
// record carrying marker (connectors that do not pull: not checked); it
// says whether it did not.
func (e *env) wantOneLive(marker, when string) bool {
	e.t.Helper()
	if !e.desc.Capability(e.fx.Kind).Pull {
		return true
	}
	live := e.pull("").live(marker)
	if len(live) == 1 {
		return true
	}
	ids := make([]string, len(live))
	for i, r := range live {
		ids[i] = r.ExternalID
	}
	e.t.Errorf("%s, a full pull shows %d live records with marker %s (%v), want 1: a create is retried only through Find, never blindly", when, len(live), marker, ids)
	return false
}

// stored says whether the tool accepted one of the failed requests.
func stored(failed []proxied) bool {
	for _, f := range failed {
		if f.status >= 200 && f.status < 300 {
			return true
		}
	}
	return false
}

func describeFailed(failed []proxied) string {
	if len(failed) == 0 {
		return "no POST or PATCH was sent"
	}
	parts := make([]string, len(failed))
	for i, f := range failed {
		parts[i] = fmt.Sprintf("%s → HTTP %d", f.what, f.status)
	}
	return strings.Join(parts, ", ")
}
