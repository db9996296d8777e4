package main

import (
	"context"
	"fmt"
	"os"

	teamsmanifest "github.com/mfabot/mfabot/manifests/teams"
)

// runTeams builds the Teams app package: mfabot teams package --app-id GUID [--out FILE].
func runTeams(_ context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] != "package" {
		return errUsage
	}
	fs := newFlags("teams package", e)
	appID := fs.String("app-id", e.getenv("MFABOT_TEAMS_APP_ID"), "the Azure Bot's Microsoft App ID (default MFABOT_TEAMS_APP_ID)")
	out := fs.String("out", "mfabot-teams.zip", "where to write the zip")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if *appID == "" {
		return fmt.Errorf("--app-id is required: the Azure Bot's Microsoft App ID (a GUID)")
	}
	zip, err := teamsmanifest.Package(*appID)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, zip, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(e.stdout, "wrote %s (%d bytes): upload it in Teams (Apps → Manage your apps → Upload an app) or the Teams admin center\n", *out, len(zip))
	return nil
}
