package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/internal/hubcli"
	"github.com/usmhub/usmhub/plugins/connectortest"
)

// usmhubBin is the usmhub binary built once for the CLI tests.
var usmhubBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "usmhub-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	usmhubBin = filepath.Join(dir, "usmhub")
	build := exec.Command("go", "build", "-o", usmhubBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build usmhub:", err)
		os.Exit(1)
	}
	// The file connector next to usmhub, where the hub looks for plugins,
	// built as `make build` builds it.
	if _, err := connectortest.BuildBinary("../../connectors/file", "file", dir); err != nil {
		fmt.Fprintln(os.Stderr, "build the file connector:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testConfig is a config with one initiative "t", a policy and a sounding
// board of ann, bob and cem.
const testConfig = `
hub {
  data_dir = "data"
}

initiative "t" {
  name            = "Test initiative"
  lead            = "lea"
  team            = ["tom"]
  sprint_capacity = 5
  sounding_board  = ["ann", "bob", "cem"]
}

priority "p" {
  score = (likelihood * impact + 2 * votes) / max(effort, 1)
}
`

// hub is a usmhub set up in a temporary folder.
type hub struct{ *hubcli.Hub }

func newHub(t *testing.T, config string) *hub {
	t.Helper()
	return &hub{hubcli.New(t, usmhubBin, config)}
}

type listed struct {
	Key        string   `json:"key"`
	Title      string   `json:"title"`
	Kind       string   `json:"kind"`
	Process    string   `json:"process"`
	Source     string   `json:"source"`
	Likelihood int      `json:"likelihood"`
	Impact     int      `json:"impact"`
	Effort     float64  `json:"effort"`
	Votes      int      `json:"votes"`
	Priority   *float64 `json:"priority"`
	Status     string   `json:"status"`
	Owner      string   `json:"owner"`
}

func (h *hub) list(args ...string) []listed {
	h.T.Helper()
	var items []listed
	h.JSONOf(&items, append([]string{"risk", "list"}, args...)...)
	return items
}

func TestExitCodes(t *testing.T) {
	h := newHub(t, testConfig)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"nonsense"}, 2},
		{[]string{"risk"}, 2},
		{[]string{"risk", "frobnicate"}, 2},
		{[]string{"risk", "list", "-bogus"}, 2},
		{[]string{"vote", "R-1"}, 2}, // no -voter
		{[]string{"risk", "show", "R-404"}, 1},
		{[]string{"version"}, 0},
		{[]string{"help"}, 0},
	} {
		if _, _, code := h.Run(tc.args...); code != tc.code {
			t.Errorf("usmhub %v: exit %d, want %d", tc.args, code, tc.code)
		}
	}
}

