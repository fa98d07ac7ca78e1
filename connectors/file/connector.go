package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// version is the connector's version, set at build time with
// -ldflags "-X main.version=…".
var version = "0.1.0"

// batchSize is how many records a pull sends per batch.
const batchSize = 500

// Connector is the file connector. Its zero value is unconfigured; New
// returns one for sdk.Serve. It is safe for concurrent use.
type Connector struct {
	mu  sync.RWMutex
	cfg *config // nil until Configure succeeds
}

// New returns an unconfigured file connector.
func New() sdk.Connector { return &Connector{} }

// config is the decoded, checked config block.
type config struct {
	Dir        string `json:"dir"`
	Format     string `json:"format"`
	RisksFile  string `json:"risks_file"`
	VotesFile  string `json:"votes_file"`
	ScansFile  string `json:"scans_file"`
	ReportsDir string `json:"reports_dir"`
}

// path resolves a file name of the config against the data folder.
func (c *config) path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(c.Dir, name)
}

// root is the folder a write of the configured name may not leave through
// a symbolic link: the data folder, or for an absolute name the folder the
// administrator named.
func (c *config) root(name string) string {
	if filepath.IsAbs(name) {
		return filepath.Dir(name)
	}
	return c.Dir
}

// Describe says what the file connector is and does.
func (c *Connector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "file",
		Version: version,
		Capabilities: []sdk.Capability{
			{Kind: sdk.KindRisk, Pull: true, Push: true, Delete: true},
			{Kind: sdk.KindVote, Pull: true},
			{Kind: sdk.KindScan, Pull: true},
		},
		PublishesReports: true,
		ReadsVotes:       true,
		Schema: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "dir", Type: sdk.TypeString, Required: true,
				Description: "The folder holding the data files: an absolute path, or one relative to the connector's working directory, which the hub sets to its config file's folder."},
			{Name: "format", Type: sdk.TypeString,
				Description: `The format of the data files: "csv" (the default), "json" or "xlsx" (an Excel workbook). A file whose name ends in .xlsx is a workbook whatever the format.`},
			{Name: "risks_file", Type: sdk.TypeString,
				Description: "The risks file, relative to dir: risks.csv, risks.json or risks.xlsx by default. The connector reads and writes it; a name ending in .xlsx is an Excel workbook (its risks sheet)."},
			{Name: "votes_file", Type: sdk.TypeString,
				Description: "The votes file (columns risk, voter, weight, cast_at), relative to dir: votes.csv or votes.json by default. Read only."},
			{Name: "scans_file", Type: sdk.TypeString,
				Description: "The scans file (columns kind, method, method_version, date, dimension, score, respondents, note), relative to dir: scans.csv or scans.json by default. Read only."},
			{Name: "reports_dir", Type: sdk.TypeString,
				Description: `The folder published reports are written to as <key>.md, relative to dir: "reports" by default.`},
		}},
	}, nil
}

// Configure checks the config block; it does not touch the folder (Check
// does).
func (c *Connector) Configure(_ context.Context, raw sdk.Config) error {
	var cfg config
	if err := raw.Decode(&cfg); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return problem(te.Field, "must be a string", fmt.Sprintf("Give %s a quoted value.", te.Field))
		}
		return fmt.Errorf("decode config: %w", err)
	}
	var problems []sdk.AttributeProblem
	add := func(attr, summary, detail string) {
		problems = append(problems, sdk.AttributeProblem{Attribute: attr, Summary: summary, Detail: detail})
	}

	cfg.Dir = strings.TrimSpace(cfg.Dir)
	if cfg.Dir == "" {
		add("dir", "a folder is required", `Set dir to the folder that holds the data files, e.g. dir = "/srv/usm/data".`)
	} else if abs, err := filepath.Abs(cfg.Dir); err != nil {
		add("dir", "cannot resolve the folder", err.Error())
	} else {
		cfg.Dir = abs
	}

	cfg.Format = strings.ToLower(strings.TrimSpace(cfg.Format))
	switch cfg.Format {
	case "":
		cfg.Format = formatCSV
	case formatCSV, formatJSON, formatXLSX:
	default:
		add("format", fmt.Sprintf("unknown format %q", cfg.Format), `Use "csv", "json" or "xlsx".`)
	}

	files := []struct {
		attr  string
		value *string
		base  string
	}{{"risks_file", &cfg.RisksFile, "risks"}, {"votes_file", &cfg.VotesFile, "votes"}, {"scans_file", &cfg.ScansFile, "scans"}}
	seen := map[string]string{}
	for _, f := range files {
		*f.value = strings.TrimSpace(*f.value)
		if *f.value == "" {
			*f.value = f.base + "." + cfg.Format
		}
		if strings.HasSuffix(*f.value, "/") || strings.HasSuffix(*f.value, string(filepath.Separator)) {
			add(f.attr, "must name a file, not a folder", fmt.Sprintf("E.g. %s = %q.", f.attr, f.base+"."+cfg.Format))
			continue
		}
		if other, dup := seen[filepath.Clean(*f.value)]; dup {
			add(f.attr, fmt.Sprintf("is the same file as %s", other), "Each kind needs a file of its own.")
		}
		seen[filepath.Clean(*f.value)] = f.attr
	}
	cfg.ReportsDir = strings.TrimSpace(cfg.ReportsDir)
	if cfg.ReportsDir == "" {
		cfg.ReportsDir = "reports"
	}

	if len(problems) > 0 {
		return &sdk.ConfigError{Problems: problems}
	}
	c.mu.Lock()
	c.cfg = &cfg
	c.mu.Unlock()
	return nil
}

// problem is a config error on one attribute.
func problem(attr, summary, detail string) *sdk.ConfigError {
	return &sdk.ConfigError{Problems: []sdk.AttributeProblem{{Attribute: attr, Summary: summary, Detail: detail}}}
}

// config returns the config, or an error before Configure.
func (c *Connector) config() (*config, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cfg == nil {
		return nil, sdk.Errorf(sdk.ClassPermanent, "the file connector is not configured: Configure comes first")
	}
	return c.cfg, nil
}

// Check makes sure the folder exists and can be written, that the data
// files present can be read (their header, not every row), and that a data
// file or reports folder not there yet has its folder (see source.go).
func (c *Connector) Check(context.Context) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	fi, err := os.Stat(cfg.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return problem("dir", fmt.Sprintf("folder %s does not exist", cfg.Dir),
			"Check that dir names the folder that holds the data files (a typo?) and that its disk or share is mounted; the connector does not create it.")
	case err != nil:
		return problem("dir", fmt.Sprintf("cannot open folder %s", cfg.Dir), err.Error())
	case !fi.IsDir():
		return problem("dir", fmt.Sprintf("%s is not a folder", cfg.Dir), "Point dir at the folder that holds the data files.")
	}
	probe, err := createTemp(cfg.Dir, ".usmhub-check-", 0o600)
	if err != nil {
		return problem("dir", fmt.Sprintf("cannot write in folder %s", cfg.Dir), err.Error())
	}
	probe.Close()
	os.Remove(probe.Name())

	for _, name := range []string{cfg.RisksFile, cfg.VotesFile, cfg.ScansFile} {
		_, _, f, err := openTable(cfg.path(name), cfg.Format)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		f.Close()
	}
	if err := absent(cfg.path(cfg.ReportsDir)); err != nil {
		return fmt.Errorf("check reports_dir: %w", err)
	}
	return nil
}
