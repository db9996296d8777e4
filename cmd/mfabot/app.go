package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/stepup"
	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/commands"
	"github.com/mfabot/mfabot/commands/summary"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/storage"
)

// App is mfabot wired together: the database, the Graph client, the approvals core, the
// chat platforms and the background jobs. serve and demo both build one, so the demo
// takes no path around approvals or the executor that production does not take.
type App struct {
	cfg   *config.Config
	log   *slog.Logger
	clock approvals.Clock

	DB         *storage.DB
	Graph      *graph.Client
	Service    *approvals.Service
	Executor   *approvals.Executor
	Dispatcher *commands.Dispatcher
	Notifier   *bot.Notifier
	Summary    *summary.Job
	Slack      *slack.Adapter
	Teams      *teams.Adapter
	StepUp     *stepup.Flow // nil unless policy.step_up names kinds
	Metrics    *metrics

	platforms []bot.Platform
	mux       *http.ServeMux
}

// appDeps are what a caller may supply instead of the configuration: the demo and tests
// point the Graph client at the simulator and add the console platform.
type appDeps struct {
	Credential      azcore.TokenCredential // default: graph.NewCredential from the config
	GraphHTTPClient *http.Client
	Clock           approvals.Clock
	// Platforms builds extra platforms (the console) once the dispatcher exists.
	Platforms func(d *commands.Dispatcher) ([]bot.Platform, error)
	// TeamsCredential replaces the Bot Framework client-secret credential (a test
	// authority); TeamsHTTPClient carries the adapter's outbound calls.
	TeamsCredential azcore.TokenCredential
	TeamsHTTPClient *http.Client
	// ReportLimit/ReportWindow override the registration report pacing (the demo's
	// simulator is not throttled).
	ReportLimit  int
	ReportWindow time.Duration
	// SlackDirect overrides the pace of bulk Slack direct messages (benchmarks scale
	// Slack's documented limits).
	SlackDirect slack.DirectLimits
	// MailLimit/MailWindow override the pace of mail from one mailbox (the demo's
	// simulated mailbox is not held to Exchange's 30 a minute).
	MailLimit  int
	MailWindow time.Duration
}