func TestMissingConfigSaysWhatToDo(t *testing.T) {
	h := &hub{hubcli.At(t, usmhubBin, t.TempDir())}
	_, errs, code := h.Run("risk", "list")
	if code != 1 || !strings.Contains(errs, "usmhub.hcl does not exist") || !strings.Contains(errs, "config.example.hcl") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// inventory writes a CSV of n risks with columns in an unusual order, the
// way someone else's spreadsheet would.
func inventory(n int) string {
	var b strings.Builder
	b.WriteString("Owner,Effort,Title,Likelihood,Impact,Kind,Status,Process,Description\n")
	procs := []string{"agree", "change", "recover", "operate", "improve", ""}
	for i := 1; i <= n; i++ {
		kind := "threat"
		if i%3 == 0 {
			kind = "opportunity"
		}
		fmt.Fprintf(&b, "owner%d,%d,\"Improvement %d, with a comma\",%d,%d,%s,accepted,%s,\"line one\nline two\"\n",
			i%7, i%4, i, i%5+1, (i*3)%5+1, kind, procs[i%len(procs)])
	}
	return b.String()
}

func TestImport500RowsTwice(t *testing.T) {
	h := newHub(t, testConfig)
	path := h.Write("inventory.csv", inventory(500))
	if out := h.OK("risk", "import", path); !strings.Contains(out, "500 created, 0 updated, 0 unchanged") {
		t.Fatalf("first import: %s", out)
	}
	items := h.list()
	if len(items) != 500 {
		t.Fatalf("listed %d risks, want 500", len(items))
	}
	for i := 1; i < len(items); i++ {
		if *items[i-1].Priority < *items[i].Priority {
			t.Fatalf("not sorted by priority at %d: %v then %v", i, *items[i-1].Priority, *items[i].Priority)
		}
	}
	if out := h.OK("risk", "import", path); !strings.Contains(out, "0 created, 0 updated, 500 unchanged") {
		t.Fatalf("second import changed something: %s", out)
	}
	var log []json.RawMessage
	h.JSONOf(&log, "log")
	if len(log) != 500 {
		t.Fatalf("audit log has %d entries after importing 500 risks twice, want 500", len(log))
	}
}

func TestImportBadRowsStoresNothing(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("bad.csv", strings.Join([]string{
		"title,likelihood,impact,kind,effort,status",
		"Good one,3,3,threat,1,accepted",
		"Too likely,7,3,threat,1,accepted",
		"Good two,2,2,opportunity,2,proposed",
		"Wrong kind,3,3,risk,1,proposed",
		",3,3,threat,1,proposed",
		"Cheap,3,3,threat,-2,maybe",
		"Short row,3",
	}, "\n")+"\n")
	_, errs, code := h.Run("risk", "import", "bad.csv")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errs)
	}
	for _, want := range []string{
		"bad.csv:3,12: likelihood: must be 1 to 5, not 7",
		"bad.csv:5,16: kind: must be threat or opportunity, not \"risk\"",
		"bad.csv:6,1: title: is required",
		"bad.csv:7,18: effort: must be 0 or more, not -2",
		"bad.csv:7,21: status: must be one of",
		"bad.csv:8,1: has 2 field(s), the header has 6",
		"nothing imported: 6 problem(s) in bad.csv",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if items := h.list(); len(items) != 0 {
		t.Fatalf("a refused import stored %d risks", len(items))
	}
}

func TestImportUnknownColumn(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("cols.csv", "title,severity\nA,high\n")
	_, errs, code := h.Run("risk", "import", "cols.csv")
	if code != 1 || !strings.Contains(errs, "cols.csv:1,7: severity: unknown column") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
}

func TestImportJSONMatchesByKeyAndTitle(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("risks.json", `[
  {"key": "OPS-1", "title": "Keyed", "likelihood": 4, "impact": 5, "effort": 2, "status": "accepted"},
  {"title": "By title", "kind": "opportunity", "process": "improve"}
]`)
	h.OK("risk", "import", "risks.json")
	h.Write("risks2.json", `[
  {"key": "OPS-1", "title": "Keyed, renamed", "likelihood": 4, "impact": 5, "effort": 2, "status": "accepted"},
  {"title": "By title", "kind": "opportunity", "process": "improve", "owner": "ann"}
]`)
	if out := h.OK("risk", "import", "risks2.json"); !strings.Contains(out, "0 created, 2 updated, 0 unchanged") {
		t.Fatalf("second import: %s", out)
	}
	got := map[string]listed{}
	for _, it := range h.list() {
		got[it.Key] = it
	}
	if got["OPS-1"].Title != "Keyed, renamed" || got["R-1"].Owner != "ann" || len(got) != 2 {
		t.Fatalf("after re-import: %+v", got)
	}
	h.Write("bad.json", `[
  {"title": "ok"},
  {"title": "bad", "impact": 9, "colour": "red"}
]`)
	_, errs, code := h.Run("risk", "import", "bad.json")
	if code != 1 || !strings.Contains(errs, "bad.json:3,33: colour: unknown field") || !strings.Contains(errs, "bad.json:3,20: impact: must be 1 to 5, not 9") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
}

func TestIllegalTransitionNamesBothStates(t *testing.T) {
	h := newHub(t, testConfig)
	h.OK("risk", "add", "-title", "Done thing", "-status", "realized")
	_, errs, code := h.Run("risk", "update", "R-1", "-status", "accepted")
	if code != 1 || !strings.Contains(errs, "from realized to accepted") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
}

