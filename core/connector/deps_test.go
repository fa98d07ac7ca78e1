package connector_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreOwnsItsPorts: no package of the hub's core depends on the plugin
// plumbing. The reconciler and the reports talk to tools through this
// package; the plugin host adapts plugins to it, never the other way round.
func TestCoreOwnsItsPorts(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/usmhub/usmhub/core/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/usmhub/usmhub/plugins/",
		"github.com/usmhub/usmhub/connectors/",
		"github.com/usmhub/usmhub/cmd/",
		"github.com/hashicorp/go-plugin",
		"google.golang.org/grpc",
	}
	n := 0
	for _, dep := range strings.Fields(string(out)) {
		n++
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("core depends on %s", dep)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list -deps named only %d packages: %s", n, out)
	}
}
