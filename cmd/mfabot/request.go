package main

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/console"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/commands"
)

// mfabot request asks for changes from the command line, with the configuration serve
// runs with: the request is posted to the approvals channel and decided there like any
// other. Its requester is the person --as names, checked against policy.requesters (and
// their Entra account, and their link when the policy needs links) like any requester;
// the approver must be someone else.

const requestUsage = `Usage:
  mfabot request reset --csv users.csv --as PRINCIPAL [--only TYPES] [--tap [--passes FILE]] [--reason TEXT] [--dry-run] --config mfabot.yaml
  mfabot request show R-7K2QXA [--failed --csv] --config mfabot.yaml
`

// requestDeps let tests point the command at fakes and wait less.
type requestDeps struct {
	app  appDeps
	poll time.Duration // how often a waiting --tap run looks at its request; default 1 s
}

func runRequest(ctx context.Context, args []string, e env) error {
	return runRequestWith(ctx, args, e, requestDeps{})
}

func runRequestWith(ctx context.Context, args []string, e env, deps requestDeps) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, requestUsage)
		return exitError{code: 2}
	}
	switch args[0] {
	case "reset":
		return requestReset(ctx, args[1:], e, deps)
	case "show":
		return requestShow(ctx, args[1:], e)
	}
	fmt.Fprintf(e.stderr, "mfabot request: unknown subcommand %q\n%s", args[0], requestUsage)
	return exitError{code: 2}
}

// resetFlags are mfabot request reset's options.
type resetFlags struct {
	config, csv, as, only, reason, passes string
	tap, dryRun                           bool
}

func parseResetFlags(args []string, e env) (resetFlags, error) {
	var f resetFlags
	fs := newFlags("request reset", e)
	fs.StringVar(&f.config, "config", "", "configuration file (YAML), as serve uses")
	fs.StringVar(&f.csv, "csv", "", "CSV of the users: a UserPrincipalName or ObjectId column (the summary's CSV and a failed-rows CSV work)")
	fs.StringVar(&f.as, "as", "", "who asks: a principal of policy.requesters (slack:U…, teams:<object id>, entra:<object id>)")
	fs.StringVar(&f.only, "only", "", "delete only these method types: "+strings.Join(approvals.SelectionNames(), ","))
	fs.BoolVar(&f.tap, "tap", false, "after each reset, create a Temporary Access Pass and write it to --passes (mode 0600); waits for the approval")
	fs.StringVar(&f.passes, "passes", "", "with --tap: the file the passes go to, created new (default passes-<time>.csv)")
	fs.StringVar(&f.reason, "reason", "", "why, for the approver and the audit log")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print what would be deleted for each user, and ask for nothing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, err
		}
		return f, exitError{code: 2}
	}
	var problems []string
	if f.csv == "" {
		problems = append(problems, "--csv names the CSV of the users")
	}
	if f.as == "" {
		problems = append(problems, "--as names who asks (a principal of policy.requesters, such as slack:U024BE7LH)")
	}
	if f.passes != "" && !f.tap {
		problems = append(problems, "--passes goes with --tap")
	}
	if f.tap && f.dryRun {
		problems = append(problems, "--dry-run creates no pass: leave out --tap")
	}
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected %q (options only)", fs.Arg(0)))
	}
	if len(problems) > 0 {
		fmt.Fprintf(e.stderr, "mfabot request reset: %s\n%s", strings.Join(problems, "; "), requestUsage)
		return f, exitError{code: 2}
	}
	return f, nil
}

