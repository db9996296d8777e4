package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	_ "github.com/mattn/go-sqlite3" // doctor reads the schema version without migrating

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/bot/teams"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/storage"
)

// Outcomes of a doctor check.
const (
	checkOK   = "ok"
	checkWarn = "warn" // mfabot works, with less or with more privilege than it needs
	checkFail = "fail" // mfabot cannot work as configured: doctor exits 1
)

// Names of doctor's checks. They are part of the --json contract (docs/deployment.md):
// automation may match on them.
const (
	chkConfig       = "config"
	chkDatabase     = "database"
	chkAudit        = "audit"
	chkGraphToken   = "graph.token"
	chkGraphPerms   = "graph.permissions"
	chkPolicyGroups = "policy.groups"
	chkGraphLicence = "graph.licence"
	chkSlackToken   = "slack.token"
	chkSlackScopes  = "slack.scopes"
	chkSlackChannel = "slack.channel"
	chkSlackSigning = "slack.signing_secret"
	chkSlackApp     = "slack.app_token"
	chkTeamsToken   = "teams.token"
	chkTeamsOpenID  = "teams.openid"
	chkTeamsChannel = "teams.channel"
)

// check is one line of the report. With --json it is printed as
// {"name","status","message","fix"}; fix is "" when there is nothing to do.
type check struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// doctorReport is what doctor --json prints: ok is false when any check failed.
type doctorReport struct {
	OK     bool    `json:"ok"`
	Checks []check `json:"checks"`
}

// doctorDeps lets tests point doctor at fakes.
type doctorDeps struct {
	// HTTPClient carries every outbound call: token authorities, Graph, Slack and the Bot
	// Framework (tests pass one that trusts the fake authorities). nil: the defaults.
	HTTPClient *http.Client
}

// callTimeout bounds each remote check, so that one unreachable service leaves time for
// the others.
const callTimeout = 30 * time.Second

// runDoctor checks the configuration, the database, Graph (token, permissions, licence),
// Slack and Teams, and exits 1 if anything stops mfabot from working.
func runDoctor(ctx context.Context, args []string, e env) error {
	return doctor(ctx, args, e, doctorDeps{})
}

func doctor(ctx context.Context, args []string, e env, deps doctorDeps) error {
	fs := newFlags("doctor", e)
	configPath := fs.String("config", "", "configuration file (YAML); every key can come from the environment")
	asJSON := fs.Bool("json", false, `print {"ok":bool,"checks":[{"name","status","message","fix"}]}`)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	d := &doctorRun{e: e, deps: deps}
	d.run(ctx, *configPath)
	r := d.report()
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printReport(e.stdout, r)
	}
	if !r.OK {
		return exitError{code: 1}
	}
	return nil
}

// doctorRun holds one run's findings.
type doctorRun struct {
	e      env
	deps   doctorDeps
	cfg    *Config
	db     *storage.DB // open only when the file's schema is current (doctor never migrates)
	checks []check
}

func (d *doctorRun) add(name, status, message, fix string) {
	d.checks = append(d.checks, check{Name: name, Status: status, Message: message, Fix: fix})
}

func (d *doctorRun) client() *http.Client {
	if d.deps.HTTPClient != nil {
		return d.deps.HTTPClient
	}
	return &http.Client{Timeout: callTimeout}
}

func (d *doctorRun) run(ctx context.Context, configPath string) {
	if !d.config(configPath) {
		return
	}
	d.database(ctx)
	if d.db != nil {
		defer d.db.Close()
	}
	d.graph(ctx)
	if d.cfg.SlackEnabled() {
		d.slack(ctx)
	}
	if d.cfg.TeamsEnabled() {
		d.teams(ctx)
	}
}

