package report

import (
	"regexp"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/model"
)

var keyRE = regexp.MustCompile(`^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`)

func TestKeyPart(t *testing.T) {
	cases := map[string]string{
		"ssc":      "ssc",
		"SSC-2026": "SSC-2026",
		"fm_new":   "fm-new-d5325785",
		"fm-new":   "fm-new",
		"fm.new":   "fm-new-9fef14a0",
		"--x--":    "x-61f25c1f",
		"één":      "n-3c4d1b09",
		"___":      "x045a3b34",
		"":         "",
	}
	for in, want := range cases {
		got := keyPart(in)
		if got != want {
			t.Errorf("keyPart(%q) = %q, want %q", in, got, want)
		}
		if in != "" && !keyRE.MatchString(got) {
			t.Errorf("keyPart(%q) = %q holds more than letters, digits and single dashes", in, got)
		}
	}
}

// TestKeysPerPeriod builds every kind at several moments and after changes
// in the data: a key must stay the same within its period and change with
// it.
func TestKeysPerPeriod(t *testing.T) {
	cfg := loadConfig(t)
	in, _ := cfg.Initiative("ssc")
	mem := newMemStore()
	if err := seed(mem, cfg); err != nil {
		t.Fatal(err)
	}
	key := func(kind string, at time.Time, opts Options) string {
		t.Helper()
		r, err := Build(kind, Input{Config: cfg, Initiative: in, Reader: mem, Now: at}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !keyRE.MatchString(r.Key) {
			t.Errorf("key %q holds more than letters, digits and dashes", r.Key)
		}
		return r.Key
	}
	mon := time.Date(2026, 10, 5, 0, 0, 1, 0, time.UTC) // Monday of 2026-W41
	sun := time.Date(2026, 10, 11, 23, 59, 0, 0, time.UTC)
	nextMon := time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC)
	newYear := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC) // ISO week 2026-W53

	same := func(what, a, b string) {
		t.Helper()
		if a != b {
			t.Errorf("%s: keys differ: %s and %s", what, a, b)
		}
	}
	differ := func(what, a, b string) {
		t.Helper()
		if a == b {
			t.Errorf("%s: both keys are %s", what, a)
		}
	}

	same("register within a week", key(KindRegister, mon, Options{}), key(KindRegister, sun, Options{Top: 3}))
	differ("register across weeks", key(KindRegister, sun, Options{}), key(KindRegister, nextMon, Options{}))
	if got := key(KindRegister, newYear, Options{}); got != "usmhub-ssc-register-2026-W53" {
		t.Errorf("register on 2027-01-01: key %s, want the ISO year and week usmhub-ssc-register-2026-W53", got)
	}

	latest := key(KindSprint, mon, Options{})
	same("sprint: latest and its number", latest, key(KindSprint, nextMon, Options{Sprint: 2}))
	if latest != "usmhub-ssc-sprint-2" {
		t.Errorf("latest sprint key %s, want usmhub-ssc-sprint-2 (the active one)", latest)
	}
	differ("sprint across sprints", latest, key(KindSprint, mon, Options{Sprint: 1}))

	scanKey := key(KindScan, mon, Options{})
	same("readiness over time", key(KindReadiness, mon, Options{}), key(KindReadiness, newYear, Options{}))
	// A new progress scan of the same baseline updates the same ticket.
	if err := mem.CreateScan(&model.Scan{Initiative: "ssc", Kind: model.Progress, Method: "USM maturity scan",
		MethodVersion: "2.0", TakenOn: "2026-10-06", Scores: []model.ScanScore{{Dimension: "agree", Score: 3}}}); err != nil {
		t.Fatal(err)
	}
	same("scan: a new progress scan of the baseline", scanKey, key(KindScan, nextMon, Options{}))

	// A new active sprint becomes the latest; a closed sprint stays behind.
	if err := mem.CreateSprint(&model.Sprint{Initiative: "ssc", Goal: "Next", Start: "2026-10-12", End: "2026-10-23",
		Capacity: 5, Status: model.SprintPlanned}); err != nil {
		t.Fatal(err)
	}
	same("sprint: a planned sprint 3 does not replace the active sprint 2", latest, key(KindSprint, nextMon, Options{}))

	// Another initiative never shares a key.
	other, _ := cfg.Initiative("ops")
	for _, kind := range Kinds {
		r1, err1 := Build(kind, Input{Config: cfg, Initiative: in, Reader: mem, Now: mon}, Options{})
		r2, err2 := Build(kind, Input{Config: cfg, Initiative: other, Reader: mem, Now: mon}, Options{})
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		differ(kind+" of two initiatives", r1.Key, r2.Key)
	}
}

func TestLatestSprintWithoutActive(t *testing.T) {
	mem := newMemStore()
	for _, st := range []model.SprintStatus{model.SprintClosed, model.SprintClosed, model.SprintPlanned} {
		if err := mem.CreateSprint(&model.Sprint{Initiative: "x", Start: "2026-01-01", End: "2026-01-02", Capacity: 1, Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &config.Config{Initiatives: []*config.Initiative{{Initiative: model.Initiative{Key: "x"}}}}
	r, err := Build(KindSprint, Input{Config: cfg, Initiative: cfg.Initiatives[0], Reader: mem, Now: now}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sprint.Number != 3 || r.Key != "usmhub-x-sprint-3" || r.Title != "Sprint 3 of x" {
		t.Errorf("got sprint %d, key %s, title %q; want the newest, 3, named after the initiative key", r.Sprint.Number, r.Key, r.Title)
	}
}