func requestReset(ctx context.Context, args []string, e env, deps requestDeps) error {
	f, err := parseResetFlags(args, e)
	if err != nil {
		return err
	}
	cfg, err := loadValid(f.config, e)
	if err != nil {
		return err
	}
	pol, err := cfg.Policy()
	if err != nil {
		return err
	}
	in, err := bulkInput(f, pol)
	if err != nil {
		return err
	}
	if err := pol.CheckBulkRows(in.Rows); err != nil {
		return fmt.Errorf("%s: %s; nothing was created", f.csv, approvals.ErrorMessage(err))
	}
	if f.tap {
		if _, err := pol.TAPPlanFor(""); err != nil {
			return errors.New(approvals.ErrorMessage(err))
		}
	}
	log := newLogger(cfg, e.stderr).With(approvals.LogComponent, "request")
	app, err := NewApp(ctx, cfg, log, e.getenv, deps.app)
	if err != nil {
		return err
	}
	defer app.Close()
	actor, err := cliActor(ctx, app, f.as)
	if err != nil {
		return err
	}
	if f.dryRun {
		plan, err := app.Service.PlanBulkReset(ctx, actor, in)
		if err != nil {
			return errors.New(commandError(err))
		}
		printPlan(e.stdout, f.csv, plan)
		return nil
	}
	var sink *passFile
	if f.tap {
		if in.PassHolder, err = holderName(); err != nil {
			return err
		}
		if f.passes == "" {
			f.passes = "passes-" + time.Now().UTC().Format("20060102-150405") + ".csv"
		}
		if sink, err = createPassFile(f.passes); err != nil {
			return err
		}
		defer sink.Close()
	}
	if app.Slack != nil {
		if err := app.Slack.Connect(ctx); err != nil {
			return fmt.Errorf("slack: %w", err)
		}
	}
	r, err := app.Service.CreateBulkReset(ctx, actor, in)
	if err != nil {
		if sink != nil {
			sink.Remove()
		}
		return errors.New(commandError(err) + "; nothing was created")
	}
	printCreated(e.stdout, r)
	defer func() {
		// The card is posted (and kept current) by the notifier: let it finish.
		flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = app.Notifier.Close(flush)
	}()
	if sink == nil {
		fmt.Fprintf(e.stdout, "mfabot serve carries it out once it is approved; follow it with: mfabot request show %s\n", r.ID)
		return nil
	}
	fmt.Fprintf(e.stdout, "Waiting for the decision: the passes can only be written here, to %s. Ctrl-C while it waits cancels the request.\n", sink.path)
	return waitAndRun(ctx, e, app, cfg, actor, r, sink, deps, log)
}

// bulkInput reads the CSV and the options into the request's input.
func bulkInput(f resetFlags, pol approvals.Policy) (approvals.BulkInput, error) {
	file, err := os.Open(f.csv)
	if err != nil {
		return approvals.BulkInput{}, fmt.Errorf("read the users: %w", err)
	}
	defer file.Close()
	rows, err := readUserCSV(file, f.csv, pol.BulkMaxUsers())
	if err != nil {
		return approvals.BulkInput{}, fmt.Errorf("%w; nothing was created", err)
	}
	in := approvals.BulkInput{Source: filepath.Base(f.csv), Rows: rows, TAP: f.tap, Reason: f.reason}
	if f.only != "" {
		c, err := commands.Parse("reset-bulk --only " + f.only)
		if err != nil {
			return in, fmt.Errorf("--only: %s", strings.TrimPrefix(firstLine(approvals.ErrorMessage(err)), "--only: "))
		}
		if in.Only, err = approvals.SelectionTypes(c.Only); err != nil {
			return in, errors.New(approvals.ErrorMessage(err))
		}
	}
	return in, nil
}

// cliActor is the person --as names, as the core sees a requester: a Slack user with
// their Entra link (slack.users or by e-mail), a Teams user, an Entra user, or a console
// person (the demo). Their name says that the request came from the CLI.
func cliActor(ctx context.Context, app *App, as string) (approvals.Actor, error) {
	p, err := approvals.ParsePrincipal(as)
	if err != nil {
		return approvals.Actor{}, fmt.Errorf("--as: %s", approvals.ErrorMessage(err))
	}
	var a approvals.Actor
	switch p.Kind {
	case "slack":
		a = approvals.Actor{Platform: slack.PlatformName, ID: p.Value}
		if app.Slack != nil {
			oid, err := app.Slack.LinkOf(ctx, p.Value)
			if err != nil {
				a.LinkError = err.Error()
			}
			a.EntraID = oid
		}
	case "teams":
		if !approvals.IsObjectID(p.Value) {
			return a, fmt.Errorf("--as teams:%s: a Teams user is named by their Entra object id", p.Value)
		}
		a = approvals.Actor{Platform: teams.PlatformName, ID: strings.ToLower(p.Value), EntraID: strings.ToLower(p.Value)}
	case "entra":
		if !approvals.IsObjectID(p.Value) {
			return a, fmt.Errorf("--as entra:%s: an Entra user is named by their object id", p.Value)
		}
		a = approvals.Actor{Platform: "cli", ID: strings.ToLower(p.Value), EntraID: strings.ToLower(p.Value)}
	case "console":
		a = approvals.Actor{Platform: console.PlatformName, ID: p.Value}
	default:
		return a, fmt.Errorf("--as %s: name one person (slack:, teams:, entra:), not a group", as)
	}
	a.Name = p.String()
	if a.EntraID != "" {
		if u, err := app.Graph.ResolveUser(ctx, a.EntraID); err == nil && u.DisplayName != "" {
			a.Name = u.DisplayName
		}
	}
	a.Name += " via mfabot CLI"
	return a, nil
}