// NewApp builds the application from a validated configuration. Nothing runs until Run.
func NewApp(ctx context.Context, cfg *config.Config, log *slog.Logger, getenv func(string) string, deps appDeps) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, mux: http.NewServeMux()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	clock := deps.Clock
	if clock == nil {
		clock = approvals.SystemClock{}
	}
	a.clock = clock
	a.Metrics = newMetrics()

	if a.DB, err = storage.Open(ctx, cfg.DB, storage.WithClock(clock)); err != nil {
		return nil, fmt.Errorf("open database %s: %w", storage.Redact(cfg.DB), err)
	}
	owner := executorOwner()
	log.Info("database open", "engine", a.DB.Engine(), "database", a.DB.Path(), "executor", owner)

	cred := deps.Credential
	if cred == nil {
		o := cfg.CredentialOptions(getenv)
		o.HTTPClient = deps.GraphHTTPClient
		if cred, err = graph.NewCredential(o); err != nil {
			return nil, fmt.Errorf("graph credential: %w", err)
		}
	}
	a.Graph, err = graph.New(graph.Config{
		TenantID: cfg.TenantID, ClientID: cfg.ClientID, Credential: cred, BaseURL: cfg.GraphURL,
		HTTPClient: deps.GraphHTTPClient, Logger: log.With(approvals.LogComponent, "graph"),
		WriteRate: cfg.GraphWriteRate, Concurrency: cfg.GraphConcurrency,
		ReportLimit: deps.ReportLimit, ReportWindow: deps.ReportWindow,
		MailLimit: deps.MailLimit, MailWindow: deps.MailWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("graph client: %w", err)
	}
	a.Metrics.watchGraph(a.Graph)

	policy, err := cfg.Policy()
	if err != nil {
		return nil, err
	}
	if deps.Platforms != nil && (cfg.SlackEnabled() || cfg.TeamsEnabled()) {
		policy.RequireLink = true
	}
	// Group principals and protected groups are pinned to object ids now; a group created
	// later with a look-alike name or alias changes nothing until the next start.
	if policy, err = approvals.PinPolicy(ctx, a.Graph, policy); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	for _, g := range policy.Pinned {
		log.Info("pinned group", "use", g.Use, "ref", g.Ref, "id", g.ID, "name", g.Name)
	}
	a.Service = approvals.NewService(a.DB, a.Graph, policy, approvals.ServiceOptions{Clock: clock, Logger: log.With(approvals.LogComponent, "approvals"),
		Report: a.Graph})
	a.Executor = approvals.NewExecutor(a.DB, a.Graph, policy, approvals.ExecutorOptions{
		Owner: owner, Concurrency: cfg.ExecConcurrency, Lease: cfg.ExecLease, Clock: clock, Logger: log.With(approvals.LogComponent, "executor"),
		Report: a.Graph,
	})
	a.Service.SetWake(a.Executor.Wake)

	loc, err := time.LoadLocation(cfg.SummaryTimezone)
	if err != nil {
		return nil, fmt.Errorf("summary.timezone: %w", err)
	}
	a.Summary = &summary.Job{
		Source: a.Graph, Store: a.DB,
		Schedule: summary.Schedule{At: cfg.SummaryAt, Location: loc, WeekdaysOnly: cfg.SummaryWeekdaysOnly},
		Clock:    clock, Logger: log.With(approvals.LogComponent, "summary"),
		Groups: a.Graph, Exclude: policy.Exclude, Actions: commands.SummaryButtons,
	}

	a.StepUp, err = newStepUp(cfg, getenv, policy, a.DB, a.Graph, deps.GraphHTTPClient, clock, log.With(approvals.LogComponent, "stepup"))
	if err != nil {
		return nil, err
	}
	var links commands.StepUp // a nil *stepup.Flow must stay a nil interface
	if a.StepUp != nil {
		links = a.StepUp
	}
	a.Dispatcher = commands.NewDispatcher(commands.Options{
		Service: a.Service, Status: a.Graph, Summary: summaryPoster{a}, Clock: clock, Logger: log.With(approvals.LogComponent, "commands"),
		StepUp: links,
	})
	if a.StepUp != nil {
		a.mux.Handle("/stepup/", a.StepUp.Handler(a.Dispatcher))
	}

	if cfg.SlackEnabled() {
		sc := cfg.SlackConfig()
		sc.Logger, sc.Clock, sc.OnReject = log.With(approvals.LogComponent, "slack"), clock, a.Metrics.rejecter(slack.PlatformName)
		sc.Direct = deps.SlackDirect
		a.Slack, err = slack.New(sc, a.Dispatcher, a.Graph)
		if err != nil {
			return nil, fmt.Errorf("slack: %w", err)
		}
		a.platforms = append(a.platforms, a.Slack)
		a.mux.Handle("/slack/", a.Slack.Handler())
	}
	if cfg.TeamsEnabled() {
		tc := cfg.TeamsConfig()
		tc.Logger, tc.Clock, tc.OnReject = log.With(approvals.LogComponent, "teams"), clock, a.Metrics.rejecter(teams.PlatformName)
		tc.Credential, tc.HTTPClient = deps.TeamsCredential, deps.TeamsHTTPClient
		a.Teams, err = teams.New(tc, a.Dispatcher, a.DB)
		if err != nil {
			return nil, fmt.Errorf("teams: %w", err)
		}
		a.platforms = append(a.platforms, a.Teams)
		a.mux.Handle("POST /api/messages", a.Teams.Handler())
	}
	if deps.Platforms != nil {
		extra, err := deps.Platforms(a.Dispatcher)
		if err != nil {
			return nil, err
		}
		a.platforms = append(a.platforms, extra...)
	}
	var counted []bot.Platform
	for _, p := range a.platforms {
		a.Summary.Platforms = append(a.Summary.Platforms, a.Metrics.summaryPlatform(p))
		counted = append(counted, a.Metrics.platform(p))
	}

	courier := a.courier()
	a.Executor.SetMessenger(courier)
	a.Notifier = bot.NewNotifier(a.DB, counted, a.Dispatcher, bot.NotifierOptions{Logger: log.With(approvals.LogComponent, "notifier"), Courier: courier})
	observed := a.Metrics.notifier(a.Notifier)
	a.Service.SetNotifier(observed)
	a.Executor.SetNotifier(observed)
	a.Executor.SetPasses(bot.NewPasses(a.platforms, a.Dispatcher, 0, log.With(approvals.LogComponent, "passes")))

	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	a.mux.HandleFunc("GET /readyz", a.ready)
	a.mux.Handle("GET /metrics", a.Metrics.handler())
	return a, nil
}

