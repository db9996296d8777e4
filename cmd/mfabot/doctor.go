package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mfabot/mfabot/cmd/mfabot/doctor"
)

// runDoctor checks the configuration, the database, Graph (token, permissions, licence),
// Slack and Teams, prints what it found, and exits 1 if anything stops mfabot from
// working. o lets tests point it at fakes.
func runDoctor(ctx context.Context, args []string, e env, o doctor.Options) error {
	fs := newFlags("doctor", e)
	configPath := fs.String("config", "", "configuration file (YAML); every key can come from the environment")
	asJSON := fs.Bool("json", false, `print {"ok":bool,"checks":[{"name","status","message","fix"}]}`)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	r := doctor.Run(ctx, *configPath, e.getenv, o)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		r.Print(e.stdout)
	}
	if !r.OK {
		return exitError{code: 1}
	}
	return nil
}