// commandError is an error of the core in words, as chat would show it.
func commandError(err error) string {
	if approvals.ErrorCode(err) == approvals.EINTERNAL {
		return err.Error()
	}
	return approvals.ErrorMessage(err)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// holderName is the lease owner name of this run's executor, which holds the passes.
func holderName() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("name this run: %w", err)
	}
	host, _ := os.Hostname()
	return "cli-" + host + "-" + hex.EncodeToString(b[:]), nil
}

func printPlan(w io.Writer, name string, plan *approvals.BulkPlan) {
	fmt.Fprintf(w, "%s: %d users would be reset", name, len(plan.Users))
	if n := len(plan.Preview.Refused); n > 0 {
		fmt.Fprintf(w, ", %d rows refused", n)
	}
	fmt.Fprintln(w)
	for _, u := range plan.Users {
		fmt.Fprintf(w, "line %-5d %s: ", u.User.Line, u.User.UPN)
		switch {
		case u.Err != "":
			fmt.Fprintf(w, "methods unreadable (%s)\n", u.Err)
			continue
		case len(u.Delete) == 0:
			fmt.Fprint(w, "nothing to delete; sessions revoked")
		default:
			var del []string
			for _, m := range u.Delete {
				del = append(del, m.Label())
			}
			fmt.Fprintf(w, "delete %s; sessions revoked", strings.Join(del, ", "))
		}
		var kept []string
		for _, m := range u.Kept {
			if m.Type != approvals.MethodPassword {
				kept = append(kept, m.Label()+" ("+m.Note+")")
			}
		}
		if len(kept) > 0 {
			fmt.Fprintf(w, "; keep %s", strings.Join(kept, ", "))
		}
		fmt.Fprintln(w)
	}
	for _, r := range plan.Preview.Refused {
		fmt.Fprintf(w, "line %-5d %s: refused: %s\n", r.Line, r.Value, r.Why)
	}
	fmt.Fprintln(w, "Nothing was asked for (--dry-run).")
}

