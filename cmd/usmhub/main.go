// Command usmhub is the USM improvement hub: the CLI and daemon that keep an
// organisation's improvement programme — risks, sprints, scans, votes — in
// one canonical store and in sync with the tools where the work happens.
//
// It only parses and prints: each subcommand is one function (a leaf,
// registered with its synopsis in commands) that parses its flags and
// arguments, calls one use case of core — core/app, core/register,
// core/inventory and the domain packages hold the rules — and prints the
// outcome as text or -json. Global flags come before the subcommand. Exit
// codes: 0 ok, 1 error, 2 usage (and, for plan, changes pending).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/hashicorp/go-plugin"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one subcommand.
type command interface {
	// Synopsis is the one-line description shown in the command list.
	Synopsis() string
	// Run runs the command with its arguments (after its name) and returns
	// the exit code.
	Run(ctx context.Context, env *env, args []string) int
}

// leaf is a command that is one function: it parses its flags, calls
// core, prints and returns the exit code.
type leaf struct {
	synopsis string
	run      func(ctx context.Context, e *env, args []string) int
}

func (l leaf) Synopsis() string { return l.synopsis }

func (l leaf) Run(ctx context.Context, e *env, args []string) int { return l.run(ctx, e, args) }

// commands maps each subcommand's name to its factory.
func commands() map[string]command {
	return map[string]command{
		"backup":    leaf{"Copy the store to a new file while the hub runs (SQLite online backup)", runBackup},
		"validate":  leaf{"Load and check the config without doing anything else", runValidate},
		"risk":      group{name: "risk", synopsis: "Manage the risk database (add, list, show, update, import, export)", subs: riskCommands()},
		"vote":      leaf{"Cast or retract a sounding-board vote on a risk", runVote},
		"item":      group{name: "item", synopsis: "The configuration items of the BIR (list, show, import, export)", subs: itemCommands()},
		"sprint":    group{name: "sprint", synopsis: "Plan, list, show, start and close improvement sprints", subs: sprintCommands()},
		"scan":      group{name: "scan", synopsis: "Import, list and compare baseline and progress scans", subs: scanCommands()},
		"readiness": leaf{"Check the ten preconditions of an improvement initiative", runReadiness},
		"log":       leaf{"Show the audit trail of changes", runLog},
		"version":   leaf{"Print the version", runVersion},
		"report":    leaf{"Build a sprint, scan, register or readiness report; print or publish it", runReport},
		"plan":      leaf{"Show what a sync would change, field by field (exit 0 nothing, 2 changes or something waiting for a person, 1 error)", runPlan},
		"serve":     leaf{"Run the hub daemon: syncs and reports on their schedules, HTTP health, metrics and triggers", runServe},
		"status":    leaf{"Show each sync's health: last success, failures, pause, links and quarantined records", runStatus},
		"sync":      leaf{"Sync the hub with its tools now (all syncs, or the named ones)", runSync},
		"plugins":   group{name: "plugins", synopsis: "List connector plugins and describe their config", subs: pluginsCommands()},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses the global flags and dispatches to a subcommand.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("usmhub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the config file (default $USMHUB_CONFIG, else ./usmhub.hcl)")
	fs.Usage = func() { usage(stderr) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		usage(stderr)
		return exitUsage
	}
	if rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		usage(stdout)
		return exitOK
	}
	cmd, ok := commands()[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "usmhub: unknown command %q\n\n", rest[0])
		usage(stderr)
		return exitUsage
	}
	e := newEnv(stdout, stderr, *configPath)
	defer e.close()
	defer plugin.CleanupClients()
	return cmd.Run(ctx, e, rest[1:])
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: usmhub [-config FILE] COMMAND [ARGS]\n\nCommands:\n")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].Synopsis())
	}
	fmt.Fprintf(w, "\nRun 'usmhub COMMAND -h' for a command's flags.\n")
}

// group is a command made of subcommands (risk add, risk list, …).
type group struct {
	name, synopsis string
	subs           map[string]command
}

func (g group) Synopsis() string { return g.synopsis }

func (g group) Run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		w := e.stderr
		if len(args) > 0 {
			w = e.stdout
		}
		fmt.Fprintf(w, "Usage: usmhub %s SUBCOMMAND [FLAGS]\n\nSubcommands:\n", g.name)
		names := make([]string, 0, len(g.subs))
		for n := range g.subs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %-8s %s\n", n, g.subs[n].Synopsis())
		}
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub, ok := g.subs[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "usmhub %s: unknown subcommand %q (one of %s)\n", g.name, args[0], strings.Join(keys(g.subs), ", "))
		return exitUsage
	}
	return sub.Run(ctx, e, args[1:])
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func runVersion(_ context.Context, e *env, args []string) int {
	fs := e.newFlags("version", "version [-json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if *asJSON {
		return e.printJSON(struct {
			Version string `json:"version"`
		}{version})
	}
	fmt.Fprintf(e.stdout, "usmhub %s\n", version)
	return exitOK
}