func TestVotesChangePriority(t *testing.T) {
	h := newHub(t, testConfig)
	h.OK("risk", "add", "-title", "First", "-likelihood", "3", "-impact", "3", "-status", "accepted")
	h.OK("risk", "add", "-title", "Second", "-likelihood", "3", "-impact", "3", "-status", "accepted")
	if items := h.list(); items[0].Key != "R-1" {
		t.Fatalf("equal scores must list the older first, got %s", items[0].Key)
	}
	h.OK("vote", "R-2", "-voter", "ann")
	h.OK("vote", "R-2", "-voter", "ann", "-weight", "2") // one vote per voter: replaces
	items := h.list()
	if items[0].Key != "R-2" || items[0].Votes != 2 || *items[0].Priority != 13 {
		t.Fatalf("after votes: %+v", items[0])
	}
	if _, errs, code := h.Run("vote", "R-2", "-voter", "mallory"); code != 1 || !strings.Contains(errs, "not on the sounding board") {
		t.Fatalf("a non-member's vote: exit %d, %s", code, errs)
	}
	h.OK("vote", "R-2", "-voter", "ann", "-retract")
	if items := h.list(); items[0].Key != "R-1" || items[1].Votes != 0 {
		t.Fatalf("after retracting: %+v", items)
	}
}

type plan struct {
	Number   int     `json:"number"`
	Capacity float64 `json:"capacity"`
	Used     float64 `json:"used"`
	Items    []struct {
		Key    string  `json:"key"`
		Score  float64 `json:"score"`
		Effort float64 `json:"effort"`
	} `json:"items"`
}

func TestSprintPlanRespectsCapacityAndPolicy(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("r.csv", strings.Join([]string{
		"key,title,likelihood,impact,effort,status",
		"A,score 25 effort 4,5,5,5,accepted", // score 5, effort 5: fits 5 exactly but is 2nd
		"B,score 12 effort 1,4,3,1,accepted", // 12
		"C,score 9 effort 3,3,3,3,accepted",  // 3
		"D,score 8 effort 2,4,2,2,accepted",  // 4
		"E,proposed,5,5,1,proposed",          // not accepted: never chosen
	}, "\n")+"\n")
	h.OK("risk", "import", "r.csv")
	var dry plan
	h.JSONOf(&dry, "sprint", "plan", "-start", "2026-12-01", "-end", "2026-12-14", "-dry-run")
	var p plan
	h.JSONOf(&p, "sprint", "plan", "-start", "2026-12-01", "-end", "2026-12-14", "-goal", "g")
	if diff := cmp.Diff(dry, p); diff != "" {
		t.Fatalf("dry run differs from the real plan (-dry +real):\n%s", diff)
	}
	got := []string{}
	for _, it := range p.Items {
		got = append(got, fmt.Sprintf("%s:%g", it.Key, it.Score))
	}
	// B (12, effort 1) then A (5, effort 5) does not fit the 4 left, D (4, effort 2), C (3, effort 3) does not fit the 2 left.
	if want := []string{"B:12", "D:4"}; !cmp.Equal(got, want) || p.Used != 3 || p.Capacity != 5 || p.Number != 1 {
		t.Fatalf("plan %+v, items %v, want %v", p, got, want)
	}
	status := map[string]string{}
	for _, it := range h.list() {
		status[it.Key] = it.Status
	}
	if want := map[string]string{"A": "accepted", "B": "planned", "C": "accepted", "D": "planned", "E": "proposed"}; !cmp.Equal(status, want) {
		t.Fatalf("statuses after planning: %v", status)
	}
	h.OK("sprint", "start", "1")
	h.OK("sprint", "close", "1", "-realized", "B")
	status = map[string]string{}
	for _, it := range h.list() {
		status[it.Key] = it.Status
	}
	if status["B"] != "realized" || status["D"] != "accepted" {
		t.Fatalf("after close: %v", status)
	}
	var p2 plan
	h.JSONOf(&p2, "sprint", "plan", "-start", "2026-12-15", "-end", "2026-12-28", "-capacity", "8")
	if p2.Number != 2 || len(p2.Items) != 2 || p2.Items[0].Key != "A" || p2.Items[1].Key != "D" {
		t.Fatalf("second sprint: %+v", p2)
	}
}

func TestSprintPlanRefusesWithoutPolicy(t *testing.T) {
	h := newHub(t, strings.Replace(testConfig, `priority "p" {
  score = (likelihood * impact + 2 * votes) / max(effort, 1)
}`, "", 1))
	h.OK("risk", "add", "-title", "x", "-status", "accepted")
	_, errs, code := h.Run("sprint", "plan", "-start", "2026-12-01", "-end", "2026-12-14")
	if code != 1 || !strings.Contains(errs, "prioritisation mechanism must be fixed before the first sprint") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
}