// renderCard is the card of a request as it stands.
func (a *App) renderCard(ctx context.Context, r *approvals.Request) bot.Message {
	return a.Dispatcher.Card(ctx, r)
}

// summaryPoster lets /mfa summary post through the same job as the daily post.
type summaryPoster struct{ a *App }

func (s summaryPoster) Post(ctx context.Context) error { return s.a.Summary.PostNow(ctx) }

// ready answers 200 when the database answers and every platform is connected.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var problems []string
	if err := a.DB.Ping(ctx); err != nil {
		problems = append(problems, "database: "+err.Error())
	}
	for _, p := range a.platforms {
		if c, ok := p.(interface{ Ready() error }); ok {
			if err := c.Ready(); err != nil {
				problems = append(problems, p.Name()+": "+err.Error())
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, p := range problems {
			fmt.Fprintln(w, p)
		}
		return
	}
	fmt.Fprintln(w, "ready")
}

// Handler is the HTTP surface: Slack endpoints, Teams /api/messages, the step-up sign-in
// under /stepup/, health and metrics.
func (a *App) Handler() http.Handler { return a.Metrics.instrument(a.mux) }

// Run starts the background work (executor, sweeper, summary schedule, Socket Mode) and,
// when ln is not nil, the HTTP server, and blocks until ctx ends. Then it stops taking
// new work, gives in-flight Graph calls cfg.ShutdownGrace to finish (whatever does not
// finish stays resumable) and returns.
func (a *App) Run(ctx context.Context, ln net.Listener, withSummary bool) error {
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()

	if a.Slack != nil {
		if err := a.Slack.Connect(ctx); err != nil {
			return fmt.Errorf("slack: %w", err)
		}
		if err := a.checkSlackLinks(ctx); err != nil {
			return err
		}
		if a.cfg.SlackAppToken != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := a.Slack.RunSocketMode(ctx); err != nil && ctx.Err() == nil {
					errc <- fmt.Errorf("slack socket mode: %w", err)
				}
			}()
		}
	}
	wg.Add(2)
	go func() { defer wg.Done(); _ = a.Executor.Run(work) }()
	go func() { defer wg.Done(); a.Service.RunSweeper(ctx, a.cfg.SweepEvery) }()
	if withSummary {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Summary.Run(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("summary schedule", approvals.LogErr, err)
			}
		}()
	}

	var srv *http.Server
	if ln != nil {
		srv = newHTTPServer(a.Handler(), a.log, withShedCounter(a.Metrics.reject))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	if srv != nil {
		_ = srv.Shutdown(shutdown)
	}
	// In-flight Graph calls are cancelled; their items stay pending and the executor
	// releases its lease, so the next start resumes at once from the first unfinished item.
	stopWork()
	wg.Wait()
	if a.Slack != nil {
		_ = a.Slack.Close(shutdown)
	}
	if a.Notifier != nil {
		_ = a.Notifier.Close(shutdown)
	}
	if a.Teams != nil {
		_ = a.Teams.Close(shutdown)
	}
	return runErr
}

// checkSlackLinks refuses to start when the policy needs links and a slack: principal is
// not linked to an Entra user (explicitly or by its profile e-mail), or its link cannot be
// looked up: such a person could never act, or could act as two people.
func (a *App) checkSlackLinks(ctx context.Context) error {
	p := a.Service.Policy()
	if !p.RequireLink {
		return nil
	}
	var problems []string
	seen := map[string]bool{}
	for _, ps := range [][]approvals.Principal{p.Requesters, p.Approvers} {
		for _, pr := range ps {
			if pr.Kind != "slack" || seen[pr.Value] {
				continue
			}
			seen[pr.Value] = true
			oid, err := a.Slack.LinkOf(ctx, pr.Value)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("slack:%s: %v", pr.Value, err))
			case oid == "":
				problems = append(problems, fmt.Sprintf("slack:%s is not linked to an Entra user", pr.Value))
			default:
				a.log.Info("slack principal linked", "slack_user", pr.Value, "entra_id", oid)
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("policy: with more than one chat platform or an entra principal, every slack: principal must be linked to Entra (slack.users or slack.link_by_email): %s", strings.Join(problems, "; "))
	}
	return nil
}

// Close releases the database.
func (a *App) Close() error {
	if a.DB != nil {
		return a.DB.Close()
	}
	return nil
}
