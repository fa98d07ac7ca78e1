package schedule

import (
	"strings"
	"testing"
)

func TestValidateSpec(t *testing.T) {
	valid := []string{
		"*/15 * * * *",
		"0 6 * * 1-5",
		"30 2 1 * *",
		"0 9 * * MON",
		"CRON_TZ=Europe/Amsterdam 0 9 * * *",
		"@hourly",
		"@daily",
		"@midnight",
		"@weekly",
		"@every 5m",
		"@every 1s",
		"@every 1h30m",
	}
	for _, spec := range valid {
		if err := ValidateSpec(spec); err != nil {
			t.Errorf("ValidateSpec(%q) = %v, want nil", spec, err)
		}
	}

	invalid := []struct {
		spec, want string
	}{
		{"", "empty spec"},
		{"* * * *", "expected exactly 5 fields"},
		{"0 0 * * * *", "expected exactly 5 fields"}, // seconds are not a field
		{"61 * * * *", "above maximum"},
		{"@sometimes", "unrecognized descriptor"},
		{"@every", "unrecognized descriptor"},
		{"@every five minutes", "failed to parse duration"},
		{"@every 0s", "at least 1s"},
		{"@every -5m", "at least 1s"},
		{"@every 500ms", "at least 1s"},
		{"CRON_TZ=Nowhere/Atlantis 0 9 * * *", "provided bad location"},
	}
	for _, tc := range invalid {
		err := ValidateSpec(tc.spec)
		if err == nil {
			t.Errorf("ValidateSpec(%q) = nil, want an error", tc.spec)
			continue
		}
		msg := err.Error()
		for _, want := range []string{tc.want, `invalid schedule "` + tc.spec + `"`, "five cron fields", "@every <duration>"} {
			if !strings.Contains(msg, want) {
				t.Errorf("ValidateSpec(%q) = %q, want it to contain %q", tc.spec, msg, want)
			}
		}
	}
}
