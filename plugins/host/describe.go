package host

import (
	"context"
	"fmt"
	"strings"

	"github.com/usmhub/usmhub/core/connector"
)

// DescribeType launches the connector binary of type typ with opts, asks
// it to describe itself, and stops it: what `usmhub plugins describe`
// shows.
func DescribeType(ctx context.Context, opts Options, typ string) (connector.Description, error) {
	h, err := New(opts)
	if err != nil {
		return connector.Description{}, err
	}
	defer h.Close()
	inst, err := h.Launch(ctx, typ, "describe", "")
	if err != nil {
		return connector.Description{}, err
	}
	d, err := inst.Describe(ctx)
	if err != nil {
		return d, fmt.Errorf("describe %s: %w", typ, err)
	}
	return d, nil
}

// Described is a connector's description as `usmhub plugins describe
// -json` prints it (docs/JSON.md).
type Described struct {
	Name             string                `json:"name"`
	Version          string                `json:"version"`
	ProtocolVersion  int                   `json:"protocol_version"`
	Capabilities     []DescribedCapability `json:"capabilities"`
	PublishesReports bool                  `json:"publishes_reports"`
	ReadsVotes       bool                  `json:"reads_votes"`
	SearchLagSeconds float64               `json:"search_lag_seconds"`
	Attributes       []DescribedAttribute  `json:"attributes"`
}

// DescribedCapability is what a connector does with one kind.
type DescribedCapability struct {
	Kind   string `json:"kind"`
	Pull   bool   `json:"pull"`
	Push   bool   `json:"push"`
	Delete bool   `json:"delete"`
}

// DescribedAttribute is one attribute of a connector's config block.
type DescribedAttribute struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required"`
	Sensitive   bool   `json:"sensitive"`
	Description string `json:"description"`
}

// DescribedOf is d in its JSON shape.
func DescribedOf(d connector.Description) Described {
	out := Described{Name: d.Name, Version: d.Version, ProtocolVersion: d.ProtocolVersion,
		PublishesReports: d.PublishesReports, ReadsVotes: d.ReadsVotes, SearchLagSeconds: d.SearchLag.Seconds(),
		Capabilities: []DescribedCapability{}, Attributes: []DescribedAttribute{}}
	for _, c := range d.Capabilities {
		out.Capabilities = append(out.Capabilities, DescribedCapability{Kind: string(c.Kind), Pull: c.Pull, Push: c.Push, Delete: c.Delete})
	}
	for _, a := range d.Schema.Attributes {
		out.Attributes = append(out.Attributes, DescribedAttribute{Name: a.Name, Type: string(a.Type), Required: a.Required,
			Sensitive: a.Sensitive, Description: a.Description})
	}
	return out
}

// StarterBlock is a connector block to start a config from: the type's
// required attributes, each with a placeholder of its type (a sensitive
// one read with env(), never written in the config).
func StarterBlock(d connector.Description) string {
	var b strings.Builder
	fmt.Fprintf(&b, "connector %q \"NAME\" {\n", d.Name)
	for _, a := range d.Schema.Attributes {
		if !a.Required {
			continue
		}
		val := `"…"`
		switch {
		case a.Sensitive:
			val = `env("…")`
		case a.Type == connector.TypeNumber:
			val = "0"
		case a.Type == connector.TypeBool:
			val = "false"
		case a.Type == connector.TypeListString:
			val = `["…"]`
		case a.Type == connector.TypeMapString:
			val = "{}"
		}
		fmt.Fprintf(&b, "  %s = %s\n", a.Name, val)
	}
	b.WriteString("}\n")
	return b.String()
}
