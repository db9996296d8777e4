package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/console"
	"github.com/mfabot/mfabot/bot/stepup"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/commands"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/graph/graphtest"
)

// Demo identities. The app registration exists only inside the simulated tenant.
const (
	demoClientID     = "d3m0d3m0-0000-4000-8000-000000000001"
	demoClientSecret = "demo-only-secret"
)

// demoPeople are who the console lets you act as. Ann and Ben are Entra users of the
// simulated tenant too (demoAccounts), linked by object id when the demo starts: a reset
// needs Ben's step-up sign-in as himself.
var demoPeople = []console.Person{
	{ID: "ann", Name: "Ann Admin", Role: "requester · approver"},
	{ID: "ben", Name: "Ben Approver", Role: "requester · approver"},
	{ID: "nina", Name: "Nina Newhire", Role: "not an admin"},
}

// demoAccounts are the Entra accounts of the console's admins, by person id.
var demoAccounts = map[string]string{"ann": "ann.admin@contoso.com", "ben": "ben.approver@contoso.com"}

// demo is a running demo: the simulated tenant, the app and the console.
type demo struct {
	URL     string
	DBPath  string
	Tenant  *graphtest.Tenant
	Graph   *graphtest.Server
	App     *App
	Console *console.Adapter
	srv     *http.Server
	ln      net.Listener
}

