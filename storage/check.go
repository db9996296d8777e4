package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names of the checks Check reports. They are part of mfabot doctor's --json contract
// (docs/deployment.md): automation may match on them.
const (
	CheckDatabase = "database"
	CheckAudit    = "audit"
)

// Reporter receives the outcome of each check: OK, a warning (mfabot works, with less or
// with more privilege than it needs) or a failure (it cannot work as configured). fix
// says what to do, "" when there is nothing to do; an OK may carry advice.
//
// It is declared here, where it is used, as graph, bot/slack and bot/teams declare the
// same one: a shared result type would need a package all of them may import, and the
// only one is approvals, the domain core, which has no business with diagnostics. Any
// type with these three methods (mfabot doctor's report) serves all four packages.
type Reporter interface {
	OK(check, msg, fix string)
	Warn(check, msg, fix string)
	Fail(check, msg, fix string)
}

// Check reports whether the database can serve, without changing it: serve applies
// migrations when it starts, and a check run before an upgrade must not migrate the
// database under the version still running. path is a SQLite file or a PostgreSQL URL,
// as Open takes. A missing SQLite file is fine when its directory is writable, an empty
// PostgreSQL schema when the user may create tables in it; an older schema is fine
// (serve migrates it); a newer one fails. On PostgreSQL Check also checks the user's
// privileges on mfabot's tables. When the schema is current it verifies the audit log's
// hash chain.
//
// It returns the database opened read-only when its schema is current, for the checks
// that read it (the Teams conversations), and nil otherwise; the caller closes it. The
// messages name mfabot's settings and commands as operators know them (README), and
// never a password.
func Check(ctx context.Context, path string, r Reporter) *DB {
	if path == "" {
		return nil // the configuration check named it
	}
	if IsPostgres(path) {
		return checkPostgres(ctx, path, r)
	}
	latest, err := LatestSchema()
	if err != nil {
		r.Fail(CheckDatabase, "cannot tell which schema this mfabot needs: "+errText(err), "reinstall mfabot: the migrations built into it are unreadable")
		return nil
	}
	dir := filepath.Dir(path)
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if werr := dirWritable(dir); werr != nil {
			r.Fail(CheckDatabase, fmt.Sprintf("%s does not exist and cannot be created: %s", path, errText(werr)),
				"create the directory and let the user mfabot runs as write to it (a persistent volume in a container), or change db (MFABOT_DB)")
			return nil
		}
		r.OK(CheckDatabase, fmt.Sprintf("%s does not exist yet: mfabot creates it at start (schema version %d)", path, latest), "")
		return nil
	case err != nil:
		r.Fail(CheckDatabase, "cannot read "+path+": "+errText(err), "run doctor as the user mfabot runs as")
		return nil
	case info.IsDir():
		r.Fail(CheckDatabase, path+" is a directory", "point db (MFABOT_DB) at a file inside it, such as "+filepath.Join(path, "mfabot.db"))
		return nil
	}
	if werr := dirWritable(dir); werr != nil {
		r.Fail(CheckDatabase, fmt.Sprintf("%s is not writable: %s", dir, errText(werr)),
			"SQLite keeps its -wal and -shm files next to the database: let the user mfabot runs as write to the directory (run doctor as that user)")
		return nil
	}
	db, err := OpenReadOnly(ctx, path)
	if err != nil {
		r.Fail(CheckDatabase, fmt.Sprintf("%s: %s", path, errText(err)), "point db (MFABOT_DB) at mfabot's database, or restore it from a backup")
		return nil
	}
	cur, _, err := db.MigrationStatus(ctx)
	switch {
	case err != nil:
		r.Fail(CheckDatabase, fmt.Sprintf("%s: %s", path, errText(err)), "point db (MFABOT_DB) at mfabot's database, or restore it from a backup")
	case cur > latest:
		r.Fail(CheckDatabase, fmt.Sprintf("%s has schema version %d, newer than this mfabot knows (%d): a newer mfabot migrated it", path, cur, latest),
			"run that newer mfabot, or restore the backup taken before the upgrade")
	case cur < latest:
		r.OK(CheckDatabase, fmt.Sprintf("%s has schema version %d; this mfabot migrates it to %d when it starts", path, cur, latest),
			"back the file up before starting the new version (docs/deployment.md, Backups)")
		r.Warn(CheckAudit, "not verified: the audit log is read with the schema this mfabot migrates to",
			"run `mfabot audit verify` with the mfabot that wrote the file, before upgrading")
	default:
		r.OK(CheckDatabase, fmt.Sprintf("%s opens; schema version %d is current", path, cur), "")
		db.checkAudit(ctx, r)
		return db
	}
	db.Close()
	return nil
}

// checkAudit verifies the audit log's hash chain from the first entry.
func (db *DB) checkAudit(ctx context.Context, r Reporter) {
	res, err := db.VerifyAudit(ctx)
	switch {
	case err != nil:
		r.Fail(CheckAudit, "cannot read the audit log: "+errText(err), "")
	case !res.OK:
		r.Fail(CheckAudit, res.String(),
			"someone changed the database behind mfabot's back: compare with your SIEM's copy (`mfabot audit export`) and investigate before trusting it")
	default:
		r.OK(CheckAudit, res.String()+", hash chain verified", "")
	}
}

// dirWritable reports whether a file can be created in dir, as SQLite must for its -wal
// and -shm files; the probe file is removed again.
func dirWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".mfabot-doctor-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// errText is the first line of an error: a check's message is one line.
func errText(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(s)
}
