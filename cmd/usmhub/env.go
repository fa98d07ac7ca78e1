package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"
	"github.com/mattn/go-isatty"

	"github.com/usmhub/usmhub/core/app"
	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/ingest"
	"github.com/usmhub/usmhub/core/meter"
	"github.com/usmhub/usmhub/core/store"
	"github.com/usmhub/usmhub/plugins/host"
)

// env is what every command shares: output streams, the config and the
// store, both loaded on first use.
type env struct {
	stdout, stderr io.Writer
	configFlag     string

	cfg     *config.Config
	st      *store.SQLite
	conns   *host.Set
	log     hclog.Logger
	serving bool // the daemon logs at the config's level; commands only warn
	// hubSecrets makes config fail when the hub's tokens cannot be read
	// (serve and validate); other commands load without them.
	hubSecrets bool

	// isTerminal reports whether w is a terminal: progress is shown only
	// there. Tests replace it.
	isTerminal func(w io.Writer) bool
}

func newEnv(stdout, stderr io.Writer, configFlag string) *env {
	return &env{stdout: stdout, stderr: stderr, configFlag: configFlag, isTerminal: isTerminal}
}

// isTerminal reports whether w is a terminal device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// meter returns a progress meter on stderr when stderr is a terminal, else
// nil (which shows nothing).
func (e *env) meter(what string) *meter.Meter {
	if e.isTerminal == nil || !e.isTerminal(e.stderr) {
		return nil
	}
	return meter.New(e.stderr, what)
}

// configPath returns the config file to load: -config, else $USMHUB_CONFIG,
// else ./usmhub.hcl.
func (e *env) configPath() string {
	if e.configFlag != "" {
		return e.configFlag
	}
	if p := os.Getenv("USMHUB_CONFIG"); p != "" {
		return p
	}
	return "usmhub.hcl"
}

// config loads and checks the config once.
func (e *env) config() (*config.Config, error) {
	if e.cfg != nil {
		return e.cfg, nil
	}
	path := e.configPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("config %s does not exist: copy config.example.hcl to usmhub.hcl, or name a config with -config FILE or USMHUB_CONFIG", path)
	}
	// Only serve uses the hub's tokens; validate checks them.
	cfg, err := config.LoadWith(path, config.Options{WithoutHubSecrets: !e.hubSecrets})
	if err != nil {
		return nil, err
	}
	e.cfg = cfg
	return cfg, nil
}

// store opens the store of the config's data_dir once.
func (e *env) store(ctx context.Context) (*store.SQLite, error) {
	if e.st != nil {
		return e.st, nil
	}
	cfg, err := e.config()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabasePath())
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	e.st = st
	return st, nil
}

// open loads the config and opens its store, once each.
func (e *env) open(ctx context.Context) (*config.Config, *store.SQLite, error) {
	st, err := e.store(ctx)
	if err != nil {
		return nil, nil, err
	}
	return e.cfg, st, nil
}

// initiative loads the config and finds the initiative named ("" for the
// only one).
func (e *env) initiative(name string) (*config.Initiative, error) {
	cfg, err := e.config()
	if err != nil {
		return nil, err
	}
	return cfg.Initiative(name)
}

func (e *env) close() {
	if e.conns != nil {
		e.conns.Close()
	}
	if e.st != nil {
		_ = e.st.Close()
	}
}

// actor is who the audit log names for changes made from the CLI.
func (e *env) actor() store.Actor { return app.UserActor() }

// fail prints an error the way users read them best and returns exit 1.
// Config diagnostics and row errors already carry their own positions.
func (e *env) fail(err error) int {
	var de *config.DiagError
	if errors.As(err, &de) {
		fmt.Fprint(e.stderr, strings.TrimRight(de.Error(), "\n")+"\n")
		return exitError
	}
	fmt.Fprintf(e.stderr, "usmhub: %v\n", err)
	return exitError
}

// failRows prints why a file was not imported: every bad row (when err
// holds ingest.Errors), then summary (a format of the count of problems
// and the file); else the one error. It returns exit 1.
func (e *env) failRows(err error, file, summary string) int {
	var rowErrs ingest.Errors
	if !errors.As(err, &rowErrs) {
		return e.fail(err)
	}
	fmt.Fprintln(e.stderr, rowErrs.Error())
	fmt.Fprintf(e.stderr, "usmhub: "+summary+"\n", len(rowErrs), file)
	return exitError
}

// usageErr prints a usage problem and returns exit 2.
func (e *env) usageErr(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "usmhub %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fmt.Fprintf(e.stderr, "Run 'usmhub %s -h' for usage.\n", fs.Name())
	return exitUsage
}

// printJSON writes v as indented JSON.
func (e *env) printJSON(v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return e.fail(fmt.Errorf("write JSON: %w", err))
	}
	return exitOK
}

// table returns a tab writer for aligned columns on stdout, with the
// header row (tab-separated column names) unless it is empty; call Flush
// when done.
func (e *env) table(header string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if header != "" {
		fmt.Fprintln(tw, header)
	}
	return tw
}

// newFlags makes a command's flag set; usage errors print to stderr.
func (e *env) newFlags(name, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: usmhub %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and positional arguments in any order (usmhub vote
// R-12 -voter ann works as well as usmhub vote -voter ann R-12). It returns
// the positional arguments, or an exit code when parsing stopped: exitOK
// for -h, exitUsage for a bad flag.
func parse(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, "; ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// commaList is a comma-separated flag's values, each trimmed, empty ones
// left out.
func commaList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// given reports which flags were set on the command line.
func given(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}
