// Package rt_test proves the Request Tracker connector end to end against a
// real RT 5 on 127.0.0.1: TestMain starts a fresh one with the project's
// own scripts/rt-up.sh (installing Debian's packages when missing) and stops
// it by its PID with scripts/rt-down.sh. Each test works in queues and a
// catalog of its own, so they never see each other's records.
//
// When RT cannot start (not root, no apt, no mirror) the tests skip with a
// loud message, except under CI=true or USMHUB_E2E=1, where they fail.
package rt_test

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	"sync/atomic"
	"testing"
	"time"

	"github.com/usmhub/usmhub/plugins/connectortest"
)

var (
	// rt is the KEY=VALUE output of scripts/rt-up.sh.
	rt map[string]string
	// startErr says why RT could not start (nil when it runs).
	startErr error

	binDir    string // usmhub and its connectors, as `make build` lays them out
	usmhubBin string
	rtPlugin  string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	binDir, err = os.MkdirTemp("", "usmhub-e2e-rt-bin-")
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
	if rtPlugin, err = connectortest.BuildBinary("../../connectors/rt", "rt", binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if envFile := os.Getenv("USMHUB_E2E_RT_ENV"); envFile != "" {
		// An RT already started by scripts/rt-up.sh (its $RT_STATE/env):
		// quicker when working on the tests.
		rt, startErr = readEnv(envFile)
		return m.Run()
	}
	state, err := os.MkdirTemp("", "usmhub-e2e-rt-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(state)
	start := time.Now()
	rt, startErr = startRT(state)
	if startErr != nil {
		fmt.Fprintf(os.Stderr, "\n!!! e2e/rt: a real Request Tracker could not start, so these tests require it and will %s:\n!!! %v\n\n",
			map[bool]string{true: "FAIL (CI=true or USMHUB_E2E=1)", false: "SKIP (set USMHUB_E2E=1 or CI=true to fail instead)"}[mustRun()], startErr)
	} else {
		fmt.Fprintf(os.Stderr, "e2e/rt: RT ready at %s after %s\n", rt["RT_URL"], time.Since(start).Round(time.Second))
		defer stopRT(state)
	}
	return m.Run()
}

// mustRun says whether a missing RT fails the tests.
func mustRun() bool { return os.Getenv("CI") == "true" || os.Getenv("USMHUB_E2E") == "1" }

// requireRT fails (CI) or skips (elsewhere) a test when RT is not running.
func requireRT(t *testing.T) {
	t.Helper()
	if startErr == nil {
		return
	}
	if mustRun() {
		t.Fatalf("this test requires a real Request Tracker, which could not start: %v", startErr)
	}
	t.Skipf("SKIPPED: requires a real Request Tracker on 127.0.0.1 (scripts/rt-up.sh, as root with apt), which could not start: %v; set USMHUB_E2E=1 or CI=true to make this a failure", startErr)
}

// startRT runs scripts/rt-up.sh on a free port in state.
func startRT(state string) (map[string]string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("../../scripts/rt-up.sh")
	cmd.Env = append(os.Environ(), "RT_STATE="+filepath.Join(state, "rt"), "RT_PORT="+strconv.Itoa(port))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("scripts/rt-up.sh: %v\n%s", err, errb.String())
	}
	return parseEnv(&out), nil
}

func stopRT(state string) {
	cmd := exec.Command("../../scripts/rt-down.sh")
	cmd.Env = append(os.Environ(), "RT_STATE="+filepath.Join(state, "rt"))
	cmd.Stderr = os.Stderr
	_ = cmd.Run()
}

func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseEnv(f), nil
}

func parseEnv(r io.Reader) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

// api calls RT's REST2 as the test's administrator (the hub's token).
type api struct {
	t *testing.T
}

func (a api) do(method, path string, body, out any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, rt["RT_URL"]+"/REST/2.0"+path, rd)
	req.Header.Set("Authorization", "token "+rt["RT_TOKEN"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		a.t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

var seq atomic.Int64

// newQueue creates a queue of the test's own (the USM custom fields apply to
// every queue) and returns its name.
func (a api) newQueue(prefix string) string {
	a.t.Helper()
	name := fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
	a.do("POST", "/queue", map[string]any{"Name": name}, nil)
	return name
}

// newRiskQueue creates a queue of the test's own with the USM lifecycle.
func (a api) newRiskQueue(prefix string) string {
	a.t.Helper()
	name := fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
	a.do("POST", "/queue", map[string]any{"Name": name, "Lifecycle": "usm"}, nil)
	return name
}

// rtTicket is a ticket as a search lists it.
type rtTicket struct {
	ID      string `json:"id"`
	Subject string `json:"Subject"`
	Status  string `json:"Status"`
	Owner   struct {
		ID string `json:"id"`
	} `json:"Owner"`
	CustomFields []struct {
		Name   string   `json:"name"`
		Values []string `json:"values"`
	} `json:"CustomFields"`
}

// cf returns a custom field's first value.
func (t rtTicket) cf(name string) string {
	for _, f := range t.CustomFields {
		if f.Name == name && len(f.Values) > 0 {
			return f.Values[0]
		}
	}
	return ""
}

// tickets lists every ticket of a queue, to the last page.
func (a api) tickets(queue string) []rtTicket {
	a.t.Helper()
	var all []rtTicket
	for page := 1; ; page++ {
		var p struct {
			Items    []rtTicket `json:"items"`
			NextPage string     `json:"next_page"`
		}
		q := url.Values{"query": {fmt.Sprintf("Queue = '%s'", queue)}, "fields": {"Subject,Status,Owner,CustomFields"},
			"per_page": {"100"}, "page": {strconv.Itoa(page)}, "orderby": {"id"}}
		a.do("GET", "/tickets?"+q.Encode(), nil, &p)
		all = append(all, p.Items...)
		if p.NextPage == "" || len(p.Items) == 0 {
			return all
		}
	}
}

// risks lists a queue's tickets by their "USM key".
func (a api) risks(queue string) map[string]rtTicket {
	a.t.Helper()
	out := map[string]rtTicket{}
	for _, t := range a.tickets(queue) {
		if _, dup := out[t.cf("USM key")]; dup {
			a.t.Errorf("queue %s holds two tickets of key %q", queue, t.cf("USM key"))
		}
		out[t.cf("USM key")] = t
	}
	return out
}

// history returns the types of a ticket's transactions, oldest first.
func (a api) history(id string) []string {
	a.t.Helper()
	// Maps, not structs: each item has "type": "transaction" besides
	// "Type", and encoding/json matches names without regard to case.
	var p struct {
		Items []map[string]any `json:"items"`
	}
	a.do("GET", "/ticket/"+id+"/history?fields=Type&per_page=100", nil, &p)
	var out []string
	for _, it := range p.Items {
		s, _ := it["Type"].(string)
		out = append(out, s)
	}
	return out
}

// newCatalog creates an asset catalog of the test's own (scripts/rt-up.sh
// applies the USM asset custom fields to every catalog).
func (a api) newCatalog(prefix string) string {
	a.t.Helper()
	name := fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
	a.do("POST", "/catalog", map[string]any{"Name": name}, nil)
	return name
}
