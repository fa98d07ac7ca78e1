// Package redmine_test proves the Redmine connector end to end against a
// real Redmine 5 on 127.0.0.1: TestMain starts a fresh one with the
// project's own scripts/redmine-up.sh (installing Debian's packages when
// missing) and stops it by its PID with scripts/redmine-down.sh. Each test
// works in a project of its own, so they never see each other's issues.
//
// When Redmine cannot start (not root, no apt, no network to the mirror)
// the tests skip with a loud message, except under CI=true or
// USMHUB_E2E=1, where they fail.
package redmine_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/plugins/connectortest"
)

var (
	// redmine is the KEY=VALUE output of scripts/redmine-up.sh.
	redmine map[string]string
	// startErr says why Redmine could not start (nil when it runs).
	startErr error

	binDir        string // usmhub and its connectors, as `make build` lays them out
	usmhubBin     string
	redminePlugin string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	binDir, err = os.MkdirTemp("", "usmhub-e2e-redmine-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	usmhubBin = filepath.Join(binDir, "usmhub")
	if out, err := exec.Command("go", "build", "-o", usmhubBin, "../../cmd/usmhub").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build usmhub: %v\n%s", err, out)
		return 1
	}
	if redminePlugin, err = connectortest.BuildBinary("../../connectors/redmine", "redmine", binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err = connectortest.BuildBinary("../../connectors/file", "file", binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	if envFile := os.Getenv("USMHUB_E2E_REDMINE_ENV"); envFile != "" {
		// A Redmine already started by scripts/redmine-up.sh (its
		// $REDMINE_STATE/env): quicker when working on the tests.
		redmine, startErr = readEnvFile(envFile)
		return m.Run()
	}
	state, err := os.MkdirTemp("", "usmhub-e2e-redmine-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(state)
	start := time.Now()
	redmine, startErr = startRedmine(state)
	if startErr != nil {
		fmt.Fprintf(os.Stderr, "\n!!! e2e/redmine: a real Redmine could not start, so these tests require it and will %s:\n!!! %v\n\n",
			map[bool]string{true: "FAIL (CI=true or USMHUB_E2E=1)", false: "SKIP (set USMHUB_E2E=1 or CI=true to fail instead)"}[mustRun()], startErr)
	} else {
		fmt.Fprintf(os.Stderr, "e2e/redmine: Redmine ready at %s after %s\n", redmine["REDMINE_URL"], time.Since(start).Round(time.Second))
		defer stopRedmine(state)
	}
	return m.Run()
}

// mustRun says whether a missing Redmine fails the tests.
func mustRun() bool { return os.Getenv("CI") == "true" || os.Getenv("USMHUB_E2E") == "1" }

// requireRedmine fails (CI) or skips (elsewhere) a test when Redmine is
// not running.
func requireRedmine(t *testing.T) {
	t.Helper()
	if startErr == nil {
		return
	}
	if mustRun() {
		t.Fatalf("this test requires a real Redmine, which could not start: %v", startErr)
	}
	t.Skipf("SKIPPED: requires a real Redmine on 127.0.0.1 (scripts/redmine-up.sh, as root with apt), which could not start: %v; set USMHUB_E2E=1 or CI=true to make this a failure", startErr)
}

// freePort returns a TCP port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startRedmine runs scripts/redmine-up.sh and reads its KEY=VALUE lines.
func startRedmine(state string) (map[string]string, error) {
	if os.Getuid() != 0 {
		return nil, errors.New("scripts/redmine-up.sh requires root (it installs Debian packages and writes /var/lib/redmine)")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "../../scripts/redmine-up.sh")
	cmd.Env = append(os.Environ(), "REDMINE_PORT="+strconv.Itoa(port), "REDMINE_STATE="+state,
		"REDMINE_INSTANCE_NAME=usmhub-e2e-"+strconv.Itoa(port))
	var stderr bytes.Buffer
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/redmine-up.sh: %v\n%s", err, lastLines(stderr.String(), 15))
	}
	return parseEnv(out)
}

// readEnvFile reads the KEY=VALUE file redmine-up.sh leaves in its state.
func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseEnv(b)
}

func parseEnv(out []byte) (map[string]string, error) {
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vals[k] = v
		}
	}
	for _, k := range []string{"REDMINE_URL", "REDMINE_API_KEY", "REDMINE_PROJECT_ID", "REDMINE_PIDFILE"} {
		if vals[k] == "" {
			return nil, fmt.Errorf("redmine-up.sh printed no %s:\n%s", k, out)
		}
	}
	return vals, nil
}