func TestScansCompare(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("base.csv", "dimension,score,respondents,note\nagree,2,10,\nchange,1.5,10,x\n")
	h.Write("prog.csv", "score,dimension\n3,agree\n1.25,change\n")
	scan := func(kind, version, date, file string) (string, int) {
		_, errs, code := h.Run("scan", "import", "-kind", kind, "-method", "USM scan", "-method-version", version, "-date", date, file)
		return errs, code
	}
	if errs, code := scan("progress", "2", "2026-10-01", "prog.csv"); code != 1 || !strings.Contains(errs, "no baseline scan") {
		t.Fatalf("progress before baseline: exit %d %s", code, errs)
	}
	if errs, code := scan("baseline", "2", "2026-09-01", "base.csv"); code != 0 {
		t.Fatal(errs)
	}
	if errs, code := scan("progress", "3", "2026-10-01", "prog.csv"); code != 1 || !strings.Contains(errs, "the baseline used USM scan 2, this scan USM scan 3") {
		t.Fatalf("other method version: exit %d %s", code, errs)
	}
	if errs, code := scan("progress", "2", "2026-08-31", "prog.csv"); code != 1 || !strings.Contains(errs, "the scan is dated 2026-08-31, before the baseline of 2026-09-01") {
		t.Fatalf("a progress scan before the baseline: exit %d %s", code, errs)
	}
	if errs, code := scan("progress", "2", "2026-10-01", "prog.csv"); code != 0 {
		t.Fatal(errs)
	}
	var rows []struct {
		Dimension string   `json:"dimension"`
		Baseline  *float64 `json:"baseline"`
		Latest    *float64 `json:"latest"`
		Delta     *float64 `json:"delta"`
	}
	h.JSONOf(&rows, "scan", "compare")
	got := ""
	for _, r := range rows {
		got += fmt.Sprintf("%s %g %g %+g;", r.Dimension, *r.Baseline, *r.Latest, *r.Delta)
	}
	if want := "agree 2 3 +1;change 1.5 1.25 -0.25;"; got != want {
		t.Fatalf("compare = %q, want %q", got, want)
	}
	h.Write("dup.csv", "dimension,score\nagree,1\nagree,2\nmood,high\n")
	if errs, code := scan("progress", "2", "2026-11-01", "dup.csv"); code != 1 ||
		!strings.Contains(errs, "dup.csv:3,1: dimension: \"agree\" is already scored on line 2") ||
		!strings.Contains(errs, "dup.csv:4,6: score: must be a number, not \"high\"") {
		t.Fatalf("bad scan file: exit %d %s", code, errs)
	}
}

func TestReadinessListsTenChecks(t *testing.T) {
	h := newHub(t, testConfig)
	type check struct {
		Precondition int    `json:"precondition"`
		Name         string `json:"name"`
		Status       string `json:"status"`
		Reason       string `json:"reason"`
		Next         string `json:"next"`
	}
	var checks []check
	h.JSONOf(&checks, "readiness", "-offline")
	if len(checks) != 10 {
		t.Fatalf("%d checks, want 10", len(checks))
	}
	status := func() map[int]string {
		m := map[int]string{}
		for _, c := range checks {
			m[c.Precondition] = c.Status
			if c.Status != "pass" && c.Next == "" {
				t.Errorf("check %d (%s) is %s without a next step", c.Precondition, c.Name, c.Status)
			}
		}
		return m
	}
	want := map[int]string{1: "fail", 2: "fail", 3: "fail", 4: "pass", 5: "warn", 6: "fail", 7: "fail", 8: "pass", 9: "fail", 10: "warn"}
	if diff := cmp.Diff(want, status()); diff != "" {
		t.Fatalf("empty initiative (-want +got):\n%s", diff)
	}
	h.OK("risk", "add", "-title", "x", "-status", "accepted", "-kind", "opportunity")
	h.OK("vote", "R-1", "-voter", "bob")
	h.Write("base.csv", "dimension,score\nagree,2\n")
	h.OK("scan", "import", "-kind", "baseline", "-method", "m", "-method-version", "1", "-date", "2026-01-01", "base.csv")
	h.JSONOf(&checks, "readiness", "-offline")
	want = map[int]string{1: "fail", 2: "pass", 3: "fail", 4: "pass", 5: "warn", 6: "pass", 7: "pass", 8: "pass", 9: "fail", 10: "pass"}
	if diff := cmp.Diff(want, status()); diff != "" {
		t.Fatalf("after data (-want +got):\n%s", diff)
	}
}

