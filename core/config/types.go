package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/priority"
)

// Config is a loaded, checked usmhub configuration file.
type Config struct {
	// Path is the file the config was loaded from; Dir its folder, against
	// which relative paths (data_dir, plugin_dir, file()) are resolved.
	Path string
	Dir  string

	Hub         Hub
	Initiatives []*Initiative
	Priorities  []*Priority
	Connectors  []*Connector
	Syncs       []*Sync
	Reports     []*Report

	// Lock is the plugin lock file beside the config (LockFileName); its
	// Digests are empty when there is none.
	Lock *Lock
}

// Hub is the hub block: where data lives and how the hub logs and listens.
type Hub struct {
	DataDir   string // absolute after Load; default "data" next to the config
	LogLevel  string // trace|debug|info|warn|error; default info
	LogFormat string // text|json; default text
	PluginDir string // absolute after Load; empty when not set (no default folder)
	Strategy  string // erp|best_of_breed; empty when not chosen yet
	Listen    string // default 127.0.0.1:8765
	APIToken  Secret
	// ReadToken opens the dashboard and the read-only /v1/ API when the
	// hub listens on an address other than loopback.
	ReadToken Secret
	// PublicURL is where people reach the dashboard (http or https, no
	// trailing slash, no query); empty when not set. Published reports link
	// to their page under it where a tool cannot take their charts.
	PublicURL string
	// TLSCert and TLSKey are the PEM files usmhub serve serves HTTPS with
	// (absolute after Load; both empty: plain HTTP). Load checks that they
	// hold a certificate and its key.
	TLSCert, TLSKey string
	// RequirePluginPins refuses to launch a connector whose binary is
	// pinned neither by plugin_sha256 in its block nor in the lock file.
	RequirePluginPins bool
	Range             hcl.Range // the hub block's header; zero when there is none
}

// Secret is a sensitive string: it prints as "(sensitive)" in logs, errors
// and JSON. Reveal returns the value.
type Secret struct{ value string }

// NewSecret wraps a sensitive value.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret value; call it only where the value is used.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether a value was given.
func (s Secret) IsSet() bool { return s.value != "" }

// String hides the value.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "(sensitive)"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalText hides the value from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Initiative is an initiative block. When it names no priority and the
// config has exactly one priority block, Load sets Priority to that block.
type Initiative struct {
	model.Initiative
	Range hcl.Range
}

// Priority is a priority block; Policy is its score expression, compiled.
type Priority struct {
	Name        string
	Description string
	Policy      *priority.Policy
	Range       hcl.Range
}

// Connector is a connector block. Its body is decoded later, against the
// schema the connector plugin describes (see plugins/host).
type Connector struct {
	Type         string
	Name         string
	PluginSHA256 string   // lower-case hex; empty when not pinned
	Body         hcl.Body // the remaining attributes, for hcldec
	Range        hcl.Range
}

// ID is the connector's reference as sync and report blocks write it:
// "<type>.<name>".
func (c *Connector) ID() string { return c.Type + "." + c.Name }

// Sync is a sync block: it binds an entity kind of an initiative to a
// connector, with a direction, the owner of each field, status and field
// mappings, a delete policy and a schedule.
type Sync struct {
	Name       string
	Kind       string // risk|sprint|vote|scan
	Connector  string // "<type>.<name>", checked to exist
	Initiative string // defaults to the only initiative
	Direction  string // push|pull|both (default: both for risks, pull for votes and scans, push for sprints)
	// Authority is who wins a conflict: AuthorityDefault for every field but
	// those in AuthorityFields. The default is "remote" under the erp
	// strategy and "hub" otherwise.
	AuthorityDefault string
	AuthorityFields  map[string]string
	MapStatus        map[string]string // hub status → remote status
	Filter           map[string]string // canonical field → value
	OnDelete         string            // close|orphan|delete (default close)
	Schedule         string            // cron spec; empty: only on demand
	Lookback         time.Duration
	FullEvery        time.Duration // how often a full reconcile lists everything (votes and scans: every run)
	BatchSize        int
	// MaxDeletePercent and MaxDeleteMin bound the linked records one run
	// may delete or close: MaxDeletePercent of them, and always MaxDeleteMin
	// (defaults 10 and 5); sync -allow-deletes confirms more.
	MaxDeletePercent float64
	MaxDeleteMin     int
	// AdoptForeign takes over remote records carrying another hub's marker.
	AdoptForeign   bool
	Range          hcl.Range
	ConnectorRange hcl.Range
}

// Authoritative reports whether the sync's remote side owns its kind.
func (s *Sync) Authoritative() bool { return s.AuthorityDefault == "remote" }

// Report is a report block: a report of a kind about an initiative,
// published to connectors on a schedule.
type Report struct {
	Name       string
	Kind       string   // sprint|scan|register|readiness
	Initiative string   // defaults to the only initiative, when there is one
	PublishTo  []string // connector IDs ("<type>.<name>"), each checked to exist
	Schedule   string   // cron expression; checked by core/schedule, not here
	Range      hcl.Range
}
