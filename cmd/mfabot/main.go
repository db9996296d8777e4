// Command mfabot is the ChatOps bot for Microsoft Entra ID MFA with two-person approval.
//
// Subcommands: serve, demo, doctor, summary, request, audit verify, audit export, config
// example, teams package, version. Run "mfabot help" for usage.
//
// It wires; it does not know the platforms: App builds the database, the Graph client, the
// approvals core, the dispatcher, the adapters and the Notifier from the configuration
// (cmd/mfabot/config) and serves them behind one hardened HTTP server; doctor
// (cmd/mfabot/doctor) runs the checks each package offers. Nothing else imports it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/cmd/mfabot/doctor"
)

// Set by the linker: -ldflags "-X main.version=1.2.3 -X main.commit=abc -X main.date=…".
var (
	version = "dev"
	commit  = ""
	date    = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}

// env is what a subcommand may touch of the process, so tests can run them in-process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// errUsage makes run print usage and exit 2.
var errUsage = errors.New("usage")

// exitError carries a specific exit code (doctor's blockers, audit verify's failure).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

const usage = `mfabot — manage Microsoft Entra ID MFA from Slack and Teams, with two-person approval.

Usage:
  mfabot demo [--addr 127.0.0.1:8080] [--db FILE]   the whole bot in a browser, no accounts needed
  mfabot serve --config mfabot.yaml                 run in production (Slack and/or Teams)
  mfabot doctor --config mfabot.yaml [--json]       check configuration, permissions and connections
  mfabot summary --config mfabot.yaml [--post]      build the enrollment summary (print, or post it)
  mfabot request reset --csv users.csv --as PRINCIPAL [--only TYPES] [--tap] [--reason TEXT] [--dry-run] --config mfabot.yaml
  mfabot request show R-7K2QXA [--failed --csv] --config mfabot.yaml
  mfabot audit verify --db FILE                     verify the hash chain of the audit log
  mfabot audit export --db FILE --format csv|jsonl [--since RFC3339]
  mfabot config example                             print a complete commented configuration
  mfabot teams package --app-id GUID --out mfabot-teams.zip
  mfabot version

Every setting can also come from the environment (see "mfabot config example").
`

func run(ctx context.Context, args []string, e env) int {
	err := dispatch(ctx, args, e)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		fmt.Fprint(e.stderr, usage)
		return 2
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(e.stderr, "mfabot: %v\n", err)
		return 1
	}
}

func dispatch(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, e)
	case "demo":
		return runDemo(ctx, rest, e.stdout, e.stderr)
	case "doctor":
		return runDoctor(ctx, rest, e, doctor.Options{})
	case "summary":
		return runSummary(ctx, rest, e)
	case "request":
		return runRequest(ctx, rest, e)
	case "audit":
		return runAudit(ctx, rest, e)
	case "config":
		if len(rest) == 1 && rest[0] == "example" {
			_, err := io.WriteString(e.stdout, config.Example())
			return err
		}
		return errUsage
	case "teams":
		return runTeams(ctx, rest, e)
	case "version", "--version":
		fmt.Fprintln(e.stdout, versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	fmt.Fprintf(e.stderr, "mfabot: unknown command %q\n", cmd)
	return errUsage
}

func versionString() string {
	v, c, d := version, commit, date
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && c == "":
				c = s.Value
			case s.Key == "vcs.time" && d == "":
				d = s.Value
			}
		}
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	if c == "" {
		c = "unknown"
	}
	if d == "" {
		d = "unknown"
	}
	return fmt.Sprintf("mfabot %s (commit %s, built %s)", v, c, d)
}

// newFlags returns a flag set that reports errors to stderr instead of exiting.
func newFlags(name string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}
