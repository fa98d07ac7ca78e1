package host

import (
	"testing"

	"github.com/usmhub/usmhub/core/connector"
)

// The block to start from names the required attributes only, each with a
// placeholder of its type; a secret is read with env().
func TestStarterBlock(t *testing.T) {
	d := connector.Description{Name: "rt", Schema: connector.Schema{Attributes: []connector.Attribute{
		{Name: "url", Type: connector.TypeString, Required: true},
		{Name: "token", Type: connector.TypeString, Required: true, Sensitive: true},
		{Name: "page_size", Type: connector.TypeNumber, Required: true},
		{Name: "queues", Type: connector.TypeListString, Required: true},
		{Name: "verbose", Type: connector.TypeBool},
	}}}
	want := "connector \"rt\" \"NAME\" {\n  url = \"…\"\n  token = env(\"…\")\n  page_size = 0\n  queues = [\"…\"]\n}\n"
	if got := StarterBlock(d); got != want {
		t.Errorf("StarterBlock:\n%s\nwant:\n%s", got, want)
	}
}
