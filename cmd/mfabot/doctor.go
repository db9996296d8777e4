package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/mfabot/mfabot/bot/slack"
	"github.com/mfabot/mfabot/graph"
	"github.com/mfabot/mfabot/storage"
)

// Check outcomes.
const (
	checkOK   = "ok"
	checkWarn = "warn"
	checkFail = "fail"
)

// check is one line of mfabot doctor's report. Its JSON shape is a contract for
// automation: {"name","status","message","fix"}.
type check struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

type doctorReport struct {
	OK     bool    `json:"ok"`
	Checks []check `json:"checks"`
}

// doctorDeps lets tests point doctor at fakes: an HTTP client trusting the simulated
// tenant's authority.
type doctorDeps struct {
	HTTPClient *http.Client
}

// runDoctor checks configuration, database, Graph (token, permissions, licence), Slack
// and Teams, and exits 1 if anything blocks mfabot from working.
func runDoctor(ctx context.Context, args []string, e env) error {
	return doctor(ctx, args, e, doctorDeps{})
}

func doctor(ctx context.Context, args []string, e env, deps doctorDeps) error {
	fs := newFlags("doctor", e)
	configPath := fs.String("config", "", "configuration file (YAML)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var r doctorReport
	add := func(c check) { r.Checks = append(r.Checks, c) }

	cfg, err := LoadConfig(*configPath, e.getenv)
	if err != nil {
		add(check{Name: "configuration", Status: checkFail, Message: err.Error(), Fix: "correct the file or variable named"})
	} else {
		if verr := cfg.Validate(); verr != nil {
			for _, line := range strings.Split(verr.Error(), "\n") {
				add(check{Name: "configuration", Status: checkFail, Message: line})
			}
		} else {
			add(check{Name: "configuration", Status: checkOK, Message: "every setting is valid"})
		}
		doctorDB(ctx, cfg, add)
		doctorGraph(ctx, cfg, e, deps, add)
		if cfg.SlackEnabled() {
			doctorSlack(ctx, cfg, deps, add)
		}
		if cfg.TeamsEnabled() {
			doctorTeams(ctx, cfg, deps, add)
		}
	}
	r.OK = !slices.ContainsFunc(r.Checks, func(c check) bool { return c.Status == checkFail })
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

func printReport(w io.Writer, r doctorReport) {
	mark := map[string]string{checkOK: "ok  ", checkWarn: "WARN", checkFail: "FAIL"}
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%s  %-14s %s\n", mark[c.Status], c.Name, c.Message)
		if c.Fix != "" {
			fmt.Fprintf(w, "      %-14s → %s\n", "", c.Fix)
		}
	}
	if r.OK {
		fmt.Fprintln(w, "\nmfabot is ready to serve.")
	} else {
		fmt.Fprintln(w, "\nmfabot cannot serve until every FAIL is fixed.")
	}
}

func doctorDB(ctx context.Context, cfg *Config, add func(check)) {
	db, err := storage.Open(ctx, cfg.DB)
	if err != nil {
		add(check{Name: "database", Status: checkFail, Message: fmt.Sprintf("cannot open %s: %v", cfg.DB, err), Fix: "check the path and that the directory is writable (db / MFABOT_DB)"})
		return
	}
	defer db.Close()
	cur, latest, err := db.MigrationStatus(ctx)
	switch {
	case err != nil:
		add(check{Name: "database", Status: checkFail, Message: "cannot read the schema version: " + err.Error()})
	case cur > latest:
		add(check{Name: "database", Status: checkFail, Message: fmt.Sprintf("schema version %d is newer than this mfabot knows (%d)", cur, latest), Fix: "run the newer mfabot that migrated this file, or restore a backup"})
	default:
		add(check{Name: "database", Status: checkOK, Message: fmt.Sprintf("%s opens; schema version %d of %d", cfg.DB, cur, latest)})
	}
	res, err := db.VerifyAudit(ctx)
	switch {
	case err != nil:
		add(check{Name: "audit log", Status: checkFail, Message: "cannot read: " + err.Error()})
	case !res.OK:
		add(check{Name: "audit log", Status: checkFail, Message: res.String(), Fix: "investigate who changed the database; compare with your SIEM's copy (mfabot audit export)"})
	default:
		add(check{Name: "audit log", Status: checkOK, Message: res.String()})
	}
}

func doctorGraph(ctx context.Context, cfg *Config, e env, deps doctorDeps, add func(check)) {
	if cfg.TenantID == "" || cfg.ClientID == "" {
		add(check{Name: "graph", Status: checkFail, Message: "no app registration configured", Fix: "set graph.tenant_id and graph.client_id (AZURE_TENANT_ID, AZURE_CLIENT_ID)"})
		return
	}
	o := graph.CredentialOptionsFromEnv(e.getenv)
	o.TenantID, o.ClientID, o.ClientSecret = cfg.TenantID, cfg.ClientID, cfg.ClientSecret
	o.CertificatePath, o.AuthorityHost, o.HTTPClient = cfg.ClientCertPath, cfg.AuthorityHost, deps.HTTPClient
	cred, err := graph.NewCredential(o)
	if err != nil {
		add(check{Name: "graph token", Status: checkFail, Message: err.Error(), Fix: "set a client secret, certificate, workload identity or managed identity"})
		return
	}
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{strings.TrimRight(cfg.GraphURL, "/") + "/.default"}}); err != nil {
		add(check{Name: "graph token", Status: checkFail, Message: "Entra ID refused a token: " + tokenError(err), Fix: "check the tenant id, client id and secret/certificate of the app registration"})
		return
	}
	add(check{Name: "graph token", Status: checkOK, Message: "obtained a token for " + cfg.GraphURL})
	g, err := graph.New(graph.Config{TenantID: cfg.TenantID, ClientID: cfg.ClientID, Credential: cred, BaseURL: cfg.GraphURL, HTTPClient: deps.HTTPClient})
	if err != nil {
		add(check{Name: "graph", Status: checkFail, Message: err.Error()})
		return
	}
	granted, err := g.GrantedPermissions(ctx)
	if err != nil {
		add(check{Name: "permissions", Status: checkWarn, Message: "cannot read the granted permissions: " + errText(err),
			Fix: "grant Application.Read.All to let doctor check them, or compare the app's API permissions with docs/deployment.md by hand"})
	} else {
		have := map[string]bool{}
		for _, p := range granted {
			have[p] = true
		}
		needed := map[string]bool{}
		for _, p := range graph.RequiredPermissions {
			needed[p.Name] = true
			switch {
			case have[p.Name]:
			case p.Optional:
				add(check{Name: "permissions", Status: checkWarn, Message: fmt.Sprintf("%s is not granted: %s", p.Name, p.Needed)})
			default:
				add(check{Name: "permissions", Status: checkFail, Message: fmt.Sprintf("%s is missing: needed for %s", p.Name, p.Needed),
					Fix: "Entra admin center → App registrations → API permissions → add the Microsoft Graph application permission " + p.Name + " → Grant admin consent"})
			}
		}
		var extra []string
		for _, p := range granted {
			if !needed[p] {
				extra = append(extra, p)
			}
		}
		if len(extra) > 0 {
			add(check{Name: "permissions", Status: checkWarn, Message: "granted but not needed (least privilege): " + strings.Join(extra, ", "), Fix: "remove them from the app registration"})
		}
		add(check{Name: "permissions", Status: checkOK, Message: fmt.Sprintf("%d application permissions granted", len(granted))})
	}
	if err := g.CheckReports(ctx); err != nil {
		if graph.IsLicenceError(err) {
			add(check{Name: "registration", Status: checkWarn, Message: errText(err),
				Fix: "status and the summary will lack registration details until the tenant has Microsoft Entra ID P1 or P2"})
		} else {
			add(check{Name: "registration", Status: checkWarn, Message: "cannot read the registration report: " + errText(err)})
		}
	} else {
		add(check{Name: "registration", Status: checkOK, Message: "the registration report is readable (licensed)"})
	}
}

