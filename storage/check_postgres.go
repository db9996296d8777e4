package storage

import (
	"context"
	"fmt"
	"strings"
)

// tablePrivileges are the privileges mfabot's user needs on each table to serve. The
// audit log needs no UPDATE or DELETE: its triggers refuse them anyway.
var tablePrivileges = []struct{ table, privileges string }{
	{"schema_migrations", "SELECT"},
	{"requests", "SELECT INSERT UPDATE"},
	{"decisions", "SELECT INSERT"},
	{"items", "SELECT INSERT UPDATE"},
	{"message_refs", "SELECT INSERT UPDATE"},
	{"audit", "SELECT INSERT"},
	{"audit_head", "SELECT UPDATE"},
	{"conversations", "SELECT INSERT UPDATE"},
	{"snapshots", "SELECT INSERT UPDATE"},
	{"job_runs", "SELECT INSERT UPDATE"},
}

// checkPostgres is Check for a PostgreSQL URL: the connection (read-only), the server
// version, the schema version and the privileges mfabot needs.
func checkPostgres(ctx context.Context, dsn string, r Reporter) *DB {
	name := Redact(dsn)
	latest, err := LatestSchema()
	if err != nil {
		r.Fail(CheckDatabase, "cannot tell which schema this mfabot needs: "+errText(err), "reinstall mfabot: the migrations built into it are unreadable")
		return nil
	}
	db, err := OpenReadOnly(ctx, dsn)
	if err != nil {
		r.Fail(CheckDatabase, fmt.Sprintf("%s does not answer: %s", name, errText(err)),
			"check the host, port, database, user and password in db (MFABOT_DB or MFABOT_DB_FILE), that the server lets mfabot's address in (pg_hba.conf, firewalls) and the TLS settings (sslmode, sslrootcert)")
		return nil
	}
	var server, user string
	if err := db.rdb.QueryRowContext(ctx, `SELECT current_setting('server_version'), current_user`).Scan(&server, &user); err != nil {
		db.Close()
		r.Fail(CheckDatabase, fmt.Sprintf("%s: %s", name, errText(err)), "")
		return nil
	}
	where := fmt.Sprintf("%s (PostgreSQL %s, schema %s, user %s)", name, server, db.schema, user)
	cur, _, err := db.MigrationStatus(ctx)
	switch {
	case err != nil:
		r.Fail(CheckDatabase, fmt.Sprintf("%s: %s", where, errText(err)),
			"point db (MFABOT_DB) at mfabot's database and schema (search_path=… in the URL), or restore it from a backup")
	case cur > latest:
		r.Fail(CheckDatabase, fmt.Sprintf("%s has schema version %d, newer than this mfabot knows (%d): a newer mfabot migrated it", where, cur, latest),
			"run that newer mfabot, or restore the backup taken before the upgrade")
	case cur < latest:
		if ok, err := db.mayCreate(ctx); err != nil || !ok {
			r.Fail(CheckDatabase, fmt.Sprintf("%s: user %s may not create tables in schema %s, and mfabot creates or migrates its tables when it starts (schema version %d of %d)", where, user, db.schema, cur, latest),
				fmt.Sprintf("GRANT CREATE ON SCHEMA %s TO %s (or make %s the schema's owner), or start mfabot once with a user that may", db.schema, user, user))
			break
		}
		if cur == 0 {
			r.OK(CheckDatabase, fmt.Sprintf("%s answers; no mfabot tables yet: mfabot creates them when it starts (schema version %d)", where, latest), "")
			break
		}
		r.OK(CheckDatabase, fmt.Sprintf("%s has schema version %d; this mfabot migrates it to %d when it starts", where, cur, latest),
			"back the database up before starting the new version (docs/deployment.md, Backups)")
		r.Warn(CheckAudit, "not verified: the audit log is read with the schema this mfabot migrates to",
			"run `mfabot audit verify` with the mfabot that wrote the database, before upgrading")
	default:
		missing, err := db.missingPrivileges(ctx)
		switch {
		case err != nil:
			r.Fail(CheckDatabase, fmt.Sprintf("%s: cannot read privileges: %s", where, errText(err)), "")
		case len(missing) > 0:
			r.Fail(CheckDatabase, fmt.Sprintf("%s: user %s lacks %s", where, user, strings.Join(missing, ", ")),
				fmt.Sprintf("GRANT them to %s, or run mfabot as the user that owns the tables", user))
		default:
			r.OK(CheckDatabase, fmt.Sprintf("%s answers; schema version %d is current; user %s has the privileges mfabot needs", where, cur, user), "")
			db.checkAudit(ctx, r)
			return db
		}
	}
	db.Close()
	return nil
}

// mayCreate reports whether the user may create tables in mfabot's schema.
func (db *DB) mayCreate(ctx context.Context) (bool, error) {
	var ok bool
	err := db.rdb.QueryRowContext(ctx, `SELECT has_schema_privilege(?, 'CREATE')`, db.schema).Scan(&ok)
	return ok, err
}

// missingPrivileges lists the privileges of tablePrivileges the user lacks, as
// "INSERT on audit".
func (db *DB) missingPrivileges(ctx context.Context) ([]string, error) {
	var missing []string
	for _, tp := range tablePrivileges {
		for _, priv := range strings.Fields(tp.privileges) {
			var ok bool
			// One privilege at a time: has_table_privilege answers "any of" for a list.
			err := db.rdb.QueryRowContext(ctx, `SELECT has_table_privilege(quote_ident(?) || '.' || quote_ident(?), ?)`,
				db.schema, tp.table, priv).Scan(&ok)
			if err != nil {
				return nil, fmt.Errorf("privileges on %s: %w", tp.table, err)
			}
			if !ok {
				missing = append(missing, priv+" on "+tp.table)
			}
		}
	}
	return missing, nil
}