func stopRedmine(state string) {
	cmd := exec.Command("../../scripts/redmine-down.sh")
	cmd.Env = append(os.Environ(), "REDMINE_STATE="+state)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "scripts/redmine-down.sh: %v\n", err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// api is a tiny Redmine REST client for the tests' own looks and edits.
type api struct {
	t   *testing.T
	url string
	key string
}

func adminAPI(t *testing.T) *api {
	return &api{t: t, url: redmine["REDMINE_URL"], key: redmine["REDMINE_API_KEY"]}
}

// call sends a request and decodes the answer into out; it fails the test
// unless the status is 2xx.
func (a *api) call(method, path string, query url.Values, body, out any) {
	a.t.Helper()
	u := a.url + "/" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("X-Redmine-API-Key", a.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		a.t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// newProject creates a project of its own for a test, a subproject of the
// script's project (or of parent) so that it inherits its members (the
// users owners are). Its custom fields are those "for all projects",
// which Redmine's project API does not list: the connector finds them.
func (a *api) newProject(name string, parent ...string) string {
	a.t.Helper()
	ident := fmt.Sprintf("%s-%x", name, time.Now().UnixNano()&0xffffffff)
	parentID, _ := strconv.Atoi(redmine["REDMINE_PROJECT_ID"])
	if len(parent) > 0 {
		var p struct {
			Project struct {
				ID int `json:"id"`
			} `json:"project"`
		}
		a.call("GET", "projects/"+parent[0]+".json", nil, nil, &p)
		parentID = p.Project.ID
	}
	risk, _ := strconv.Atoi(redmine["REDMINE_RISK_TRACKER_ID"])
	report, _ := strconv.Atoi(redmine["REDMINE_REPORT_TRACKER_ID"])
	a.call("POST", "projects.json", nil, map[string]any{"project": map[string]any{
		"name": ident, "identifier": ident, "parent_id": parentID, "inherit_members": true, "is_public": false,
		"enabled_module_names": []string{"issue_tracking"}, "tracker_ids": []int{risk, report},
	}}, nil)
	return ident
}

// rmIssue is an issue as the tests read it.
type rmIssue struct {
	ID      int    `json:"id"`
	Subject string `json:"subject"`
	Tracker struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"tracker"`
	Status struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"status"`
	AssignedTo *struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"assigned_to"`
	FixedVersion *struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"fixed_version"`
	Description  string `json:"description"`
	CustomFields []struct {
		ID    int    `json:"id"`
		Name  string `json:"name"`
		Value any    `json:"value"`
	} `json:"custom_fields"`
}

// cf returns the value of the custom field named by the script's key
// (MARKER, KEY, LIKELIHOOD …).
func (is rmIssue) cf(key string) string {
	id, _ := strconv.Atoi(redmine["REDMINE_CF_"+key])
	for _, c := range is.CustomFields {
		if c.ID == id {
			if s, ok := c.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// issues lists every issue of a project matching query (all statuses).
func (a *api) issues(project string, query url.Values) []rmIssue {
	a.t.Helper()
	q := url.Values{"project_id": {project}, "status_id": {"*"}, "limit": {"100"}, "sort": {"id:asc"}}
	for k, v := range query {
		q[k] = v
	}
	var all []rmIssue
	for {
		q.Set("offset", strconv.Itoa(len(all)))
		var page struct {
			Issues     []rmIssue `json:"issues"`
			TotalCount int       `json:"total_count"`
		}
		a.call("GET", "issues.json", q, nil, &page)
		all = append(all, page.Issues...)
		if len(page.Issues) == 0 || len(all) >= page.TotalCount {
			return all
		}
	}
}

// risks lists a project's risk issues by their key custom field, failing
// the test on a key held by two issues.
func (a *api) risks(project string) map[string]rmIssue {
	a.t.Helper()
	out := map[string]rmIssue{}
	for _, is := range a.issues(project, url.Values{"tracker_id": {redmine["REDMINE_RISK_TRACKER_ID"]}}) {
		k := is.cf("KEY")
		if prev, dup := out[k]; dup {
			a.t.Errorf("key %q is on issues #%d and #%d: a duplicate", k, prev.ID, is.ID)
		}
		out[k] = is
	}
	return out
}

func (a *api) setIssue(id int, fields map[string]any) {
	a.t.Helper()
	a.call("PUT", fmt.Sprintf("issues/%d.json", id), nil, map[string]any{"issue": fields}, nil)
}

// cfUpdate is a custom_fields entry for setIssue.
func cfUpdate(key, value string) map[string]any {
	id, _ := strconv.Atoi(redmine["REDMINE_CF_"+key])
	return map[string]any{"id": id, "value": value}
}

// statusID returns the id of a status by name.
func (a *api) statusID(name string) int {
	a.t.Helper()
	var out struct {
		IssueStatuses []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"issue_statuses"`
	}
	a.call("GET", "issue_statuses.json", nil, nil, &out)
	for _, s := range out.IssueStatuses {
		if s.Name == name {
			return s.ID
		}
	}
	a.t.Fatalf("Redmine has no status %q", name)
	return 0
}