func doctorSlack(ctx context.Context, cfg *Config, deps doctorDeps, add func(check)) {
	apiURL := cfg.SlackAPIURL
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	client := deps.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"auth.test", nil)
	if err != nil {
		add(check{Name: "slack", Status: checkFail, Message: err.Error()})
		return
	}
	req.Header.Set("Authorization", "Bearer "+cfg.SlackBotToken)
	resp, err := client.Do(req)
	if err != nil {
		add(check{Name: "slack", Status: checkFail, Message: "Slack is unreachable: " + err.Error()})
		return
	}
	defer resp.Body.Close()
	var body struct {
		OK     bool   `json:"ok"`
		Error  string `json:"error"`
		Team   string `json:"team"`
		TeamID string `json:"team_id"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || !body.OK {
		add(check{Name: "slack", Status: checkFail, Message: "auth.test refused the bot token: " + body.Error, Fix: "copy the Bot User OAuth Token (xoxb-…) again from the Slack app's OAuth & Permissions page"})
		return
	}
	add(check{Name: "slack", Status: checkOK, Message: fmt.Sprintf("bot token valid for workspace %s (%s)", body.Team, body.TeamID)})
	if cfg.SlackTeamID != "" && body.TeamID != cfg.SlackTeamID {
		add(check{Name: "slack", Status: checkFail, Message: fmt.Sprintf("the token belongs to workspace %s, not slack.team_id %s", body.TeamID, cfg.SlackTeamID)})
	}
	granted := map[string]bool{}
	for _, s := range strings.Split(resp.Header.Get("X-OAuth-Scopes"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			granted[s] = true
		}
	}
	var missing []string
	for _, s := range slack.RequiredScopes() {
		if !granted[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		add(check{Name: "slack scopes", Status: checkFail, Message: "missing bot scopes: " + strings.Join(missing, ", "), Fix: "add them under OAuth & Permissions (or recreate the app from manifests/slack) and reinstall the app"})
	} else {
		add(check{Name: "slack scopes", Status: checkOK, Message: "every bot scope mfabot needs is granted"})
	}
}

func doctorTeams(ctx context.Context, cfg *Config, deps doctorDeps, add func(check)) {
	tenant := cfg.TeamsTenantID
	if cfg.TeamsMultiTenant {
		tenant = "botframework.com"
	}
	o := &azidentity.ClientSecretCredentialOptions{}
	if cfg.AuthorityHost != "" {
		o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost}
		o.DisableInstanceDiscovery = true
	}
	if deps.HTTPClient != nil {
		o.ClientOptions = azcore.ClientOptions{Cloud: o.Cloud, Transport: deps.HTTPClient}
	}
	cred, err := azidentity.NewClientSecretCredential(tenant, cfg.TeamsAppID, cfg.TeamsAppPassword, o)
	if err == nil {
		_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://api.botframework.com/.default"}})
	}
	if err != nil {
		add(check{Name: "teams", Status: checkFail, Message: "no Bot Framework token for the app: " + tokenError(err), Fix: "check teams.app_id, MFABOT_TEAMS_APP_PASSWORD and teams.tenant_id against the Azure Bot resource"})
		return
	}
	add(check{Name: "teams", Status: checkOK, Message: "obtained a Bot Framework token for app " + cfg.TeamsAppID})
}

// tokenError shortens an azidentity error to its Entra error code line.
func tokenError(err error) string {
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) && af.RawResponse != nil {
		var body struct {
			Error string `json:"error"`
			Desc  string `json:"error_description"`
		}
		if b, rerr := io.ReadAll(io.LimitReader(af.RawResponse.Body, 64<<10)); rerr == nil && json.Unmarshal(b, &body) == nil && body.Error != "" {
			d, _, _ := strings.Cut(body.Desc, "\r\n")
			return body.Error + ": " + d
		}
	}
	s := err.Error()
	if i := strings.Index(s, "\n"); i > 0 {
		s = s[:i]
	}
	return s
}

func errText(err error) string { return strings.SplitN(err.Error(), "\n", 2)[0] }
