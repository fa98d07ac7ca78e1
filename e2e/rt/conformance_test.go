package rt_test

import (
	"maps"
	"testing"

	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// connectorConfig is a working config block on a queue and report queue.
func connectorConfig(queue, reports string) map[string]any {
	return map[string]any{"url": rt["RT_URL"], "token": rt["RT_TOKEN"], "queue": queue, "report_queue": reports}
}

// The conformance kit against the built plugin binary, launched as the hub
// launches it, on a real RT. Statuses are RT's lifecycle names, owners RT
// user names.
func TestConformance(t *testing.T) {
	requireRT(t)
	a := api{t}
	cfg := connectorConfig(a.newQueue("conformance"), a.newQueue("reports"))
	bad := maps.Clone(cfg)
	bad["url"] = "rt.example.org" // no scheme
	connectortest.Run(t, connectortest.Binary(rtPlugin), connectortest.Fixture{
		Config:       cfg,
		BadConfig:    bad,
		BadAttribute: "url",
		URLAttribute: "url",
		NewFields: func(i int) map[string]string {
			f := connectortest.RiskFields(i)
			f[sdk.FieldStatus] = []string{"new", "open"}[i%2]
			f[sdk.FieldOwner] = []string{"ops", "", "root"}[i%3]
			return f
		},
	})
}
