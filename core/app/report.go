package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/readiness"
	"github.com/usmhub/usmhub/core/report"
	"github.com/usmhub/usmhub/core/store"
)

// MakeReport builds a report of an initiative ("" for the only one) from
// one consistent read. A readiness report shows the connectors' health,
// which it asks health for (CheckConnectors) before the read; other kinds
// never call it.
func MakeReport(ctx context.Context, cfg *config.Config, st store.Store, kind, initiative string, opts report.Options, health func() []readiness.ConnectorHealth) (*report.Report, error) {
	in, err := cfg.Initiative(initiative)
	if err != nil {
		return nil, err
	}
	input := report.Input{Config: cfg, Initiative: in, Now: time.Now()}
	if kind == report.KindReadiness {
		input.Connectors = health()
	}
	var rep *report.Report
	err = st.View(ctx, func(r store.Reader) error {
		input.Reader = r
		rep, err = report.Build(kind, input, opts)
		return err
	})
	return rep, err
}

// Published is where one report went: `usmhub report -publish … -json`
// prints a list of them.
type Published struct {
	Connector string `json:"connector"`
	Key       string `json:"key"`
	URL       string `json:"url,omitempty"`
	Created   bool   `json:"created"`
	Error     string `json:"error,omitempty"`

	// sent tells that the connector took the report; failure is how the
	// daemon reports Error: the connector's refusal, or the store's
	// failure to record a publication that happened.
	sent    bool
	failure error
}

// Publish sends rep to the connector target (launching it on first use)
// and records in st, as actor, that the initiative's report reached it
// (readiness counts what was published). Any failure — the connector's,
// scrubbed of its secrets, or the store's — is the result's Error.
func Publish(ctx context.Context, st store.Store, cs Connectors, actor store.Actor, rep *report.Report, target string) Published {
	res := Published{Connector: target, Key: rep.Key}
	conn, err := cs.Get(ctx, target)
	if err != nil {
		res.Error, res.failure = err.Error(), publishErr(rep.Key, target, cs.Scrub(err.Error()))
		return res
	}
	p, err := conn.Publish(ctx, rep.SDK())
	if err != nil {
		res.Error = cs.Scrub(err.Error())
		res.failure = publishErr(rep.Key, target, res.Error)
		return res
	}
	res.URL, res.Created, res.sent = p.URL, p.Created, true
	if err := readiness.RecordPublished(ctx, st, actor, rep.Initiative, rep.Key, target, res.URL, res.Created); err != nil {
		res.Error, res.failure = err.Error(), err
	}
	return res
}

func publishErr(key, target, msg string) error {
	return fmt.Errorf("publish %s to %s: %s", key, target, msg)
}

// WriteReport renders rep in a format — "json", "html" (one
// self-contained file) or Markdown under its title — onto stdout, or into
// path whole or not at all: through a temporary file beside it, readable by
// all (0644), renamed into place.
func WriteReport(rep *report.Report, format, path string, stdout io.Writer) error {
	var body []byte
	switch format {
	case "json":
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("encode %s report: %w", rep.Kind, err)
		}
		body = append(b, '\n')
	case "html":
		body = []byte(rep.HTML())
	default:
		body = []byte(fmt.Sprintf("# %s\n\n%s", rep.Title, rep.Markdown()))
	}
	if path == "" {
		if _, err := stdout.Write(body); err != nil {
			return fmt.Errorf("write %s report: %w", rep.Kind, err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s report to %s: %w", rep.Kind, path, err)
	}
	_, werr := tmp.Write(body)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s report to %s: %w", rep.Kind, path, werr)
	}
	return nil
}
