package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/sys/unix"

	"github.com/usmhub/usmhub/core/app"
)

// TestReadinessCountsWhatWasPublished: precondition 9 reads what happened:
// a report block that publishes is no communication until a report went
// out; after `report -publish` it passes, and publishing the same report
// again records nothing new.
func TestReadinessCountsWhatWasPublished(t *testing.T) {
	fileConnector(t)
	h := newHub(t, syncConfig("", "")+`
report "register" {
  kind       = "register"
  publish_to = ["file.sheet"]
}
`)
	if err := os.Mkdir(filepath.Join(h.Dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	communication := func() readinessCheck {
		var checks []readinessCheck
		h.JSONOf(&checks, "readiness", "-offline")
		return checks[8]
	}
	if c := communication(); c.Status != "warn" || !strings.Contains(c.Reason, "none published yet") {
		t.Errorf("before any publication: %+v, want warn: none published yet", c)
	}
	h.OK("report", "register", "-publish", "file.sheet")
	h.OK("report", "register", "-publish", "file.sheet")
	if c := communication(); c.Status != "pass" || !strings.HasPrefix(c.Reason, "1 report(s) published to file.sheet; the latest, usmhub-t-register-") {
		t.Errorf("after publishing: %+v, want pass naming the one report published", c)
	}
}

type readinessCheck struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
	Next   string `json:"next"`
}

// openPTY opens a pseudo-terminal and returns its controlling side and the
// terminal a child writes to.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("requires a pseudo-terminal (/dev/ptmx): %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ptm, pts
}

// TestImportShowsProgressOnATerminalOnly: with stderr a terminal an import
// draws its progress (records, rate, share and time left) and clears the
// line before its summary; with stderr a file or pipe it says nothing of it.
func TestImportShowsProgressOnATerminalOnly(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("inventory.csv", inventory(20000))
	h.Write("again.csv", inventory(20000))
	h.OK("risk", "list") // the store exists before the timed import

	ptm, pts := openPTY(t)
	defer ptm.Close()
	cmd := exec.Command(usmhubBin, "risk", "import", "inventory.csv")
	cmd.Dir = h.Dir
	cmd.Env = append(os.Environ(), "USMHUB_CONFIG=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, pts
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&screen, ptm); close(copied) }() // ends with EIO when the child exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("import on a terminal: %v\n%s", err, out.String())
	}
	<-copied
	shown := screen.String()
	if !strings.Contains(shown, "\r\x1b[Kimport inventory.csv: 0 records") ||
		!regexp.MustCompile(`import inventory\.csv: \d+ records, \d+/s, \d+%, \d+:\d\d left`).MatchString(shown) ||
		!strings.HasSuffix(shown, "\r\x1b[K") {
		t.Errorf("the terminal showed %q; want progress lines with rate and time left, cleared at the end", shown)
	}
	if !strings.Contains(out.String(), "20000 created") {
		t.Errorf("stdout: %q", out.String())
	}

	// Not a terminal: no progress at all.
	_, errs, code := h.Run("risk", "import", "again.csv")
	if code != 0 || strings.Contains(errs, "\r") || strings.Contains(errs, "records") {
		t.Errorf("import with stderr not a terminal: exit %d, stderr %q; want no progress", code, errs)
	}
}

