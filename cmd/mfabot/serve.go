package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/mfabot/mfabot/cmd/mfabot/config"
)

// runServe runs mfabot in production: the configured platforms, the executor, the
// sweeper and the daily summary, until SIGTERM.
func runServe(ctx context.Context, args []string, e env) error {
	fs := newFlags("serve", e)
	configPath := fs.String("config", "", "configuration file (YAML); every key can come from the environment")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	app, cfg, log, err := openApp(ctx, *configPath, e)
	if err != nil {
		return err
	}
	defer app.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	log.Info("mfabot serving", "addr", ln.Addr().String(), "version", version,
		"slack", cfg.SlackEnabled(), "socket_mode", cfg.SlackAppToken != "", "teams", cfg.TeamsEnabled())
	return app.Run(ctx, ln, cfg.SummaryEnabled)
}

// openApp loads a valid configuration and builds the App from it, as serve and the
// commands that act like it (summary) need.
func openApp(ctx context.Context, configPath string, e env) (*App, *config.Config, *slog.Logger, error) {
	cfg, err := loadValid(configPath, e)
	if err != nil {
		return nil, nil, nil, err
	}
	log := newLogger(cfg, e.stderr)
	app, err := NewApp(ctx, cfg, log, e.getenv, appDeps{})
	if err != nil {
		return nil, nil, nil, err
	}
	return app, cfg, log, nil
}

// loadValid loads the configuration and reports every problem at once.
func loadValid(path string, e env) (*config.Config, error) {
	cfg, err := config.Load(path, e.getenv)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return cfg, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	o := &slog.HandlerOptions{Level: level}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// runSummary builds the enrollment summary and prints it, or posts it (for cron).
func runSummary(ctx context.Context, args []string, e env) error {
	fs := newFlags("summary", e)
	configPath := fs.String("config", "", "configuration file (YAML)")
	post := fs.Bool("post", false, "post to the configured channels (once per day and channel, shared with the daily schedule)")
	force := fs.Bool("force", false, "with --post: post even if today's summary was already posted")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	app, _, _, err := openApp(ctx, *configPath, e)
	if err != nil {
		return err
	}
	defer app.Close()
	if !*post {
		msg, err := app.Summary.Build(ctx)
		if err != nil {
			return err
		}
		_, err = io.WriteString(e.stdout, msg.PlainText())
		return err
	}
	if app.Slack != nil {
		if err := app.Slack.Connect(ctx); err != nil {
			return fmt.Errorf("slack: %w", err)
		}
	}
	if *force {
		return app.Summary.PostNow(ctx)
	}
	return app.Summary.PostDaily(ctx, time.Now())
}
