package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/connector"
)

// fakeConn is a connector whose Check answers checkErr; nothing else of it
// is called here.
type fakeConn struct {
	connector.Connector
	checkErr error
}

func (c fakeConn) Check(context.Context) error { return c.checkErr }

// fakeSet hands out fakeConns by id, or getErr; it scrubs "s3cret".
type fakeSet struct {
	conns  map[string]fakeConn
	getErr error
}

func (s fakeSet) Get(_ context.Context, id string) (connector.Connector, error) {
	if s.getErr != nil {
		return nil, s.getErr
	}
	return s.conns[id], nil
}
func (fakeSet) Fingerprint(string) string { return "" }
func (fakeSet) Scrub(msg string) string   { return strings.ReplaceAll(msg, "s3cret", "***") }
func (fakeSet) Close()                    {}
func (s fakeSet) Problem(_ string, err error) error {
	return errors.New(s.Scrub(err.Error()))
}

// A connector that cannot check its remote is not checked, never healthy;
// a failed check comes back scrubbed; offline checks nothing but still
// configures.
func TestHealth(t *testing.T) {
	ctx := context.Background()
	cs := fakeSet{conns: map[string]fakeConn{
		"a.ok":    {},
		"b.unsup": {checkErr: connector.ErrUnsupported},
		"c.bad":   {checkErr: errors.New("401 for token s3cret")},
	}}
	if h := Health(ctx, cs, "a.ok", false); !h.Checked || h.Err != nil {
		t.Errorf("healthy connector: %+v", h)
	}
	if h := Health(ctx, cs, "b.unsup", false); h.Checked || h.Err != nil {
		t.Errorf("a connector without Check: %+v", h)
	}
	if h := Health(ctx, cs, "c.bad", false); !h.Checked || h.Err == nil || h.Err.Error() != "401 for token ***" {
		t.Errorf("failing connector: %+v", h)
	}
	if h := Health(ctx, cs, "c.bad", true); h.Checked || h.Err != nil {
		t.Errorf("offline: %+v", h)
	}
	bad := fakeSet{getErr: errors.New("no plugin")}
	if h := Health(ctx, bad, "a.ok", true); !h.Checked || h.Err == nil {
		t.Errorf("a connector that does not launch, offline: %+v", h)
	}
}

// SelectSyncs keeps config order for all, the given order for names, and
// names the syncs there are when one is unknown.
func TestSelectSyncs(t *testing.T) {
	cfg := &config.Config{Path: "usmhub.hcl", Syncs: []*config.Sync{{Name: "a"}, {Name: "b"}}}
	got, err := SelectSyncs(cfg, nil)
	if err != nil || len(got) != 2 || got[0].Name != "a" {
		t.Fatalf("all: %v, %v", got, err)
	}
	if _, err := SelectSyncs(cfg, []string{"c"}); err == nil || !strings.Contains(err.Error(), "the syncs are: a, b") {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := SelectSyncs(&config.Config{Path: "x.hcl"}, nil); err == nil || !strings.Contains(err.Error(), "x.hcl has no sync block") {
		t.Fatalf("none: %v", err)
	}
}