// TestPlanSummaryAndRecords: plan -summary gives the counts per direction
// without a field; plan -record names the records whose changes to show.
func TestPlanSummaryAndRecords(t *testing.T) {
	fileConnector(t)
	h := newHub(t, syncConfig("", ""))
	if err := os.Mkdir(filepath.Join(h.Dir, "remote"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.Write("inventory.csv", inventory(30))
	h.OK("risk", "import", "inventory.csv")

	out, errs, code := h.Run("plan", "-summary")
	if code != 2 || strings.TrimSpace(out) != "plan for risks: hub ← remote: 0 create(s), 0 update(s), 0 delete(s); hub → remote: 30 create(s), 0 update(s), 0 delete(s); 0 conflict(s)" {
		t.Errorf("plan -summary: exit %d\n%s%s", code, out, errs)
	}
	out, _, code = h.Run("plan", "-record", "r-3")
	if code != 2 || !strings.Contains(out, "create     R-3\n") || strings.Contains(out, "R-4") || !strings.Contains(out, "title = ") {
		t.Errorf("plan -record r-3: exit %d\n%s", code, out)
	}
	full, _, _ := h.Run("plan")
	if strings.Count(full, "create ") != 30 {
		t.Errorf("plan without flags lists %d creates, want 30:\n%s", strings.Count(full, "create "), full)
	}
}

// TestCommandsNeedNoHubSecrets: only serve and validate read the hub's
// API token; log, risk list … work while its variable is unset.
func TestCommandsNeedNoHubSecrets(t *testing.T) {
	h := newHub(t, strings.Replace(testConfig, `data_dir = "data"`, `data_dir = "data"
  api_token = env("USMHUB_TEST_TOKEN_SURELY_UNSET")`, 1))
	os.Unsetenv("USMHUB_TEST_TOKEN_SURELY_UNSET")
	h.OK("risk", "add", "-title", "One")
	h.OK("log")
	_, errs, code := h.Run("validate", "-offline")
	if code != 1 || !strings.Contains(errs, "usmhub.hcl:4,15: Environment variable not set: Set the environment variable USMHUB_TEST_TOKEN_SURELY_UNSET") {
		t.Errorf("validate with the token unset: exit %d, %q", code, errs)
	}
}

// TestEveryCommandTakesJSON: the commands the issue named print JSON, one
// shape per entity (a risk as risk show/list, a sprint as sprint list).
func TestEveryCommandTakesJSON(t *testing.T) {
	h := newHub(t, testConfig)
	h.OK("risk", "add", "-title", "One", "-status", "accepted", "-effort", "1")
	var v struct {
		Version string `json:"version"`
	}
	h.JSONOf(&v, "version")
	if v.Version == "" {
		t.Error("version -json has no version")
	}
	var val app.Validation
	h.JSONOf(&val, "validate", "-offline")
	if !val.OK || val.Initiatives != 1 || val.Priorities != 1 {
		t.Errorf("validate -json = %+v", val)
	}
	var voted listed
	h.JSONOf(&voted, "vote", "R-1", "-voter", "ann")
	if voted.Key != "R-1" || voted.Votes != 1 {
		t.Errorf("vote -json = %+v, want R-1 with 1 vote", voted)
	}
	h.OK("sprint", "plan", "-start", "2026-12-01", "-end", "2026-12-14")
	var sp struct {
		Number int    `json:"number"`
		Status string `json:"status"`
	}
	h.JSONOf(&sp, "sprint", "start", "1")
	if sp.Number != 1 || sp.Status != "active" {
		t.Errorf("sprint start -json = %+v", sp)
	}
	h.JSONOf(&sp, "sprint", "close", "1", "-realized", "R-1")
	if sp.Status != "closed" {
		t.Errorf("sprint close -json = %+v", sp)
	}
	var exported []map[string]any
	h.JSONOf(&exported, "risk", "export")
	if len(exported) != 1 {
		t.Errorf("risk export -json: %v", exported)
	}
}

// TestRiskKeysAsPeopleTypeThem: keys match in any case; an unknown key
// names the nearest; update -h shows no defaults of add.
func TestRiskKeysAsPeopleTypeThem(t *testing.T) {
	h := newHub(t, testConfig)
	for _, title := range []string{"One", "Two", "Three"} {
		h.OK("risk", "add", "-title", title)
	}
	var r struct {
		Risk listed `json:"risk"`
	}
	h.JSONOf(&r, "risk", "show", "r-2")
	if r.Risk.Key != "R-2" {
		t.Errorf("risk show r-2 = %+v", r)
	}
	h.OK("risk", "update", "r-3", "-impact", "5")
	_, errs, code := h.Run("risk", "show", "R-4")
	if code != 1 || !strings.Contains(errs, `risk "R-4": not found; did you mean R-1 (One), or R-2 (Two), or R-3 (Three)?`) {
		t.Errorf("risk show R-4: exit %d, %q", code, errs)
	}
	_, help, _ := h.Run("risk", "update", "-h")
	if strings.Contains(help, "default") || strings.Contains(help, "required") || strings.Contains(help, "-key") {
		t.Errorf("risk update -h shows add's defaults:\n%s", help)
	}
}

// TestXLSXExportImportRoundTrip: risk export -o FILE.xlsx writes a workbook
// (one sheet "risks", numbers as numbers, a title beginning with "=" as
// text, not a formula) that risk import takes back as the same risks.
func TestXLSXExportImportRoundTrip(t *testing.T) {
	h := newHub(t, testConfig)
	h.OK("risk", "add", "-title", "=HYPERLINK(\"http://evil\",\"x\")", "-likelihood", "4", "-effort", "2.5")
	h.OK("risk", "add", "-title", "Slow, manual resets", "-kind", "opportunity", "-status", "accepted")
	want := h.list()
	h.OK("risk", "export", "-o", "risks.xlsx")

	f, err := excelize.OpenFile(filepath.Join(h.Dir, "risks.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if sheets := f.GetSheetList(); len(sheets) != 1 || sheets[0] != "risks" {
		t.Errorf("sheets %v, want [risks]", sheets)
	}
	if formula, _ := f.GetCellFormula("risks", "B2"); formula != "" {
		t.Errorf("the title became a formula: %q", formula)
	}
	if typ, _ := f.GetCellType("risks", "G2"); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
		t.Errorf("likelihood cell type %v, want a number", typ)
	}

	r := newHub(t, testConfig)
	b, err := os.ReadFile(filepath.Join(h.Dir, "risks.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	r.Write("risks.xlsx", string(b))
	r.OK("risk", "import", "risks.xlsx")
	got := r.list()
	if len(got) != len(want) {
		t.Fatalf("imported %d risks, exported %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] && (got[i].Key != want[i].Key || got[i].Title != want[i].Title || got[i].Likelihood != want[i].Likelihood ||
			got[i].Effort != want[i].Effort || got[i].Kind != want[i].Kind || got[i].Status != want[i].Status) {
			t.Errorf("risk %d: exported %+v, imported %+v", i, want[i], got[i])
		}
	}
}