// runDemo runs the whole bot with no accounts: a simulated tenant, a SQLite file, the
// executor and summary, and the web console on 127.0.0.1, until ctx ends (Ctrl-C).
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", env{stdout: stdout, stderr: stderr})
	addr := fs.String("addr", "127.0.0.1:8080", "where the web console listens (loopback only)")
	dbPath := fs.String("db", "", "SQLite file (default: a new temporary folder); reuse it to keep the history")
	users := fs.Int("users", 3000, "users in the simulated tenant")
	seed := fs.Uint64("seed", 2026, "seed of the simulated tenant")
	verbose := fs.Bool("v", false, "log everything mfabot does")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	d, err := startDemo(ctx, demoOptions{Addr: *addr, DB: *dbPath, Users: *users, Seed: *seed, Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mfabot demo: open %s\n", d.URL)
	fmt.Fprintf(stdout, "  simulated tenant: %d users (try adele.vance@contoso.com, group \"All Staff\")\n", d.Tenant.UserCount())
	fmt.Fprintln(stdout, "  bulk: /mfa reset-bulk opens a form to paste users into (megan.bowen@contoso.com, alex.wilber@contoso.com, …);")
	fmt.Fprintln(stdout, "        tick Temporary Access Pass and the passes arrive in your direct messages")
	fmt.Fprintln(stdout, "  a campaign: /mfa summary \"Sales EMEA\", then its Nudge and Sign out buttons (mail goes to the simulated mailbox)")
	fmt.Fprintf(stdout, "  database: %s (run again with --db %s to keep the history)\n", d.DBPath, d.DBPath)
	fmt.Fprintln(stdout, "  step-up: approving a reset asks for a fresh sign-in with MFA on the simulated tenant's sign-in page")
	fmt.Fprintln(stdout, "  Ctrl-C stops it.")
	err = d.Wait(ctx)
	fmt.Fprintln(stdout, "mfabot demo: stopped; unfinished work resumes on the next start with the same --db")
	return err
}

type demoOptions struct {
	Addr   string
	DB     string
	Users  int
	Seed   uint64
	Logger *slog.Logger
}

// startDemo builds and starts the demo; Wait runs it until ctx ends.
func startDemo(ctx context.Context, o demoOptions) (_ *demo, err error) {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", o.Addr, err)
	}
	if !console.IsLoopbackHost(o.Addr) {
		return nil, fmt.Errorf("--addr %q: the demo console has no login, so it listens on loopback only (127.0.0.1, ::1 or localhost, not %s)", o.Addr, host)
	}
	d := &demo{}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	d.Tenant = graphtest.Generate(graphtest.GenOptions{Seed: o.Seed, Users: o.Users})
	// Passes work in the demo: the simulated tenant's Temporary Access Pass policy is on.
	d.Tenant.SetTAPPolicy(graphtest.EnabledTAPPolicy())
	people := slices.Clone(demoPeople)
	for i, p := range people {
		upn, ok := demoAccounts[p.ID]
		if !ok {
			continue
		}
		u, err := d.Tenant.AddUser(graphtest.User{UserPrincipalName: upn, DisplayName: p.Name, UserType: graphtest.Member,
			AccountEnabled: true, Admin: true, Department: "IT"})
		if err != nil {
			return nil, fmt.Errorf("demo account %s: %w", upn, err)
		}
		if _, err := d.Tenant.AddMethod(u.ID, graphtest.Method{Type: graphtest.MethodAuthenticator, DisplayName: "iPhone", DeviceTag: "SoftwareTokenActivated"}); err != nil {
			return nil, fmt.Errorf("demo account %s: %w", upn, err)
		}
		people[i].EntraID, people[i].Email = u.ID, upn
	}
	// The console's address is the public URL of the step-up sign-in, so it listens first.
	if d.ln, err = net.Listen("tcp", o.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w (try --addr 127.0.0.1:0)", o.Addr, err)
	}
	d.URL = "http://" + d.ln.Addr().String() + "/"
	publicURL := strings.TrimSuffix(d.URL, "/")
	if err := addDemoCampaign(d.Tenant); err != nil {
		return nil, err
	}
	d.Graph, err = graphtest.NewServer(d.Tenant, graphtest.Options{
		ClientID: demoClientID, ClientSecret: demoClientSecret, TenantID: d.Tenant.ID(),
		Latency: 15 * time.Millisecond, RedirectURIs: []string{publicURL + stepup.CallbackPath},
	})
	if err != nil {
		return nil, fmt.Errorf("start the simulated tenant: %w", err)
	}
	d.DBPath = o.DB
	if d.DBPath == "" {
		dir, err := os.MkdirTemp("", "mfabot-demo-")
		if err != nil {
			return nil, err
		}
		d.DBPath = filepath.Join(dir, "mfabot.db")
	}

	cfg, err := config.Load("", func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	cfg.DB = d.DBPath
	cfg.GraphURL = d.Graph.URL()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = d.Tenant.ID(), demoClientID, demoClientSecret
	cfg.AuthorityHost = d.Graph.AuthorityURL()
	cfg.Requesters = "console:ann,console:ben"
	cfg.Approvers = "console:ann,console:ben"
	cfg.ProtectedUsers = "breakglass@contoso.onmicrosoft.com"
	cfg.ProtectedGroups = "Emergency Access"
	cfg.EnforceEnabled = true
	cfg.TAPEnabled = true
	// A reset counts only after the approver's fresh sign-in with MFA, on the simulated
	// tenant's sign-in page.
	cfg.PublicURL, cfg.StepUp = publicURL, string(approvals.KindReset)
	cfg.SweepEvery = 10 * time.Second
	// Graph allows 20 writes/s; the simulated tenant is not throttled, so the demo goes five
	// times faster: revoking "All Staff" still shows its progress, for half a minute.
	cfg.GraphWriteRate = 100
	cfg.ShutdownGrace = 5 * time.Second
	// The campaign: nudges reach by mail whoever the console does not (everyone but its
	// three people), from the helpdesk's mailbox; the scanner's service account is left
	// out of "missing".
	cfg.NotifyMailFrom = demoMailbox
	cfg.SummaryExclude = demoServiceAccount

	cred, err := graph.NewCredential(graph.CredentialOptions{
		TenantID: cfg.TenantID, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		AuthorityHost: cfg.AuthorityHost, HTTPClient: d.Graph.HTTPClient(),
	})
	if err != nil {
		return nil, fmt.Errorf("demo credential: %w", err)
	}
	deps := appDeps{
		Credential:      cred,
		GraphHTTPClient: d.Graph.HTTPClient(),
		// The simulated mailbox sends 30 messages a second, not a minute: a nudge of a
		// department by mail ends while you watch.
		MailLimit: 30, MailWindow: time.Second,
		Platforms: func(disp *commands.Dispatcher) ([]bot.Platform, error) {
			d.Console, err = console.New(console.Config{
				People: people, Title: "mfabot demo", Logger: o.Logger.With(approvals.LogComponent, "console"),
				History: func(ctx context.Context) ([]bot.Message, error) { return d.history(ctx) },
			}, disp)
			if err != nil {
				return nil, err
			}
			return []bot.Platform{d.Console}, nil
		},
	}
	if d.App, err = NewApp(ctx, cfg, o.Logger, func(string) string { return "" }, deps); err != nil {
		return nil, err
	}
	if err := d.Console.LoadHistory(ctx); err != nil {
		o.Logger.Warn("load history", approvals.LogErr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", d.Console.Handler())
	mux.Handle("/stepup/", d.App.Handler())
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := d.srv.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Error("console server", approvals.LogErr, err)
		}
	}()
	return d, nil
}

// history is the cards of the recent requests, oldest first, for a restarted demo.
func (d *demo) history(ctx context.Context) ([]bot.Message, error) {
	rs, err := d.App.DB.Requests(ctx, approvals.RequestFilter{Limit: 50})
	if err != nil {
		return nil, err
	}
	out := make([]bot.Message, 0, len(rs))
	for i := len(rs) - 1; i >= 0; i-- {
		out = append(out, d.App.renderCard(ctx, rs[i]))
	}
	return out, nil
}

// Wait runs the app (executor, sweeper, summary) until ctx ends, then shuts down.
func (d *demo) Wait(ctx context.Context) error {
	err := d.App.Run(ctx, nil, true)
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.Console.Close()
	_ = d.srv.Shutdown(shutdown)
	d.close()
	return err
}

func (d *demo) close() {
	if d.srv == nil && d.ln != nil {
		_ = d.ln.Close() // listening, never served: startDemo failed after Listen
	}
	if d.App != nil {
		_ = d.App.Close()
	}
	if d.Graph != nil {
		_ = d.Graph.Close()
	}
}

// The demo campaign's mailbox and excluded service account.
const (
	demoMailbox        = "it-helpdesk@contoso.com"
	demoServiceAccount = "svc-scanner@contoso.com"
)

// addDemoCampaign adds what the demo's campaign needs to the simulated tenant: the
// helpdesk's mailbox nudges are mailed from (with Mail.Send granted), and a scanner's
// service account in Sales EMEA that cannot register and is excluded from "missing".
func addDemoCampaign(tn *graphtest.Tenant) error {
	tn.SetGranted(append(graphtest.DefaultGranted(), "Mail.Send"))
	if _, err := tn.AddUser(graphtest.User{UserPrincipalName: demoMailbox, Mail: demoMailbox, DisplayName: "IT Helpdesk", AccountEnabled: true}); err != nil {
		return fmt.Errorf("demo mailbox: %w", err)
	}
	svc, err := tn.AddUser(graphtest.User{UserPrincipalName: demoServiceAccount, DisplayName: "Scanner (service account)", AccountEnabled: true})
	if err != nil {
		return fmt.Errorf("demo service account: %w", err)
	}
	for _, g := range tn.Groups() {
		if g.DisplayName == graphtest.GroupSalesEMEA {
			if err := tn.AddMember(g.ID, svc.ID); err != nil {
				return fmt.Errorf("demo service account: %w", err)
			}
		}
	}
	return nil
}
