package report

import (
	"fmt"

	"github.com/usmhub/usmhub/core/readiness"
)

func buildReadiness(r *Report, in Input) error {
	checks, err := readiness.Evaluate(readiness.Input{
		Config: in.Config, Initiative: in.Initiative, Reader: in.Reader, Connectors: in.Connectors,
	})
	if err != nil {
		return err
	}
	// A connector's error may quote what it was configured with.
	for i := range checks {
		checks[i].Reason = redact(checks[i].Reason, r.secrets)
		checks[i].Next = redact(checks[i].Next, r.secrets)
	}
	if checks == nil {
		checks = []readiness.Check{}
	}
	r.Readiness = checks
	r.Key = keyPrefix(in.Initiative.Key) + "-readiness"
	pass, _, _ := tally(checks)
	r.Title = fmt.Sprintf("Readiness of %s: %d of %d preconditions pass", r.InitiativeName, pass, len(checks))
	return nil
}

// tally counts the checks per outcome.
func tally(checks []readiness.Check) (pass, warn, fail int) {
	for _, c := range checks {
		switch c.Status {
		case readiness.Pass:
			pass++
		case readiness.Warn:
			warn++
		default:
			fail++
		}
	}
	return pass, warn, fail
}