func printCreated(w io.Writer, r *approvals.Request) {
	b := r.Preview.Bulk
	fmt.Fprintf(w, "%s asks to reset %d users; it waits for approval in the approvals channel until %s.\n",
		r.ID, len(b.Users), r.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
	for _, f := range b.Refused {
		fmt.Fprintf(w, "  left out: line %d %s: %s\n", f.Line, f.Value, f.Why)
	}
}

// waitAndRun waits for the decision on r and, once approved, runs it here: the passes
// go to sink. Interrupted while r waits, it cancels r (nobody else could write its
// passes); interrupted while it runs, it leaves the rest to mfabot serve, which resets
// the remaining users without passes.
func waitAndRun(ctx context.Context, e env, app *App, cfg *config.Config, actor approvals.Actor, r *approvals.Request,
	sink *passFile, deps requestDeps, log *slog.Logger) error {
	poll := deps.poll
	if poll <= 0 {
		poll = time.Second
	}
	ex := approvals.NewExecutor(app.DB, app.Graph, app.Service.Policy(), approvals.ExecutorOptions{
		Owner: r.Preview.TAP.Holder, Concurrency: cfg.ExecConcurrency, Lease: cfg.ExecLease,
		Notifier: app.Notifier, Passes: sink, Logger: log.With(approvals.LogComponent, "executor"),
	})
	last := r.State
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		cur, err := app.DB.Request(context.WithoutCancel(ctx), r.ID)
		if err != nil {
			return err
		}
		if cur.State != last {
			fmt.Fprintf(e.stdout, "%s is %s\n", cur.ID, strings.ReplaceAll(string(cur.State), "_", " "))
			last = cur.State
		}
		if cur.State.Final() {
			return finished(e, cur, sink)
		}
		if ctx.Err() != nil {
			if cur.State == approvals.StatePending {
				if _, err := app.Service.Cancel(context.WithoutCancel(ctx), actor, cur.ID, "the mfabot CLI that would write its passes was stopped"); err == nil {
					fmt.Fprintf(e.stdout, "Stopped: %s is cancelled; nothing was changed.\n", cur.ID)
					return exitError{code: 1}
				}
			}
			fmt.Fprintf(e.stdout, "Stopped: mfabot serve resets the users left, without passes (%s).\n", cur.ID)
			return exitError{code: 1}
		}
		if cur.State == approvals.StateRunning {
			ran, err := ex.RunHeld(ctx, cur.ID)
			if err != nil {
				return err
			}
			if ran {
				continue
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// finished says how r ended and where its passes are; it fails unless r succeeded.
func finished(e env, r *approvals.Request, sink *passFile) error {
	fmt.Fprintf(e.stdout, "%s: %d of %d users done, %d failed.\n", r.ID, r.Done, r.Total, r.Failed)
	if n := sink.Count(); n > 0 {
		fmt.Fprintf(e.stdout, "%d Temporary Access Passes are in %s (mode 0600): hand each to its user by phone or in person, then delete the file.\n", n, sink.path)
	} else {
		sink.Remove()
	}
	if r.Failed > 0 {
		fmt.Fprintf(e.stdout, "To ask again for the failed users: mfabot request show %s --failed --csv > failed.csv\n", r.ID)
	}
	if r.State != approvals.StateSucceeded {
		return exitError{code: 1}
	}
	return nil
}

// passFile hands passes over by writing them to a file only its owner may read: created
// new (never an existing file, nor through a link), mode 0600, each pass synced before
// it counts as handed over. It implements approvals.PassHandler for the CLI's executor.
type passFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
	w    *csv.Writer
	n    int
}

func createPassFile(path string) (*passFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the passes file (it must not exist yet): %w", err)
	}
	p := &passFile{path: path, f: f, w: csv.NewWriter(f)}
	p.w.UseCRLF = true
	if err := p.write([]string{"UserPrincipalName", "ObjectId", "TemporaryAccessPass", "ValidUntil", "UsableOnce", "Request"}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return p, nil
}

func (p *passFile) write(row []string) error {
	if err := p.w.Write(row); err != nil {
		return err
	}
	p.w.Flush()
	if err := p.w.Error(); err != nil {
		return err
	}
	return p.f.Sync()
}

// HandPass writes the pass to the file.
func (p *passFile) HandPass(_ context.Context, r *approvals.Request, pass approvals.Pass) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	row := []string{pass.UserName, pass.UserID, pass.Value, pass.Expires().UTC().Format(time.RFC3339), fmt.Sprint(pass.OneTime), r.ID}
	if err := p.write(row); err != nil {
		return "", approvals.WrapError(approvals.EUPSTREAM, err, "the pass could not be written to %s", p.path)
	}
	p.n++
	return "the file " + filepath.Base(p.path) + " (mode 0600) of the requester's mfabot CLI", nil
}

// Count is how many passes were written.
func (p *passFile) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// Remove deletes the file when it holds no pass.
func (p *passFile) Remove() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		p.f.Close()
		os.Remove(p.path)
	}
}

// Close closes the file.
func (p *passFile) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.f.Close()
}

var _ approvals.PassHandler = (*passFile)(nil)

// requestShow prints a request's card, or its failed users as a CSV to ask again for.
func requestShow(ctx context.Context, args []string, e env) error {
	fs := newFlags("request show", e)
	configPath := fs.String("config", "", "configuration file (for the database)")
	dbPath := fs.String("db", "", "SQLite database file (default: from --config or MFABOT_DB)")
	failed := fs.Bool("failed", false, "only the failed users")
	asCSV := fs.Bool("csv", false, "with --failed: the failed users as a CSV that mfabot request reset --csv reads")
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return exitError{code: 2}
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	if id == "" || *asCSV != *failed {
		fmt.Fprintf(e.stderr, "mfabot request show: give the request id, and --failed with --csv\n%s", requestUsage)
		return exitError{code: 2}
	}
	db, err := openReadOnly(ctx, *dbPath, *configPath, e)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := db.Request(ctx, id)
	if err != nil {
		return errors.New(approvals.ErrorMessage(err))
	}
	if *failed {
		items, err := db.Items(ctx, r.ID, approvals.ItemFailed, 0, 0)
		if err != nil {
			return err
		}
		return writeFailedCSV(e.stdout, items)
	}
	var items []approvals.Item
	if !r.Kind.Bulk() {
		items, _ = db.Items(ctx, r.ID, "", 0, 0)
	} else if r.Failed > 0 {
		items, _ = db.Items(ctx, r.ID, approvals.ItemFailed, 0, 20)
	}
	_, err = io.WriteString(e.stdout, commands.RequestCard(r, items, time.Now()).PlainText())
	return err
}
