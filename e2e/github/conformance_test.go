package github_test

import (
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// The conformance kit against the built plugin binary, launched as the hub
// launches it, talking over loopback to the fake GitHub, whose search lags
// an hour behind creates (Find must not depend on it). The kit's proxy
// fails creates after the fake committed them.
func TestConformance(t *testing.T) {
	f := newFake(t)
	f.SearchLag = time.Hour
	cfg := map[string]any{"owner": owner, "repo": repo, "token": token, "base_url": f.BaseURL(),
		"cache_file": filepath.Join(t.TempDir(), "etags.json"), "writes_per_minute": 100000}
	bad := maps.Clone(cfg)
	bad["base_url"] = "ghe.example.org/api/v3" // no scheme
	connectortest.Run(t, connectortest.Binary(githubPlugin), connectortest.Fixture{
		Config: cfg, BadConfig: bad, BadAttribute: "base_url", URLAttribute: "base_url",
		// An update carrying a stale version is refused: the connector
		// reads the issue before it writes and compares its digest.
		OptimisticConcurrency: true,
		NewFields: func(i int) map[string]string {
			fl := connectortest.RiskFields(i)
			fl[sdk.FieldStatus] = []string{"open", "accepted", "closed", "not_planned"}[i%4]
			fl[sdk.FieldOwner] = []string{"anna", "bram"}[i%2]
			return fl
		},
	})
}
