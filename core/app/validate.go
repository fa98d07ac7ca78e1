package app

import (
	"errors"
	"strings"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/readiness"
)

// Validation is the outcome of checking a config and its connectors; its
// JSON is `usmhub validate -json` (docs/JSON.md).
type Validation struct {
	Config      string           `json:"config"`
	OK          bool             `json:"ok"`
	Errors      []string         `json:"errors,omitempty"` // the config's diagnostics, FILE:LINE,COL: …
	Initiatives int              `json:"initiatives"`
	Priorities  int              `json:"priorities"`
	Connectors  []ConnectorCheck `json:"connectors"`
}

// ConnectorCheck is one connector's check in a Validation.
type ConnectorCheck struct {
	ID      string `json:"id"`
	Checked bool   `json:"checked"` // false: offline, or the connector cannot check its remote
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// InvalidConfig is the validation of the config at path that did not load:
// err's lines (its diagnostics) are the errors.
func InvalidConfig(path string, err error) Validation {
	return Validation{Config: path, Connectors: []ConnectorCheck{},
		Errors: strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")}
}

// Validate is the validation of a loaded config whose connectors'
// health CheckConnectors found. A connector's error reads as its config
// diagnostic (FILE:LINE,COL: …) when it has one, else "connector ID: …".
func Validate(path string, cfg *config.Config, health []readiness.ConnectorHealth) Validation {
	v := Validation{Config: path, OK: true, Initiatives: len(cfg.Initiatives), Priorities: len(cfg.Priorities),
		Connectors: []ConnectorCheck{}}
	for _, h := range health {
		c := ConnectorCheck{ID: h.ID, Checked: h.Checked, OK: h.Checked && h.Err == nil}
		if h.Checked && h.Err != nil {
			v.OK = false
			var de *config.DiagError
			if errors.As(h.Err, &de) {
				c.Error = strings.TrimRight(de.Error(), "\n")
			} else {
				c.Error = withPrefix("connector "+h.ID, h.Err)
			}
		}
		v.Connectors = append(v.Connectors, c)
	}
	return v
}

// Failed counts the connectors that failed their check.
func (v Validation) Failed() int {
	n := 0
	for _, c := range v.Connectors {
		if c.Error != "" {
			n++
		}
	}
	return n
}

// withPrefix is "prefix: err", unless err's text already begins with the
// prefix (errors wrapped on the way up name the connector once).
func withPrefix(prefix string, err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, prefix+":") {
		return msg
	}
	return prefix + ": " + err.Error()
}