func TestValidatePointsAtTheMistake(t *testing.T) {
	h := newHub(t, "hub {\n  data_dir = \"data\"\n  log_colour = \"red\"\n}\n")
	_, errs, code := h.Run("validate")
	if code != 1 || !strings.HasPrefix(errs, "usmhub.hcl:3,3: Unsupported argument") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	h = newHub(t, testConfig)
	if out := h.OK("validate"); !strings.Contains(out, "usmhub.hcl: ok") {
		t.Fatalf("validate: %s", out)
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	h := newHub(t, testConfig)
	h.Write("inv.csv", inventory(30))
	h.OK("risk", "import", "inv.csv")
	for _, format := range []string{"csv", "json"} {
		out := h.OK("risk", "export", "-format", format)
		h.Write("export."+format, out)
		if got := h.OK("risk", "import", "export."+format); !strings.Contains(got, "0 created, 0 updated, 30 unchanged") {
			t.Fatalf("re-importing the %s export: %s", format, got)
		}
	}
}

// TestTour runs the tour of `make run` on a copy of the example config.
func TestTour(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(root, "config.example.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "usmhub.hcl"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	sheet := filepath.Join(dir, "data", "sheet")
	if err := os.MkdirAll(sheet, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"risks.csv", "votes.csv", "scans.csv"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "sheet", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sheet, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ { // the tour is safe to run again
		cmd := exec.Command(filepath.Join(root, "examples", "tour.sh"), usmhubBin, filepath.Join(dir, "usmhub.hcl"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tour run %d: %v\n%s", i+1, err, out)
		}
		if !strings.Contains(string(out), "preconditions pass") {
			t.Fatalf("tour run %d ended early:\n%s", i+1, out)
		}
		// The sheet's rows carry the same keys as the imported risks: the
		// sync adopts them instead of doubling the register.
		h := &hub{hubcli.At(t, usmhubBin, dir)}
		if n := len(h.list()); n != 12 {
			t.Fatalf("tour run %d: %d risks in the hub, want the 12 of the inventory\n%s", i+1, n, out)
		}
		rows, err := os.ReadFile(filepath.Join(sheet, "risks.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(rows), "usmhub-"); n != 12 {
			t.Fatalf("tour run %d: %d marked rows in the sheet, want 12:\n%s", i+1, n, rows)
		}
	}
}

const connectorConfig = `
hub {
  data_dir = "data"
  strategy = "erp"
}
initiative "t" { name = "T" }
connector "file" "sheet" {
  dir    = "sheet"
  format = "xml"
}
`

func TestValidatePointsIntoTheConnectorBlock(t *testing.T) {
	h := newHub(t, connectorConfig)
	if err := os.MkdirAll(filepath.Join(h.Dir, "sheet"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, errs, code := h.Run("validate")
	if code != 1 || !strings.Contains(errs, "usmhub.hcl:9,12: ") || !strings.Contains(errs, "format") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	h.Write("usmhub.hcl", strings.Replace(connectorConfig, `  format = "xml"`, `  colour = "red"`, 1))
	_, errs, code = h.Run("validate")
	if code != 1 || !strings.HasPrefix(errs, "usmhub.hcl:9,3: Unsupported argument") {
		t.Fatalf("unknown connector attribute: exit %d, stderr %q", code, errs)
	}
	h.Write("usmhub.hcl", strings.Replace(connectorConfig, `  format = "xml"`, ``, 1))
	if out := h.OK("validate"); !strings.Contains(out, "connector file.sheet: ok") {
		t.Fatalf("validate: %s", out)
	}
	// What the connector's check finds (a folder that is not there) points
	// at the attribute too.
	h.Write("usmhub.hcl", strings.Replace(strings.Replace(connectorConfig, `  format = "xml"`, ``, 1), `"sheet"`+"\n", `"shete"`+"\n", 1))
	_, errs, code = h.Run("validate")
	if code != 1 || !strings.HasPrefix(errs, "usmhub.hcl:8,12: dir: folder "+filepath.Join(h.Dir, "shete")+" does not exist") {
		t.Fatalf("a mistyped folder: exit %d, stderr %q", code, errs)
	}
	h.Write("usmhub.hcl", strings.Replace(connectorConfig, `  format = "xml"`, `  plugin_sha256 = "`+strings.Repeat("ab", 32)+`"`, 1))
	_, errs, code = h.Run("validate")
	if code != 1 || !strings.Contains(errs, "plugin sha256 mismatch: expected "+strings.Repeat("ab", 32)+", got ") {
		t.Fatalf("a wrong pin: exit %d, stderr %q", code, errs)
	}
}

func TestPluginsListAndDescribe(t *testing.T) {
	h := newHub(t, testConfig)
	var plugins []struct {
		Type   string `json:"type"`
		Path   string `json:"path"`
		SHA256 string `json:"sha256"`
	}
	h.JSONOf(&plugins, "plugins", "list")
	found := false
	for _, p := range plugins {
		if p.Type == "file" {
			found = p.Path == filepath.Join(filepath.Dir(usmhubBin), "usmhub-connector-file") && len(p.SHA256) == 64
		}
	}
	if !found {
		t.Fatalf("plugins list: %+v", plugins)
	}
	out := h.OK("plugins", "describe", "file")
	for _, want := range []string{`connector "file" "NAME" {`, "KIND  PULL  PUSH  DELETE", "risk  yes   yes   yes",
		"NAME           TYPE    REQUIRED  SENSITIVE  DESCRIPTION", "dir            string  yes       -          The folder",
		"format         string  -         -", "    dir = \"…\""} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	var d struct {
		Name         string `json:"name"`
		Capabilities []struct {
			Kind string `json:"kind"`
			Push bool   `json:"push"`
		} `json:"capabilities"`
		Attributes []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			Required bool   `json:"required"`
		} `json:"attributes"`
	}
	h.JSONOf(&d, "plugins", "describe", "file")
	if d.Name != "file" || len(d.Capabilities) == 0 || d.Capabilities[0].Kind != "risk" || !d.Capabilities[0].Push ||
		len(d.Attributes) == 0 || d.Attributes[0] != (struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		Required bool   `json:"required"`
	}{"dir", "string", true}) {
		t.Errorf("describe -json: %+v", d)
	}
	if _, errs, code := h.Run("plugins", "describe", "nosuch"); code != 1 || errs == "" {
		t.Fatalf("unknown type: exit %d %q", code, errs)
	}
}

func TestPlanSyncStatusWithTheFileConnector(t *testing.T) {
	h := newHub(t, `
hub {
  data_dir = "data"
  strategy = "erp"
}
initiative "t" { name = "T" }
priority "p" { score = likelihood * impact }
connector "file" "sheet" { dir = "sheet" }
sync "risks" {
  kind      = "risk"
  connector = "file.sheet"
}
`)
	if err := os.MkdirAll(filepath.Join(h.Dir, "sheet"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.Write("inv.csv", inventory(40))
	h.OK("risk", "import", "inv.csv")
	if _, _, code := h.Run("plan"); code != 2 {
		t.Fatalf("plan before the first sync: exit %d, want 2 (changes)", code)
	}
	out := h.OK("sync")
	if !strings.Contains(out, "remote: 40 created") {
		t.Fatalf("sync: %s", out)
	}
	if out, errs, code := h.Run("plan"); code != 0 {
		t.Fatalf("plan after sync: exit %d, want 0 (nothing to do)\n%s%s", code, out, errs)
	}
	rows, err := os.ReadFile(filepath.Join(h.Dir, "sheet", "risks.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rows), ",usmhub-"); n != 40 {
		t.Fatalf("%d marked rows in the sheet, want 40", n)
	}
	var status []struct {
		Sync  string         `json:"sync"`
		Links map[string]int `json:"links"`
	}
	h.JSONOf(&status, "status")
	if len(status) != 1 || status[0].Links["linked"] != 40 {
		t.Fatalf("status: %+v", status)
	}
	if _, errs, code := h.Run("sync", "nosuch"); code != 1 || !strings.Contains(errs, `no sync block is named "nosuch"; the syncs are: risks`) {
		t.Fatalf("unknown sync: exit %d, %s", code, errs)
	}
}
