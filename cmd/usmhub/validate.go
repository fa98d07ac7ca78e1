package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/usmhub/usmhub/core/config"
)

type validateCmd struct{}

func (validateCmd) Synopsis() string { return "Load and check the config without doing anything else" }

// validation is validate -json's answer.
type validation struct {
	Config      string           `json:"config"`
	OK          bool             `json:"ok"`
	Errors      []string         `json:"errors,omitempty"` // the config's diagnostics, FILE:LINE,COL: …
	Initiatives int              `json:"initiatives"`
	Priorities  int              `json:"priorities"`
	Connectors  []connectorCheck `json:"connectors"`
}

// connectorCheck is one connector's check in validate -json.
type connectorCheck struct {
	ID      string `json:"id"`
	Checked bool   `json:"checked"` // false: -offline
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

func (validateCmd) Run(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("validate", "validate [-offline] [-json]")
	offline := fs.Bool("offline", false, "do not launch connectors to check the tools")
	asJSON := fs.Bool("json", false, "print the outcome as JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	e.hubSecrets = true
	v := validation{Config: e.configPath(), Connectors: []connectorCheck{}}
	cfg, err := e.config()
	if err != nil {
		if !*asJSON {
			return e.fail(err)
		}
		v.Errors = strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
		e.printJSON(v)
		return exitError
	}
	v.Initiatives, v.Priorities = len(cfg.Initiatives), len(cfg.Priorities)
	failed := 0
	for _, h := range connectorHealth(ctx, e, cfg, *offline) {
		c := connectorCheck{ID: h.ID, Checked: h.Checked, OK: h.Checked && h.Err == nil}
		switch {
		case !h.Checked:
			if !*asJSON {
				fmt.Fprintf(e.stdout, "connector %s: not checked (offline)\n", h.ID)
			}
		case h.Err != nil:
			failed++
			var de *config.DiagError
			if errors.As(h.Err, &de) {
				c.Error = strings.TrimRight(de.Error(), "\n")
			} else {
				c.Error = withPrefix("connector "+h.ID, h.Err)
			}
			if !*asJSON {
				fmt.Fprintln(e.stderr, c.Error)
			}
		default:
			if !*asJSON {
				fmt.Fprintf(e.stdout, "connector %s: ok\n", h.ID)
			}
		}
		v.Connectors = append(v.Connectors, c)
	}
	v.OK = failed == 0
	if *asJSON {
		e.printJSON(v)
		if failed > 0 {
			return exitError
		}
		return exitOK
	}
	if failed > 0 {
		fmt.Fprintf(e.stderr, "usmhub: %s: %d connector(s) failed their check\n", cfg.Path, failed)
		return exitError
	}
	fmt.Fprintf(e.stdout, "%s: ok (%d initiative(s), %d priority polic(ies), %d connector(s))\n", cfg.Path, len(cfg.Initiatives), len(cfg.Priorities), len(cfg.Connectors))
	return exitOK
}

// withPrefix is "prefix: err", unless err's text already begins with the
// prefix (errors wrapped on the way up name the connector once).
func withPrefix(prefix string, err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, prefix+":") {
		return msg
	}
	return prefix + ": " + err.Error()
}
