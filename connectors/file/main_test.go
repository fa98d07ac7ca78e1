package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// pluginPath is the connector binary TestMain builds, as `make build` does.
var pluginPath string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "usmhub-connector-file-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginPath, err = connectortest.BuildBinary(".", "file", dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "build the file connector plugin: %v\n", err)
		return 1
	}
	return m.Run()
}

// configured returns a file connector configured on dir in format.
func configured(t testing.TB, dir, format string) *Connector {
	t.Helper()
	c := New().(*Connector)
	cfg, err := sdk.ConfigFromMap(map[string]any{"dir": dir, "format": format})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Configure(context.Background(), cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return c
}

// pulled is what one pull delivered.
type pulled struct {
	batches []sdk.Batch
	records []sdk.Record
	byID    map[string]sdk.Record
	cursor  string
}

// pull pulls kind from cursor and fails the test on error.
func pull(t testing.TB, c *Connector, kind sdk.EntityKind, cursor string) pulled {
	t.Helper()
	p, err := tryPull(c, kind, cursor)
	if err != nil {
		t.Fatalf("Pull(%s, %q): %v", kind, cursor, err)
	}
	return p
}

func tryPull(c *Connector, kind sdk.EntityKind, cursor string) (pulled, error) {
	p := pulled{byID: map[string]sdk.Record{}}
	err := c.Pull(context.Background(), sdk.PullRequest{Kind: kind, Cursor: cursor}, func(b sdk.Batch) error {
		p.batches = append(p.batches, b)
		p.records = append(p.records, b.Records...)
		for _, r := range b.Records {
			p.byID[r.ExternalID] = r
		}
		p.cursor = b.Cursor
		return nil
	})
	return p, err
}

// push pushes risk changes and fails the test when the call fails.
func push(t testing.TB, c *Connector, changes ...sdk.Change) []sdk.Result {
	t.Helper()
	res, err := c.Push(context.Background(), sdk.PushRequest{Kind: sdk.KindRisk, Changes: changes})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if len(res) != len(changes) {
		t.Fatalf("Push: %d results for %d changes", len(res), len(changes))
	}
	return res
}

// mustOK fails the test unless every result succeeded.
func mustOK(t testing.TB, res []sdk.Result) []sdk.Result {
	t.Helper()
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("change %d: %v", i, r.Err)
		}
	}
	return res
}

// risk returns valid fields of a risk titled title.
func risk(title string) map[string]string {
	return map[string]string{
		sdk.FieldTitle: title, sdk.FieldKind: "threat", sdk.FieldLikelihood: "3", sdk.FieldImpact: "4", sdk.FieldStatus: "proposed",
	}
}

// create is a create of a risk titled title with marker usmhub-<title>.
func create(title string) sdk.Change {
	return sdk.Change{Op: sdk.OpCreate, Marker: "usmhub-" + title, Fields: risk(title)}
}

// readFile returns a test file's content.
func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
