package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot/stepup"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
)

// newStepUp builds the step-up flow when the policy names kinds that need it (nil
// otherwise): the configuration's public URL, app registration and credential, the
// database for its one-time links, Graph for the approver's login_hint.
func newStepUp(cfg *config.Config, getenv func(string) string, pol approvals.Policy, store stepup.Store, users stepup.UserResolver,
	client *http.Client, clock approvals.Clock, log *slog.Logger) (*stepup.Flow, error) {
	if len(pol.StepUp.Kinds) == 0 {
		return nil, nil
	}
	sc := cfg.StepUpConfig(getenv)
	sc.Store, sc.Users, sc.HTTPClient, sc.Clock, sc.Logger = store, users, client, clock, log
	f, err := stepup.New(sc)
	if err != nil {
		return nil, fmt.Errorf("step-up: %w", err)
	}
	log.Info("step-up on", "kinds", pol.StepUp.Kinds, "max_age", pol.StepUp.Fresh(), "context", pol.StepUp.Context, "redirect_uri", f.RedirectURI())
	return f, nil
}
