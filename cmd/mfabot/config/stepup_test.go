package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
)

// base is a valid configuration, to which each case adds its step-up settings.
var base = map[string]string{
	"AZURE_TENANT_ID": "6f1c8e2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b", "AZURE_CLIENT_ID": "5e8f2c1a-7b3d-4c9e-8f6a-1d2b3c4d5e6f",
	"AZURE_CLIENT_SECRET": "s", "MFABOT_SLACK_BOT_TOKEN": "xoxb-1-2-abc", "MFABOT_SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
	"MFABOT_SLACK_CHANNEL": "C0123456789", "MFABOT_REQUESTERS": "slack:U1", "MFABOT_APPROVERS": "slack:U2",
}

func TestStepUpSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want approvals.StepUp // when valid
		err  string           // a part of the validation error
	}{
		{"OKOff", nil, approvals.StepUp{MaxAge: 5 * time.Minute}, ""},
		{"OK", map[string]string{"MFABOT_STEP_UP": "reset, Revoke-Group", "MFABOT_STEP_UP_CONTEXT": "c1", "MFABOT_PUBLIC_URL": "https://mfabot.contoso.com"},
			approvals.StepUp{Kinds: []approvals.Kind{approvals.KindReset, approvals.KindRevokeGroup}, MaxAge: 5 * time.Minute, Context: "c1"}, ""},
		{"OKMaxAge", map[string]string{"MFABOT_STEP_UP": "enforce", "MFABOT_STEP_UP_MAX_AGE": "15m", "MFABOT_PUBLIC_URL": "https://mfabot.contoso.com/"},
			approvals.StepUp{Kinds: []approvals.Kind{approvals.KindEnforce}, MaxAge: 15 * time.Minute}, ""},
		{"OKLoopbackHTTP", map[string]string{"MFABOT_STEP_UP": "reset", "MFABOT_PUBLIC_URL": "http://127.0.0.1:8080"},
			approvals.StepUp{Kinds: []approvals.Kind{approvals.KindReset}, MaxAge: 5 * time.Minute}, ""},
		{"ErrNoPublicURL", map[string]string{"MFABOT_STEP_UP": "reset"}, approvals.StepUp{}, "public_url (MFABOT_PUBLIC_URL): required with policy.step_up"},
		{"ErrPlainHTTP", map[string]string{"MFABOT_PUBLIC_URL": "http://mfabot.contoso.com"}, approvals.StepUp{}, "public_url (MFABOT_PUBLIC_URL): \"http://mfabot.contoso.com\" must start with https://"},
		{"ErrPath", map[string]string{"MFABOT_PUBLIC_URL": "https://contoso.com/mfabot"}, approvals.StepUp{}, "must be an origin only"},
		{"ErrKind", map[string]string{"MFABOT_STEP_UP": "reset,rest", "MFABOT_PUBLIC_URL": "https://mfabot.contoso.com"}, approvals.StepUp{}, `policy.step_up (MFABOT_STEP_UP): step-up for "rest": not a request kind`},
		{"ErrMaxAge", map[string]string{"MFABOT_STEP_UP_MAX_AGE": "2h"}, approvals.StepUp{}, "policy.step_up_max_age (MFABOT_STEP_UP_MAX_AGE): step-up max age must be between 1m0s and 1h0m0s"},
		{"ErrContext", map[string]string{"MFABOT_STEP_UP_CONTEXT": "mfa"}, approvals.StepUp{}, `policy.step_up_context (MFABOT_STEP_UP_CONTEXT): step-up context "mfa"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{}
			for k, v := range base {
				vars[k] = v
			}
			for k, v := range tt.vars {
				vars[k] = v
			}
			cfg, err := config.Load("", envOf(vars))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Validate = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := cfg.Policy()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.StepUp); diff != "" {
				t.Fatalf("step-up rule (-want +got):\n%s", diff)
			}
		})
	}
}

// The step-up flow uses the Graph app registration, its credential and its cloud.
func TestStepUpConfig(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"MFABOT_PUBLIC_URL": "https://mfabot.contoso.us", "MFABOT_GRAPH_CLOUD": "usgov",
		"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_CERTIFICATE_PATH": "/etc/mfabot/app.pem",
		"AZURE_CLIENT_CERTIFICATE_PASSWORD": "pw", "MFABOT_STEP_UP_CONTEXT": "c7", "MFABOT_STEP_UP_MAX_AGE": "10m"}
	cfg, err := config.Load("", envOf(vars))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.StepUpConfig(envOf(vars))
	if got.PublicURL != "https://mfabot.contoso.us" || got.TenantID != "t" || got.ClientID != "c" ||
		got.AuthorityHost != "https://login.microsoftonline.us/" || got.CertificatePath != "/etc/mfabot/app.pem" ||
		got.CertificatePassword != "pw" || got.Context != "c7" || got.MaxAge != 10*time.Minute {
		t.Fatalf("StepUpConfig = %+v", got)
	}
	vars["MFABOT_GRAPH_CLOUD"] = ""
	cfg, _ = config.Load("", envOf(vars))
	if got := cfg.StepUpConfig(envOf(vars)).AuthorityHost; got != "https://login.microsoftonline.com/" {
		t.Fatalf("public cloud authority %q", got)
	}
}
