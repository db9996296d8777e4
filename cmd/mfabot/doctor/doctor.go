package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/stepup"
	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/storage"
)

// Statuses of a check.
const (
	StatusOK   = "ok"
	StatusWarn = "warn" // mfabot works, with less or with more privilege than it needs
	StatusFail = "fail" // mfabot cannot work as configured: doctor exits 1
)

// CheckConfig is the name of the configuration check; the other checks are named by
// their packages (storage.CheckDatabase, graph.CheckToken, …). Names are part of the
// --json contract (docs/deployment.md): automation may match on them.
const CheckConfig = "config"

// Check is one line of the report. With --json it is printed as
// {"name","status","message","fix"}; fix is "" when there is nothing to do.
type Check struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// Report is what doctor --json prints: OK is false when any check failed.
type Report struct {
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

// Options let tests point doctor at fakes.
type Options struct {
	// HTTPClient carries every outbound call: token authorities, Graph, Slack and the Bot
	// Framework (tests pass one that trusts the fake authorities). nil: the defaults.
	HTTPClient *http.Client
}

// findings collects the checks' outcomes; every checked package's Reporter is this one.
type findings struct{ checks []Check }

var (
	_ storage.Reporter = (*findings)(nil)
	_ graph.Reporter   = (*findings)(nil)
	_ slack.Reporter   = (*findings)(nil)
	_ teams.Reporter   = (*findings)(nil)
	_ stepup.Reporter  = (*findings)(nil)
)

func (f *findings) OK(check, msg, fix string)   { f.add(check, StatusOK, msg, fix) }
func (f *findings) Warn(check, msg, fix string) { f.add(check, StatusWarn, msg, fix) }
func (f *findings) Fail(check, msg, fix string) { f.add(check, StatusFail, msg, fix) }

func (f *findings) add(name, status, msg, fix string) {
	f.checks = append(f.checks, Check{Name: name, Status: status, Message: msg, Fix: fix})
}

// Run checks the configuration at configPath (and the environment getenv reads), the
// database, Graph (token, permissions, licence, pinned groups), Slack and Teams. Checks
// after the configuration run on an invalid one too, each checking what it can.
func Run(ctx context.Context, configPath string, getenv func(string) string, o Options) Report {
	f := &findings{}
	cfg := checkConfig(f, configPath, getenv)
	if cfg != nil {
		db := storage.Check(ctx, cfg.DB, f)
		if db != nil {
			defer db.Close()
		}
		run(ctx, cfg, getenv, o, db, f)
	}
	return f.report(secrets(cfg, getenv))
}

// run runs the checks after the database's; db is nil unless its schema is current.
func run(ctx context.Context, cfg *config.Config, getenv func(string) string, o Options, db *storage.DB, f *findings) {
	gc := graph.CheckConfig{Credential: cfg.CredentialOptions(getenv), BaseURL: cfg.GraphURL,
		Enforce: cfg.EnforceEnabled, MailFrom: cfg.NotifyMailFrom, HTTPClient: o.HTTPClient,
		TAP: cfg.TAPEnabled, TAPLifetime: cfg.TAPLifetime, TAPOneTime: cfg.TAPOneTime}
	pol, err := cfg.Policy()
	if err == nil {
		gc.Policy = &pol // an invalid policy is the configuration check's to report
	}
	stepUp := err == nil && len(pol.StepUp.Kinds) > 0 && cfg.PublicURL != ""
	if stepUp {
		gc.StepUpRedirectURI = strings.TrimRight(cfg.PublicURL, "/") + stepup.CallbackPath
	}
	graph.Check(ctx, gc, f)
	if stepUp {
		sc := cfg.StepUpConfig(getenv)
		sc.HTTPClient = o.HTTPClient
		stepup.Check(ctx, sc, f)
	}
	if cfg.SlackEnabled() {
		sc := cfg.SlackConfig()
		sc.HTTPClient = o.HTTPClient
		slack.Check(ctx, sc, f)
	}
	if cfg.TeamsEnabled() {
		tc := cfg.TeamsConfig()
		tc.HTTPClient = o.HTTPClient
		to := teams.CheckOptions{ExplainTokenError: graph.ExplainTokenError}
		if db != nil {
			to.Store = db
		}
		teams.Check(ctx, tc, to, f)
	}
}

// configLine is one line of config.Validate: "key (ENV): problem".
var configLine = regexp.MustCompile(`^([a-z_.]+) \(([A-Z0-9_]+)\): `)

// checkConfig loads and validates the configuration; nil when it cannot be loaded at all.
func checkConfig(f *findings, path string, getenv func(string) string) *config.Config {
	cfg, err := config.Load(path, getenv)
	if err != nil {
		f.Fail(CheckConfig, err.Error(), "correct the file or variable named; `mfabot config example` describes every key")
		return nil
	}
	if err := cfg.Validate(); err != nil {
		secret := map[string]bool{}
		for _, s := range config.Settings() {
			secret[s.Env] = s.Secret
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			fix := "`mfabot config example` describes every key"
			if m := configLine.FindStringSubmatch(line); m != nil {
				if secret[m[2]] {
					fix = fmt.Sprintf("set %s, or %s_FILE to a file holding it (secrets never go in the YAML file)", m[2], m[2])
				} else {
					fix = fmt.Sprintf("set %s in the configuration file or %s in the environment", m[1], m[2])
				}
			}
			f.Fail(CheckConfig, line, fix)
		}
		return cfg
	}
	var platforms []string
	if cfg.SlackEnabled() {
		mode := "HTTP"
		if cfg.SlackAppToken != "" {
			mode = "Socket Mode"
		}
		platforms = append(platforms, "Slack ("+mode+")")
	}
	if cfg.TeamsEnabled() {
		platforms = append(platforms, "Teams")
	}
	from := "the environment"
	if path != "" {
		from = path + " and the environment"
	}
	f.OK(CheckConfig, fmt.Sprintf("every setting is valid (from %s); platforms: %s", from, strings.Join(platforms, ", ")), "")
	return cfg
}

// secrets are every configured secret: from the environment (also when the
// configuration does not load) and from the configuration (which may read them from
// files).
func secrets(cfg *config.Config, getenv func(string) string) []string {
	var out []string
	for _, s := range config.Settings() {
		if s.Secret {
			out = append(out, getenv(s.Env))
		}
	}
	out = append(out, getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD"), storage.URLPassword(getenv("MFABOT_DB")))
	if cfg != nil {
		out = append(out, cfg.Secrets()...)
	}
	return out
}

// report returns the findings with every secret blanked out. No check prints one on
// purpose; this also covers an upstream error message that echoes what it was sent.
func (f *findings) report(secrets []string) Report {
	r := Report{OK: true, Checks: []Check{}}
	for _, c := range f.checks {
		for _, s := range secrets {
			if len(s) >= 4 {
				c.Message = strings.ReplaceAll(c.Message, s, "[redacted]")
				c.Fix = strings.ReplaceAll(c.Fix, s, "[redacted]")
			}
		}
		if c.Status == StatusFail {
			r.OK = false
		}
		r.Checks = append(r.Checks, c)
	}
	return r
}

// Print writes one aligned line per check, with the fix indented under it, and a
// summary line.
func (r Report) Print(w io.Writer) {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	mark := map[string]string{StatusOK: "ok", StatusWarn: "WARN", StatusFail: "FAIL"}
	var fails, warns int
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", mark[c.Status], width, c.Name, c.Message)
		if c.Fix != "" {
			fmt.Fprintf(w, "%s  fix: %s\n", strings.Repeat(" ", 4+2+width), c.Fix)
		}
		switch c.Status {
		case StatusFail:
			fails++
		case StatusWarn:
			warns++
		}
	}
	fmt.Fprintln(w)
	switch {
	case fails > 0:
		fmt.Fprintf(w, "%s (FAIL) to fix before mfabot can serve; %s.\n", plural(fails, "problem"), plural(warns, "warning"))
	case warns > 0:
		fmt.Fprintf(w, "mfabot can serve; %s above.\n", plural(warns, "warning"))
	default:
		fmt.Fprintln(w, "mfabot is ready to serve.")
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
