package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	teamsmanifest "github.com/mfabot/mfabot/manifests/teams"
)

// runTeams builds the Teams app package: mfabot teams package --app-id GUID [--out FILE].
// The zip (manifest.json with the app id filled in, color.png, outline.png) is what Teams
// and the Teams admin center take as a custom app upload.
func runTeams(_ context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] != "package" {
		return errUsage
	}
	fs := newFlags("teams package", e)
	appID := fs.String("app-id", e.getenv("MFABOT_TEAMS_APP_ID"), "the Azure Bot's Microsoft App ID, a GUID (default MFABOT_TEAMS_APP_ID)")
	out := fs.String("out", "mfabot-teams.zip", "where to write the zip")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if *appID == "" {
		return fmt.Errorf("--app-id is required: the Azure Bot's Microsoft App ID (a GUID)")
	}
	zip, err := teamsmanifest.Package(*appID)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, zip); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s (%d bytes) for app %s: upload it in Teams (Apps → Manage your apps → Upload an app) or the Teams admin center (Teams apps → Manage apps → Upload new app)\n",
		*out, len(zip), *appID)
	return nil
}

// writeFileAtomic writes data to a temporary file next to path and renames it, so that a
// failed run never leaves a truncated zip where an upload expects a good one.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".mfabot-teams-*.zip")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