// report returns the findings with every configured secret blanked out. No check prints
// one on purpose; this also covers an upstream error message that echoes what it was sent.
func (d *doctorRun) report() doctorReport {
	var secrets []string
	var zero Config
	for _, s := range zero.settings() {
		if s.secret {
			secrets = append(secrets, d.e.getenv(s.env))
		}
	}
	secrets = append(secrets, d.e.getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD"))
	if d.cfg != nil {
		for _, s := range d.cfg.settings() {
			if p, ok := s.ptr.(*string); ok && s.secret {
				secrets = append(secrets, *p)
			}
		}
	}
	r := doctorReport{OK: true, Checks: []check{}}
	for _, c := range d.checks {
		for _, s := range secrets {
			if len(s) >= 4 {
				c.Message = strings.ReplaceAll(c.Message, s, "[redacted]")
				c.Fix = strings.ReplaceAll(c.Fix, s, "[redacted]")
			}
		}
		if c.Status == checkFail {
			r.OK = false
		}
		r.Checks = append(r.Checks, c)
	}
	return r
}

// printReport writes one aligned line per check, with the fix indented under it.
func printReport(w io.Writer, r doctorReport) {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	mark := map[string]string{checkOK: "ok", checkWarn: "WARN", checkFail: "FAIL"}
	var fails, warns int
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", mark[c.Status], width, c.Name, c.Message)
		if c.Fix != "" {
			fmt.Fprintf(w, "%s  fix: %s\n", strings.Repeat(" ", 4+2+width), c.Fix)
		}
		switch c.Status {
		case checkFail:
			fails++
		case checkWarn:
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

// --- configuration ---

// configLine is one line of Config.Validate: "key (ENV): problem".
var configLine = regexp.MustCompile(`^([a-z_.]+) \(([A-Z0-9_]+)\): `)

func (d *doctorRun) config(path string) bool {
	cfg, err := LoadConfig(path, d.e.getenv)
	if err != nil {
		d.add(chkConfig, checkFail, err.Error(), "correct the file or variable named; `mfabot config example` describes every key")
		return false
	}
	d.cfg = cfg
	if err := cfg.Validate(); err != nil {
		secret := map[string]bool{}
		for _, s := range cfg.settings() {
			secret[s.env] = s.secret
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
			d.add(chkConfig, checkFail, line, fix)
		}
		return true
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
	d.add(chkConfig, checkOK, fmt.Sprintf("every setting is valid (from %s); platforms: %s", from, strings.Join(platforms, ", ")), "")
	return true
}

// --- database ---

// database checks the SQLite file without changing it: serve applies migrations when it
// starts, and a doctor run before an upgrade must not migrate the file under the
// version still running.
func (d *doctorRun) database(ctx context.Context) {
	path := d.cfg.DB
	if path == "" {
		return // the configuration check named it
	}
	latest, err := latestSchema(ctx)
	if err != nil {
		d.add(chkDatabase, checkFail, "cannot tell which schema this mfabot needs: "+errText(err), "make the temporary directory ($TMPDIR) writable")
		return
	}
	dir := filepath.Dir(path)
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if werr := dirWritable(dir); werr != nil {
			d.add(chkDatabase, checkFail, fmt.Sprintf("%s does not exist and cannot be created: %s", path, errText(werr)),
				"create the directory and let the user mfabot runs as write to it (a persistent volume in a container), or change db (MFABOT_DB)")
			return
		}
		d.add(chkDatabase, checkOK, fmt.Sprintf("%s does not exist yet: mfabot creates it at start (schema version %d)", path, latest), "")
		return
	case err != nil:
		d.add(chkDatabase, checkFail, "cannot read "+path+": "+errText(err), "run doctor as the user mfabot runs as")
		return
	case info.IsDir():
		d.add(chkDatabase, checkFail, path+" is a directory", "point db (MFABOT_DB) at a file inside it, such as "+filepath.Join(path, "mfabot.db"))
		return
	}
	if werr := dirWritable(dir); werr != nil {
		d.add(chkDatabase, checkFail, fmt.Sprintf("%s is not writable: %s", dir, errText(werr)),
			"SQLite keeps its -wal and -shm files next to the database: let the user mfabot runs as write to the directory (run doctor as that user)")
		return
	}
	cur, err := schemaVersion(ctx, path)
	if err != nil {
		d.add(chkDatabase, checkFail, fmt.Sprintf("%s: %s", path, errText(err)), "point db (MFABOT_DB) at mfabot's database, or restore it from a backup")
		return
	}
	switch {
	case cur > latest:
		d.add(chkDatabase, checkFail, fmt.Sprintf("%s has schema version %d, newer than this mfabot knows (%d): a newer mfabot migrated it", path, cur, latest),
			"run that newer mfabot, or restore the backup taken before the upgrade")
		return
	case cur < latest:
		d.add(chkDatabase, checkOK, fmt.Sprintf("%s has schema version %d; this mfabot migrates it to %d when it starts", path, cur, latest),
			"back the file up before starting the new version (docs/deployment.md, Backups)")
		d.add(chkAudit, checkWarn, "not verified: the audit log is read with the schema this mfabot migrates to",
			"run `mfabot audit verify` with the mfabot that wrote the file, before upgrading")
		return
	}
	db, err := storage.Open(ctx, path)
	if err != nil {
		d.add(chkDatabase, checkFail, "cannot open "+path+": "+errText(err), "")
		return
	}
	d.db = db
	d.add(chkDatabase, checkOK, fmt.Sprintf("%s opens; schema version %d is current", path, cur), "")
	res, err := db.VerifyAudit(ctx)
	switch {
	case err != nil:
		d.add(chkAudit, checkFail, "cannot read the audit log: "+errText(err), "")
	case !res.OK:
		d.add(chkAudit, checkFail, res.String(),
			"someone changed the database behind mfabot's back: compare with your SIEM's copy (`mfabot audit export`) and investigate before trusting it")
	default:
		d.add(chkAudit, checkOK, res.String()+", hash chain verified", "")
	}
}

// latestSchema is the schema version this binary migrates to, read from a scratch
// database because storage applies its migrations on Open.
func latestSchema(ctx context.Context) (int, error) {
	dir, err := os.MkdirTemp("", "mfabot-doctor-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	db, err := storage.Open(ctx, filepath.Join(dir, "schema.db"))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	_, latest, err := db.MigrationStatus(ctx)
	return latest, err
}

// schemaVersion reads the schema version of the file at path read-only: 0 for an empty
// database.
func schemaVersion(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var tables, migrations int
	if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(name = 'schema_migrations'), 0) FROM sqlite_master WHERE type = 'table'`).Scan(&tables, &migrations); err != nil {
		return 0, fmt.Errorf("not a readable SQLite database: %w", err)
	}
	switch {
	case tables == 0:
		return 0, nil
	case migrations == 0:
		return 0, errors.New("a SQLite database, but not mfabot's (no schema_migrations table)")
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func dirWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".mfabot-doctor-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// --- Microsoft Graph ---

func (d *doctorRun) graph(ctx context.Context) {
	cfg := d.cfg
	if cfg.TenantID == "" || cfg.ClientID == "" {
		return // the configuration check named them
	}
	// The same credential serve builds (app.go): azidentity's own variables, then the file.
	o := graph.CredentialOptionsFromEnv(d.e.getenv)
	o.TenantID, o.ClientID, o.ClientSecret = cfg.TenantID, cfg.ClientID, cfg.ClientSecret
	o.CertificatePath, o.AuthorityHost = cfg.ClientCertPath, cfg.AuthorityHost
	o.HTTPClient = d.deps.HTTPClient
	cred, err := graph.NewCredential(o)
	if err != nil {
		d.add(chkGraphToken, checkFail, errText(err), "set a client secret (AZURE_CLIENT_SECRET) or certificate (AZURE_CLIENT_CERTIFICATE_PATH), or run with a workload or managed identity")
		return
	}
	tctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	scope := strings.TrimRight(cfg.GraphURL, "/") + "/.default"
	tok, err := cred.GetToken(tctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		code, msg := tokenError(err)
		d.add(chkGraphToken, checkFail, fmt.Sprintf("Entra ID refused a token to app %s in tenant %s (%s): %s", cfg.ClientID, cfg.TenantID, credentialKind(o), msg),
			tokenFix(code, "graph.client_id (AZURE_CLIENT_ID)", "graph.tenant_id (AZURE_TENANT_ID)"))
		return
	}
	d.add(chkGraphToken, checkOK, fmt.Sprintf("token for %s obtained with the %s of app %s", cfg.GraphURL, credentialKind(o), cfg.ClientID), "")

	g, err := graph.New(graph.Config{TenantID: cfg.TenantID, ClientID: cfg.ClientID, Credential: cred, BaseURL: cfg.GraphURL, HTTPClient: d.deps.HTTPClient})
	if err != nil {
		d.add(chkGraphPerms, checkFail, errText(err), "")
		return
	}
	d.permissions(ctx, g, tok.Token)
	d.licence(ctx, g)
	d.pinned(ctx, g)
}

// pinned resolves the policy's groups as serve does at start and prints the object ids
// they are pinned to: an ambiguous or unknown name stops serve from starting.
func (d *doctorRun) pinned(ctx context.Context, g *graph.Client) {
	pol, err := d.cfg.Policy()
	if err != nil {
		return // reported by the configuration check
	}
	pctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	pinned, err := approvals.PinPolicy(pctx, g, pol)
	if err != nil {
		d.add(chkPolicyGroups, checkFail, errText(err),
			"name the group by its object id (Entra admin center → Groups → the group → Object ID); display names must be unique, and mail nicknames are never accepted")
		return
	}
	if len(pinned.Pinned) == 0 {
		return
	}
	var lines []string
	for _, p := range pinned.Pinned {
		lines = append(lines, fmt.Sprintf("%s %q = %s (%s)", p.Use, p.Ref, p.ID, p.Name))
	}
	d.add(chkPolicyGroups, checkOK, "groups pinned to object ids: "+strings.Join(lines, "; "), "")
}

// credentialKind names the credential NewCredential picks for o (same precedence).
func credentialKind(o graph.CredentialOptions) string {
	switch {
	case o.ClientSecret != "":
		return "client secret"
	case o.CertificatePath != "":
		return "certificate " + o.CertificatePath
	case o.FederatedTokenFile != "":
		return "workload identity"
	case o.ManagedIdentity:
		return "managed identity"
	}
	return "default credential chain"
}

// permissions compares the application permissions granted to the app with
// graph.RequiredPermissions: a missing one fails, one more than needed warns.
func (d *doctorRun) permissions(ctx context.Context, g *graph.Client, token string) {
	pctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	granted, err := g.GrantedPermissions(pctx)
	source := "the app's service principal"
	if err != nil {
		// Reading the service principal needs Application.Read.All, which mfabot itself
		// does not; an app-only token lists the same grants in its roles claim.
		roles, rerr := tokenRoles(token)
		if rerr != nil {
			d.add(chkGraphPerms, checkWarn, "cannot read the granted permissions: "+errText(err),
				"grant Application.Read.All so that doctor can check them, or compare the app's API permissions with docs/deployment.md by hand")
			return
		}
		granted, source = roles, "the access token's roles"
	}
	have := map[string]bool{}
	for _, p := range granted {
		have[p] = true
	}
	needed := map[string]bool{}
	missing := 0
	for _, p := range graph.RequiredPermissions {
		if p.Feature == "enforce" && !d.cfg.EnforceEnabled {
			continue // not needed, and a grant of it is reported as more than needed
		}
		needed[p.Name] = true
		if have[p.Name] || p.Optional {
			continue
		}
		missing++
		d.add(chkGraphPerms, checkFail, fmt.Sprintf("%s is missing: needed for %s", p.Name, p.Needed),
			fmt.Sprintf("Entra admin center → App registrations → %s → API permissions → Add a permission → Microsoft Graph → Application permissions → %s, then Grant admin consent", d.cfg.ClientID, p.Name))
	}
	for _, p := range granted {
		if !needed[p] {
			d.add(chkGraphPerms, checkWarn, fmt.Sprintf("%s is granted but mfabot does not need it (least privilege)", p),
				fmt.Sprintf("remove %s from the app's API permissions (⋯ → Remove permission), then Grant admin consent again", p))
		}
	}
	if missing == 0 {
		d.add(chkGraphPerms, checkOK, fmt.Sprintf("every permission mfabot needs is granted (read from %s)", source), "")
	}
}

// tokenRoles reads the roles claim of an app-only access token: the application
// permissions granted when it was issued. The token came straight from the authority
// over TLS, so its signature is not checked here.
func tokenRoles(token string) ([]string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("decode access token: %w", err)
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("decode access token: %w", err)
	}
	slices.Sort(claims.Roles)
	return claims.Roles, nil
}

func (d *doctorRun) licence(ctx context.Context, g *graph.Client) {
	lctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err := g.CheckReports(lctx)
	switch {
	case err == nil:
		d.add(chkGraphLicence, checkOK, "the registration report answers (Microsoft Entra ID P1/P2)", "")
	case graph.IsLicenceError(err):
		d.add(chkGraphLicence, checkWarn, "the tenant has no Microsoft Entra ID P1/P2: status and the summary will lack registration details (MFA registered, capable, default method) until it has",
			"license the tenant with Microsoft Entra ID P1 or P2; everything else works without it")
	case graph.IsAccessDenied(err):
		d.add(chkGraphLicence, checkWarn, "cannot read the registration report: access denied", "grant AuditLog.Read.All (see graph.permissions)")
	default:
		d.add(chkGraphLicence, checkWarn, "cannot read the registration report: "+errText(err), "")
	}
}

// tokenError returns the OAuth error code and a one-line description of a token
// failure: "invalid_client", "AADSTS7000215: Invalid client secret provided.".
func tokenError(err error) (code, msg string) {
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) && af.RawResponse != nil && af.RawResponse.Body != nil {
		var body struct {
			Error string `json:"error"`
			Desc  string `json:"error_description"`
		}
		if b, rerr := io.ReadAll(io.LimitReader(af.RawResponse.Body, 64<<10)); rerr == nil && json.Unmarshal(b, &body) == nil && body.Error != "" {
			desc, _, _ := strings.Cut(body.Desc, "\n")
			desc = strings.TrimSpace(desc)
			aadsts, _, _ := strings.Cut(desc, ":")
			if !strings.HasPrefix(aadsts, "AADSTS") {
				aadsts = ""
			}
			if desc == "" {
				return body.Error, body.Error
			}
			if aadsts != "" {
				return aadsts, body.Error + " (" + desc + ")"
			}
			return body.Error, body.Error + " (" + desc + ")"
		}
	}
	return "", errText(err)
}

// tokenFix says what to do about an Entra ID error code, naming the settings involved.
func tokenFix(code, appKey, tenantKey string) string {
	switch code {
	case "AADSTS7000215":
		return "the client secret is wrong: copy the secret's Value (not its Secret ID) from the app registration's Certificates & secrets, or create a new one"
	case "AADSTS7000222":
		return "the client secret has expired: create a new one under Certificates & secrets"
	case "AADSTS700016":
		return "no such application in that tenant: check " + appKey + " and " + tenantKey
	case "AADSTS90002", "AADSTS900023":
		return "no such tenant: check " + tenantKey + " (and AZURE_AUTHORITY_HOST for a national cloud)"
	case "AADSTS700027", "AADSTS700023":
		return "the certificate is not one the app registration knows: upload its public part under Certificates & secrets"
	case "AADSTS7000112":
		return "the application is disabled in the tenant: enable its enterprise application"
	}
	return "check " + appKey + ", " + tenantKey + " and the secret or certificate against the app registration"
}

// --- Slack ---

// slackScopeUse says what each bot scope mfabot asks for is used for.
var slackScopeUse = map[string]string{
	"commands":         "the /mfa command",
	"chat:write":       "posting and updating cards",
	"im:write":         "direct messages to requesters and reset users",
	"users:read":       "knowing who typed or clicked (users.info, bots.info)",
	"users:read.email": "linking Slack users to Entra users by e-mail",
	"files:write":      "the summary's chart and CSV",
}

// slackDoctorScopes are not needed by mfabot; with them doctor can check the approvals
// channel (conversations.info), so they are not reported as more than needed.
var slackDoctorScopes = []string{"channels:read", "groups:read"}

// slackReply holds the fields doctor reads from Web API answers.
type slackReply struct {
	OK           bool   `json:"ok"`
	Error        string `json:"error"`
	Needed       string `json:"needed"`
	Team         string `json:"team"`
	User         string `json:"user"`
	TeamID       string `json:"team_id"`
	UserID       string `json:"user_id"`
	BotID        string `json:"bot_id"`
	EnterpriseID string `json:"enterprise_id"`
	Channel      struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		IsMember   bool   `json:"is_member"`
		IsArchived bool   `json:"is_archived"`
		IsPrivate  bool   `json:"is_private"`
	} `json:"channel"`
	Bot struct {
		AppID string `json:"app_id"`
	} `json:"bot"`
}

// slackCall calls a Web API method with token and returns the answer and its headers
// (X-OAuth-Scopes lists the token's scopes).
func (d *doctorRun) slackCall(ctx context.Context, method, token string, args url.Values) (slackReply, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	base := d.cfg.SlackAPIURL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+method, strings.NewReader(args.Encode()))
	if err != nil {
		return slackReply{}, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := d.client().Do(req)
	if err != nil {
		return slackReply{}, nil, fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return slackReply{}, resp.Header, fmt.Errorf("%s: HTTP %s", method, resp.Status)
	}
	var r slackReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r); err != nil {
		return slackReply{}, resp.Header, fmt.Errorf("%s: %w", method, err)
	}
	return r, resp.Header, nil
}

func (d *doctorRun) slack(ctx context.Context) {
	cfg := d.cfg
	if !strings.HasPrefix(cfg.SlackBotToken, "xoxb-") {
		return // the configuration check named it; do not send a user or app token around
	}
	auth, hdr, err := d.slackCall(ctx, "auth.test", cfg.SlackBotToken, nil)
	switch {
	case err != nil:
		d.add(chkSlackToken, checkFail, "Slack is unreachable: "+errText(err), "allow outbound https to slack.com (or check slack.api_url, MFABOT_SLACK_API_URL)")
		return
	case !auth.OK:
		fix := "copy the Bot User OAuth Token (xoxb-…) again from the app's OAuth & Permissions page"
		if auth.Error == "token_revoked" || auth.Error == "account_inactive" || auth.Error == "team_access_not_granted" {
			fix = "reinstall the app to the workspace (OAuth & Permissions → Reinstall) and set the new bot token"
		}
		d.add(chkSlackToken, checkFail, "auth.test refused the bot token: "+auth.Error, fix)
		return
	}
	d.add(chkSlackToken, checkOK, fmt.Sprintf("bot token valid: workspace %s (%s), bot user %s", auth.Team, auth.TeamID, auth.UserID), "")
	if cfg.SlackTeamID != "" && auth.TeamID != cfg.SlackTeamID {
		d.add(chkSlackToken, checkFail, fmt.Sprintf("the token belongs to workspace %s, but slack.team_id is %s: every request would be refused", auth.TeamID, cfg.SlackTeamID),
			"set slack.team_id (MFABOT_SLACK_TEAM_ID) to "+auth.TeamID+", or use the token of the right workspace")
	}
	if cfg.SlackEnterpriseID != "" && auth.EnterpriseID != cfg.SlackEnterpriseID {
		d.add(chkSlackToken, checkFail, fmt.Sprintf("the token belongs to organisation %q, but slack.enterprise_id is %s", auth.EnterpriseID, cfg.SlackEnterpriseID),
			"set slack.enterprise_id (MFABOT_SLACK_ENTERPRISE_ID) to the organisation the app is installed in")
	}
	d.slackScopes(hdr)
	d.slackChannel(ctx, orDefault(auth.User, "mfabot"))
	appID := ""
	if auth.BotID != "" {
		if bot, _, err := d.slackCall(ctx, "bots.info", cfg.SlackBotToken, url.Values{"bot": {auth.BotID}}); err == nil && bot.OK {
			appID = bot.Bot.AppID
		}
	}
	if cfg.SlackAppID != "" && appID != "" && appID != cfg.SlackAppID {
		d.add(chkSlackToken, checkFail, fmt.Sprintf("the bot token belongs to app %s, but slack.app_id is %s: every request would be refused", appID, cfg.SlackAppID),
			"set slack.app_id (MFABOT_SLACK_APP_ID) to "+appID)
	}
	if cfg.SlackAppToken != "" {
		d.slackAppToken(ctx, appID)
	} else {
		d.slackSigningSecret()
	}
}

func (d *doctorRun) slackScopes(hdr http.Header) {
	raw, ok := hdr["X-Oauth-Scopes"]
	if !ok {
		d.add(chkSlackScopes, checkWarn, "Slack did not say which scopes the token has (no X-OAuth-Scopes header)", "compare the app's bot token scopes with manifests/slack/manifest.yaml by hand")
		return
	}
	granted := map[string]bool{}
	var order []string
	for _, s := range strings.Split(strings.Join(raw, ","), ",") {
		if s = strings.TrimSpace(s); s != "" && !granted[s] {
			granted[s] = true
			order = append(order, s)
		}
	}
	required := slack.RequiredScopes()
	missing := 0
	for _, s := range required {
		if !granted[s] {
			missing++
			d.add(chkSlackScopes, checkFail, fmt.Sprintf("bot scope %s is missing: needed for %s", s, slackScopeUse[s]),
				"add it under OAuth & Permissions → Bot Token Scopes (or recreate the app from manifests/slack), reinstall the app and set the new bot token")
		}
	}
	for _, s := range order {
		if !slices.Contains(required, s) && !slices.Contains(slackDoctorScopes, s) {
			d.add(chkSlackScopes, checkWarn, fmt.Sprintf("bot scope %s is granted but mfabot does not need it (least privilege)", s),
				"remove it under OAuth & Permissions → Bot Token Scopes and reinstall the app")
		}
	}
	if missing == 0 {
		d.add(chkSlackScopes, checkOK, "every bot scope mfabot needs is granted: "+strings.Join(required, ", "), "")
	}
}

func (d *doctorRun) slackChannel(ctx context.Context, botName string) {
	ch := d.cfg.SlackChannel
	if ch == "" {
		return
	}
	r, _, err := d.slackCall(ctx, "conversations.info", d.cfg.SlackBotToken, url.Values{"channel": {ch}})
	invite := "in Slack, open the channel and type /invite @" + botName
	switch {
	case err != nil:
		d.add(chkSlackChannel, checkWarn, "cannot check the approvals channel: "+errText(err), invite)
	case r.Error == "missing_scope":
		d.add(chkSlackChannel, checkWarn, fmt.Sprintf("channel %s not checked: conversations.info needs %s, which mfabot itself does not", ch, orDefault(r.Needed, "channels:read")),
			"make sure the bot is in the channel ("+invite+"), or add channels:read (groups:read for a private channel) so that doctor can check")
	case r.Error == "channel_not_found":
		d.add(chkSlackChannel, checkFail, fmt.Sprintf("channel %s does not exist or the bot cannot see it", ch),
			"set slack.channel (MFABOT_SLACK_CHANNEL) to the channel's id (C…, from the channel's details), not its name; for a private channel, invite the bot first")
	case !r.OK:
		d.add(chkSlackChannel, checkWarn, fmt.Sprintf("cannot check channel %s: %s", ch, r.Error), invite)
	case r.Channel.IsArchived:
		d.add(chkSlackChannel, checkFail, fmt.Sprintf("channel #%s (%s) is archived", r.Channel.Name, ch), "unarchive it or choose another approvals channel")
	case !r.Channel.IsMember:
		d.add(chkSlackChannel, checkFail, fmt.Sprintf("the bot is not a member of #%s (%s): it cannot post approval cards there", r.Channel.Name, ch), invite)
	default:
		d.add(chkSlackChannel, checkOK, fmt.Sprintf("the bot is a member of #%s (%s)", r.Channel.Name, ch), "")
	}
}

// appTokenShape is an app-level token: xapp-<version>-<app id>-<number>-<secret>.
var appTokenShape = regexp.MustCompile(`^xapp-\d+-(A[A-Z0-9]+)-\d+-[A-Za-z0-9]+$`)

// slackAppToken checks the Socket Mode token: its shape, that it belongs to the same app
// as the bot token, and that Slack accepts it (apps.connections.open hands out a socket
// URL, which doctor does not open).
func (d *doctorRun) slackAppToken(ctx context.Context, botAppID string) {
	m := appTokenShape.FindStringSubmatch(d.cfg.SlackAppToken)
	if m == nil {
		d.add(chkSlackApp, checkFail, "the app-level token does not look like one (xapp-1-A…-…-…)",
			"Basic Information → App-Level Tokens → Generate Token with connections:write; set MFABOT_SLACK_APP_TOKEN to it")
		return
	}
	if botAppID != "" && m[1] != botAppID {
		d.add(chkSlackApp, checkFail, fmt.Sprintf("the app-level token belongs to app %s, the bot token to app %s", m[1], botAppID),
			"use the app-level token and the bot token of the same Slack app")
		return
	}
	r, _, err := d.slackCall(ctx, "apps.connections.open", d.cfg.SlackAppToken, nil)
	switch {
	case err != nil:
		d.add(chkSlackApp, checkFail, "cannot open Socket Mode: "+errText(err), "allow outbound https and wss to slack.com")
	case !r.OK:
		d.add(chkSlackApp, checkFail, "apps.connections.open refused the app-level token: "+r.Error,
			"Basic Information → App-Level Tokens: generate a token with connections:write, and turn Socket Mode on")
	default:
		d.add(chkSlackApp, checkOK, fmt.Sprintf("app-level token of app %s accepted: Socket Mode can connect", m[1]), "")
	}
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// slackSigningSecret can only check the secret's shape: only a request from Slack proves
// it right.
func (d *doctorRun) slackSigningSecret() {
	if d.cfg.SlackSigningSecret == "" {
		return // the configuration check named it
	}
	if !hex32.MatchString(d.cfg.SlackSigningSecret) {
		d.add(chkSlackSigning, checkWarn, "the signing secret is not 32 hexadecimal characters, as Slack's are",
			"copy Basic Information → App Credentials → Signing Secret (not the Client Secret or Verification Token)")
		return
	}
	d.add(chkSlackSigning, checkOK, "the signing secret has the right shape (only a request from Slack proves it right)", "")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// --- Teams ---

// knownAuthorityHosts are the Microsoft clouds MSAL can discover by itself; for any
// other authority instance discovery is turned off, as the Teams adapter does.
var knownAuthorityHosts = []string{"login.microsoftonline.com", "login.microsoft.com", "login.windows.net",
	"login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn"}

func (d *doctorRun) teams(ctx context.Context) {
	cfg := d.cfg
	if cfg.TeamsAppPassword != "" && (cfg.TeamsTenantID != "" || cfg.TeamsMultiTenant) {
		d.teamsToken(ctx)
	}
	d.teamsOpenID(ctx)
	d.teamsChannel(ctx)
}

// teamsToken gets the token the bot presents to the Bot Connector, as the adapter does.
func (d *doctorRun) teamsToken(ctx context.Context) {
	cfg := d.cfg
	tenant := cfg.TeamsTenantID
	if cfg.TeamsMultiTenant {
		tenant = "botframework.com"
	}
	o := &azidentity.ClientSecretCredentialOptions{}
	if cfg.AuthorityHost != "" {
		o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost}
		host := cfg.AuthorityHost
		if u, err := url.Parse(host); err == nil && u.Host != "" {
			host = u.Hostname()
		}
		o.DisableInstanceDiscovery = !slices.Contains(knownAuthorityHosts, strings.ToLower(host))
	}
	if d.deps.HTTPClient != nil {
		o.ClientOptions = azcore.ClientOptions{Cloud: o.Cloud, Transport: d.deps.HTTPClient}
	}
	cred, err := azidentity.NewClientSecretCredential(tenant, cfg.TeamsAppID, cfg.TeamsAppPassword, o)
	if err != nil {
		d.add(chkTeamsToken, checkFail, errText(err), "check teams.app_id and teams.tenant_id")
		return
	}
	tctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := cred.GetToken(tctx, policy.TokenRequestOptions{Scopes: []string{teams.BotFrameworkScope}}); err != nil {
		code, msg := tokenError(err)
		d.add(chkTeamsToken, checkFail, fmt.Sprintf("Entra ID refused a Bot Framework token to app %s in tenant %s: %s", cfg.TeamsAppID, tenant, msg),
			tokenFix(code, "teams.app_id (MFABOT_TEAMS_APP_ID)", "teams.tenant_id (MFABOT_TEAMS_TENANT_ID)")+
				"; the password is a client secret of the Azure Bot's app registration (Configuration → Manage Password)")
		return
	}
	d.add(chkTeamsToken, checkOK, fmt.Sprintf("Bot Framework token obtained for app %s from tenant %s", cfg.TeamsAppID, tenant), "")
}

// teamsOpenID fetches the Bot Framework metadata and signing keys that every inbound
// request is verified with.
func (d *doctorRun) teamsOpenID(ctx context.Context) {
	metaURL := orDefault(d.cfg.TeamsOpenIDURL, teams.DefaultOpenIDURL)
	fix := "allow outbound https to login.botframework.com: without its keys mfabot refuses every request from Teams"
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := d.getJSON(ctx, metaURL, &meta); err != nil {
		d.add(chkTeamsOpenID, checkFail, "cannot read the Bot Framework OpenID metadata: "+errText(err), fix)
		return
	}
	if meta.JWKSURI == "" {
		d.add(chkTeamsOpenID, checkFail, metaURL+" names no jwks_uri", "check teams.openid_url (MFABOT_TEAMS_OPENID_URL); the default is "+teams.DefaultOpenIDURL)
		return
	}
	var keys struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := d.getJSON(ctx, meta.JWKSURI, &keys); err != nil || len(keys.Keys) == 0 {
		msg := "no signing keys at " + meta.JWKSURI
		if err != nil {
			msg = "cannot read the Bot Framework signing keys: " + errText(err)
		}
		d.add(chkTeamsOpenID, checkFail, msg, fix)
		return
	}
	d.add(chkTeamsOpenID, checkOK, fmt.Sprintf("%d Bot Framework signing keys readable: inbound requests can be verified", len(keys.Keys)), "")
}

func (d *doctorRun) getJSON(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %s", u, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// teamsChannel checks that the approvals channel's address is known: Teams posts need
// the serviceUrl the bot learns when it is added to the team.
func (d *doctorRun) teamsChannel(ctx context.Context) {
	ch := d.cfg.TeamsChannel
	if ch == "" || d.db == nil {
		return
	}
	raw, err := d.db.Conversation(ctx, teams.PlatformName, ch)
	switch {
	case err == nil:
		var ref teams.ConversationRef
		_ = json.Unmarshal(raw, &ref)
		where := ch
		if ref.TeamName != "" || ref.Name != "" {
			where = fmt.Sprintf("%s (%q in team %q)", ch, ref.Name, ref.TeamName)
		}
		d.add(chkTeamsChannel, checkOK, "the bot knows the approvals channel "+where, "")
	case approvals.ErrorCode(err) == approvals.ENOTFOUND:
		fix := "add the mfabot app to the team that holds the channel (Teams → Apps → Manage your apps → mfabot → Add to a team); the bot stores the channel's address then"
		if known := d.knownTeamsChannels(ctx); len(known) > 0 {
			fix += "; channels the bot knows: " + strings.Join(known, ", ")
		}
		d.add(chkTeamsChannel, checkWarn, fmt.Sprintf("the bot has not been added to the approvals channel %s yet: it cannot post approval cards there", ch), fix)
	default:
		d.add(chkTeamsChannel, checkWarn, "cannot read the stored Teams conversations: "+errText(err), "")
	}
}

func (d *doctorRun) knownTeamsChannels(ctx context.Context) []string {
	raws, err := d.db.Conversations(ctx, teams.PlatformName)
	if err != nil {
		return nil
	}
	var out []string
	for _, raw := range raws {
		var ref teams.ConversationRef
		if json.Unmarshal(raw, &ref) == nil && ref.Kind == teams.RefConversation && ref.ConversationType == "channel" {
			out = append(out, fmt.Sprintf("%s (%q in team %q)", ref.ConversationID, ref.Name, ref.TeamName))
		}
	}
	return out
}

// errText is the first line of an error.
func errText(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(s)
}
