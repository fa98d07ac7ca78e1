package connectortest

import (
	"errors"
	"maps"
	"regexp"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// attrName is what an HCL attribute name may look like.
var attrName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// knownKinds and knownTypes are what a description may name.
var (
	knownKinds = map[sdk.EntityKind]bool{sdk.KindRisk: true, sdk.KindSprint: true, sdk.KindVote: true, sdk.KindScan: true, sdk.KindItem: true}
	knownTypes = map[sdk.AttrType]bool{sdk.TypeString: true, sdk.TypeNumber: true, sdk.TypeBool: true, sdk.TypeListString: true, sdk.TypeMapString: true}
)

// checkDescribe: the description names the connector, speaks this SDK's
// protocol version, describes its schema fully and declares consistent
// capabilities; the fixture fits the schema; Describe is static.
func checkDescribe(e *env) {
	d := e.desc
	if d.Name == "" {
		e.t.Error("Describe: Name is empty")
	}
	if d.Version == "" {
		e.t.Error("Describe: Version is empty")
	}
	// Serve stamps the protocol version; called directly, a connector may
	// leave it zero.
	if d.ProtocolVersion != 0 && d.ProtocolVersion != sdk.ProtocolVersion {
		e.t.Errorf("Describe: ProtocolVersion = %d, want %d (this SDK's)", d.ProtocolVersion, sdk.ProtocolVersion)
	}
	if d.SearchLag < 0 {
		e.t.Errorf("Describe: SearchLag = %v, want zero or more", d.SearchLag)
	}

	attrs := map[string]sdk.Attribute{}
	for i, a := range d.Schema.Attributes {
		switch {
		case a.Name == "":
			e.t.Errorf("Describe: schema attribute %d has no name", i)
			continue
		case !attrName.MatchString(a.Name):
			e.t.Errorf("Describe: schema attribute %q is not a valid HCL attribute name (lower case letters, digits, _)", a.Name)
		}
		if _, dup := attrs[a.Name]; dup {
			e.t.Errorf("Describe: schema attribute %q is declared twice", a.Name)
		}
		attrs[a.Name] = a
		if !knownTypes[a.Type] {
			e.t.Errorf("Describe: schema attribute %q has type %q, want one of string, number, bool, list(string), map(string)", a.Name, a.Type)
		}
		if strings.TrimSpace(a.Description) == "" {
			e.t.Errorf("Describe: schema attribute %q has no description (`usmhub plugins describe` shows it to users)", a.Name)
		}
	}

	seen := map[sdk.EntityKind]bool{}
	for _, c := range d.Capabilities {
		switch {
		case !knownKinds[c.Kind]:
			e.t.Errorf("Describe: capability for unknown entity kind %q", c.Kind)
		case seen[c.Kind]:
			e.t.Errorf("Describe: entity kind %q has two capability entries", c.Kind)
		case !c.Pull && !c.Push:
			e.t.Errorf("Describe: entity kind %q is listed but neither pulled nor pushed", c.Kind)
		case c.Delete && !c.Push:
			e.t.Errorf("Describe: entity kind %q declares delete without push", c.Kind)
		}
		seen[c.Kind] = true
	}
	if d.ReadsVotes && !d.Capability(sdk.KindVote).Pull {
		e.t.Error("Describe: ReadsVotes is set but kind vote is not pulled")
	}
	if c := d.Capability(e.fx.Kind); !c.Pull && !c.Push {
		e.t.Errorf("Describe: the fixture's kind %q has no capability; the battery cannot exercise it", e.fx.Kind)
	}

	for name := range e.fx.Config {
		if _, ok := attrs[name]; !ok {
			e.t.Errorf("fixture Config sets %q, which the schema does not declare (the hub would refuse it)", name)
		}
	}
	for name, a := range attrs {
		if _, ok := e.fx.Config[name]; a.Required && !ok {
			e.t.Errorf("fixture Config lacks the required attribute %q", name)
		}
	}
	if _, ok := attrs[e.fx.BadAttribute]; !ok {
		e.t.Errorf("fixture BadAttribute %q is not in the schema", e.fx.BadAttribute)
	}

	again, err := e.conn.Describe(e.ctx)
	if err != nil {
		e.t.Fatalf("second Describe: %v", err)
	}
	if diff := cmp.Diff(d, again); diff != "" {
		e.t.Errorf("Describe is not static: the second call differs (-first +second):\n%s", diff)
	}
}

// checkBadConfig: Configure(BadConfig) returns a *sdk.ConfigError naming
// BadAttribute.
func checkBadConfig(e *env) {
	wantConfigError(e, e.fx.BadConfig, e.fx.BadAttribute, "Fixture.BadConfig")
}

// checkMissingRequired: leaving out a required attribute is a ConfigError
// naming it.
func checkMissingRequired(e *env) {
	var required []string
	for _, a := range e.desc.Schema.Attributes {
		if a.Required {
			required = append(required, a.Name)
		}
	}
	if len(required) == 0 {
		e.t.Skip("the schema has no required attribute")
	}
	for _, name := range required {
		cfg := maps.Clone(e.fx.Config)
		delete(cfg, name)
		wantConfigError(e, cfg, name, "Fixture.Config without required "+name)
	}
}

// wantConfigError fails the check unless Configure(values) returns a
// *sdk.ConfigError with a problem on attr.
func wantConfigError(e *env, values map[string]any, attr, what string) {
	e.t.Helper()
	cfg, err := sdk.ConfigFromMap(values)
	if err != nil {
		e.t.Fatalf("connectortest: %s: %v", what, err)
	}
	err = e.conn.Configure(e.ctx, cfg)
	if err == nil {
		e.t.Fatalf("Configure(%s) succeeded, want a *sdk.ConfigError naming %q", what, attr)
	}
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) {
		e.t.Fatalf("Configure(%s) = %v (%T), want a *sdk.ConfigError naming %q so the hub can point at its line", what, err, err, attr)
	}
	var named []string
	for _, p := range ce.Problems {
		if p.Attribute == attr {
			if strings.TrimSpace(p.Summary) == "" {
				e.t.Errorf("Configure(%s): the problem on %q has no summary", what, attr)
			}
			return
		}
		named = append(named, p.Attribute)
	}
	e.t.Errorf("Configure(%s) = %v: its problems name %q, want %q", what, err, named, attr)
}

// checkConfigure: Configure(Config) and then Check succeed.
func checkConfigure(e *env) {
	e.configure()
}
