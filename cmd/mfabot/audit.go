package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/cmd/mfabot/config"
	"github.com/mfabot/mfabot/storage"
)

// runAudit verifies or exports the audit log.
func runAudit(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return errUsage
	}
	fs := newFlags("audit "+args[0], e)
	configPath := fs.String("config", "", "configuration file (for the database path)")
	dbPath := fs.String("db", "", "SQLite database file or PostgreSQL URL (default: from --config, MFABOT_DB or MFABOT_DB_FILE; a URL with a password belongs in the environment)")
	format := fs.String("format", "jsonl", "export format: csv or jsonl")
	since := fs.String("since", "", "export entries at or after this time (RFC 3339 or YYYY-MM-DD)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	db, err := openReadOnly(ctx, *dbPath, *configPath, e)
	if err != nil {
		return err
	}
	defer db.Close()

	switch args[0] {
	case "verify":
		res, err := db.VerifyAudit(ctx)
		if err != nil {
			return fmt.Errorf("verify audit log: %w", err)
		}
		fmt.Fprintln(e.stdout, res.String())
		if !res.OK {
			return exitError{code: 1}
		}
		return nil
	case "export":
		var t time.Time
		if *since != "" {
			if t, err = parseSince(*since); err != nil {
				return err
			}
		}
		return exportAudit(ctx, db, *format, t, e)
	}
	return errUsage
}

func parseSince(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: use RFC 3339 (2026-11-22T09:00:00Z) or a date (2026-11-22)", s)
}

// auditRecord is the export shape of one audit entry; its field names are what a SIEM
// ingests, so they are stable.
type auditRecord struct {
	Seq           int64  `json:"seq"`
	Time          string `json:"time"`
	RequestID     string `json:"request_id,omitempty"`
	Type          string `json:"type"`
	ActorPlatform string `json:"actor_platform,omitempty"`
	ActorID       string `json:"actor_id,omitempty"`
	ActorName     string `json:"actor_name,omitempty"`
	ActorEntraID  string `json:"actor_entra_id,omitempty"`
	Detail        string `json:"detail,omitempty"`
	PrevHash      string `json:"prev_hash"`
	Hash          string `json:"hash"`
}

func recordOf(ev approvals.AuditEvent) auditRecord {
	return auditRecord{
		Seq: ev.Seq, Time: ev.Time.UTC().Format(time.RFC3339Nano), RequestID: ev.RequestID, Type: ev.Type,
		ActorPlatform: ev.Actor.Platform, ActorID: ev.Actor.ID, ActorName: ev.Actor.Name, ActorEntraID: ev.Actor.EntraID,
		Detail: ev.Detail, PrevHash: ev.PrevHash, Hash: ev.Hash,
	}
}

func exportAudit(ctx context.Context, db *storage.DB, format string, since time.Time, e env) error {
	switch format {
	case "jsonl":
		enc := json.NewEncoder(e.stdout)
		return db.ExportAudit(ctx, since, func(ev approvals.AuditEvent) error {
			return enc.Encode(recordOf(ev))
		})
	case "csv":
		w := csv.NewWriter(e.stdout)
		_ = w.Write([]string{"seq", "time", approvals.LogRequestID, "type", "actor_platform", "actor_id", "actor_name", "actor_entra_id", "detail", "prev_hash", "hash"})
		err := db.ExportAudit(ctx, since, func(ev approvals.AuditEvent) error {
			r := recordOf(ev)
			return w.Write([]string{strconv.FormatInt(r.Seq, 10), r.Time, r.RequestID, r.Type, r.ActorPlatform, r.ActorID,
				csvSafe(r.ActorName), r.ActorEntraID, csvSafe(r.Detail), r.PrevHash, r.Hash})
		})
		w.Flush()
		if err != nil {
			return err
		}
		return w.Error()
	}
	return fmt.Errorf("--format %q: use csv or jsonl", format)
}

// csvSafe keeps spreadsheet programs from running user text (a reason) as a formula.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

// openReadOnly opens the database named by the --db flag, else by the configuration, for
// the commands that only read it (audit verify and export, request show): they never
// migrate or write it.
func openReadOnly(ctx context.Context, dbFlag, configPath string, e env) (*storage.DB, error) {
	path := dbFlag
	if path == "" {
		cfg, err := config.Load(configPath, e.getenv)
		if err != nil {
			return nil, err
		}
		path = cfg.DB
	}
	db, err := storage.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}
