package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// specParser accepts the standard five cron fields and the descriptors
// (@yearly, @monthly, @weekly, @daily, @hourly, @every <duration>), with an
// optional CRON_TZ= (or TZ=) prefix. Seconds are not a field.
var specParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// specHelp says what a valid schedule looks like; every spec error ends with it.
const specHelp = `a schedule is five cron fields "minute hour day-of-month month day-of-week" ` +
	`(e.g. "*/15 * * * *" or "0 6 * * 1-5"), optionally prefixed with "CRON_TZ=Europe/Amsterdam ", ` +
	`or a descriptor: @yearly, @monthly, @weekly, @daily, @hourly or "@every <duration>" (e.g. "@every 5m")`

// ValidateSpec reports whether spec is a schedule the Scheduler accepts.
// The error names the spec, says what is wrong with it, and what a valid
// spec looks like, so the config package can show it as a diagnostic.
func ValidateSpec(spec string) error {
	_, err := parseSpec(spec)
	return err
}

// parseSpec parses spec into a cron.Schedule, with the errors of ValidateSpec.
func parseSpec(spec string) (cron.Schedule, error) {
	sched, err := specParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %w; %s", spec, err, specHelp)
	}
	// robfig/cron quietly turns "@every 0s" or "@every -5m" into every
	// second; a mistake like that should be an error instead.
	fields := strings.Fields(spec)
	if len(fields) > 0 && (strings.HasPrefix(fields[0], "CRON_TZ=") || strings.HasPrefix(fields[0], "TZ=")) {
		fields = fields[1:]
	}
	if len(fields) == 2 && fields[0] == "@every" {
		d, err := time.ParseDuration(fields[1])
		if err != nil {
			return nil, fmt.Errorf("invalid schedule %q: %w; %s", spec, err, specHelp)
		}
		if d < time.Second {
			return nil, fmt.Errorf("invalid schedule %q: @every needs a duration of at least 1s; %s", spec, specHelp)
		}
	}
	return sched, nil
}
