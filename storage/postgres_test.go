package storage_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

// TestPostgresURL: which db values select PostgreSQL, and what of them may be shown.
func TestPostgresURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dsn      string
		postgres bool
		redacted string
		password string
	}{
		{"mfabot.db", false, "mfabot.db", ""},
		{"/var/lib/mfabot/postgres://x.db", false, "/var/lib/mfabot/postgres://x.db", ""},
		{"postgres://db.contoso.com/mfabot", true, "postgres://db.contoso.com/mfabot", ""},
		{"PostgreSQL://mfabot@db/mfabot", true, "postgresql://mfabot@db/mfabot", ""},
		{"postgres://mfabot:s3cr%2Ft@db:5432/mfabot?sslmode=verify-full", true, "postgres://mfabot:xxxxx@db:5432/mfabot?sslmode=verify-full", "s3cr/t"},
		{"postgresql://db/mfabot?user=mfabot&password=hunter22", true, "postgresql://db/mfabot?password=xxxxx&user=mfabot", "hunter22"},
		{"postgres://mfabot:p@ss%zz@db/mfabot", true, "postgres://(a URL that does not parse)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			if got := storage.IsPostgres(tt.dsn); got != tt.postgres {
				t.Errorf("IsPostgres = %v; want %v", got, tt.postgres)
			}
			if got := storage.Redact(tt.dsn); got != tt.redacted {
				t.Errorf("Redact = %q; want %q", got, tt.redacted)
			}
			if got := storage.URLPassword(tt.dsn); got != tt.password {
				t.Errorf("URLPassword = %q; want %q", got, tt.password)
			}
		})
	}
}

// TestOpenPostgres covers what only a PostgreSQL URL has: a password, which no error
// repeats, and a schema, which must exist.
func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := storagetest.PostgresURL(t)
	password := storage.URLPassword(good)
	if password == "" {
		t.Fatal("the test server's URL has no password")
	}
	with := func(f func(u *url.URL)) string {
		u, err := url.Parse(good)
		if err != nil {
			t.Fatal(err)
		}
		f(u)
		return u.String()
	}
	tests := []struct {
		name, dsn, want string
	}{
		{"ErrWrongPassword", with(func(u *url.URL) { u.User = url.UserPassword("mfabot", password+"-wrong") }), "password authentication failed"},
		{"ErrNoSuchSchema", with(func(u *url.URL) { u.RawQuery = "sslmode=disable&search_path=nosuchschema" }), "no schema to keep mfabot's tables in"},
		{"ErrNoSuchDatabase", with(func(u *url.URL) { u.Path = "/nosuchdb" }), `database "nosuchdb" does not exist`},
		{"ErrBadParameter", with(func(u *url.URL) { u.RawQuery = "sslmode=sometimes" }), "sslmode"},
		{"ErrDoesNotParse", "postgres://mfabot:" + password + "%zz@db/mfabot", "not a valid PostgreSQL URL"},
		{"ErrBadPort", "postgres://mfabot:" + password + "@db:port/mfabot", "not a valid PostgreSQL URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, open := range []func(context.Context, string, ...storage.Option) (*storage.DB, error){storage.Open, storage.OpenReadOnly} {
				db, err := open(ctx, tt.dsn)
				if err == nil {
					db.Close()
					t.Fatal("opened")
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error = %v; want it to say %q", err, tt.want)
				}
				if strings.Contains(err.Error(), password) {
					t.Errorf("the error shows the password: %v", err)
				}
				if strings.HasPrefix(tt.want, "not a valid") && storage.ValidateURL(tt.dsn) == nil {
					t.Error("ValidateURL accepts it")
				}
			}
		})
	}

	// An owner role migrates; a role that may only read and write the tables serves (and
	// cannot take the audit log's triggers away, which an owner could).
	t.Run("OK_ServeWithoutOwnership", func(t *testing.T) {
		dsn := storagetest.PostgresURL(t)
		openPath(t, dsn).Close()
		u, _ := url.Parse(dsn)
		schema := u.Query().Get("search_path")
		role := "serve_" + schema
		admin, err := storagetest.SharedPostgres(t).AdminURL(dsn)
		if err != nil {
			t.Fatal(err)
		}
		raw := openRaw(t, "pgx", admin, true)
		for _, q := range []string{
			"CREATE ROLE " + role + " LOGIN PASSWORD 'serve-pw-1234'",
			"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
			"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
		} {
			if _, err := raw.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		u.User = url.UserPassword(role, "serve-pw-1234")
		db := openPath(t, u.String())
		r := newRequest(t, db)
		approve(t, db, r.ID, bob, t0.Add(time.Minute))
		wantVerified(t, db)
		for _, q := range []string{"ALTER TABLE audit DISABLE TRIGGER USER", "DELETE FROM audit"} {
			if _, err := openRaw(t, "pgx", u.String(), true).Exec(q); err == nil {
				t.Errorf("%s: succeeded for the serving role", q)
			}
		}
	})

	t.Run("OK_PathAndSchema", func(t *testing.T) {
		db := openPath(t, good)
		if got := db.Path(); got != storage.Redact(good) || strings.Contains(got, password) {
			t.Errorf("Path() = %s; want the URL without its password", got)
		}
		u, _ := url.Parse(good)
		if got := db.Schema(); got != u.Query().Get("search_path") {
			t.Errorf("Schema() = %q; want the search_path", got)
		}
	})
}

func TestCheckPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := storagetest.SharedPostgres(t)
	latest, _ := storage.LatestSchema()
	check := func(t *testing.T, dsn string) ([]string, *storage.DB) {
		t.Helper()
		var f findings
		db := storage.Check(ctx, dsn, &f)
		if db != nil {
			t.Cleanup(func() { db.Close() })
		}
		for _, l := range f.lines {
			if pw := storage.URLPassword(dsn); strings.Contains(l, pw) {
				t.Errorf("a finding shows the password: %s", l)
			}
		}
		return f.lines, db
	}
	admin := func(t *testing.T, dsn string, stmts ...string) {
		t.Helper()
		u, err := pg.AdminURL(dsn)
		if err != nil {
			t.Fatal(err)
		}
		raw := openRaw(t, "pgx", u, true)
		for _, s := range stmts {
			if _, err := raw.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	schemaOf := func(dsn string) string {
		u, _ := url.Parse(dsn)
		return u.Query().Get("search_path")
	}

	t.Run("OK_CurrentKeptOpenReadOnly", func(t *testing.T) {
		dsn := storagetest.PostgresURL(t)
		newRequest(t, openPath(t, dsn))
		lines, db := check(t, dsn)
		if db == nil || len(lines) != 2 || !strings.HasPrefix(lines[0], "ok database: "+storage.Redact(dsn)+" (PostgreSQL ") ||
			!strings.Contains(lines[0], "schema version") || !strings.Contains(lines[0], "has the privileges mfabot needs") ||
			lines[1] != "ok audit: audit log intact: 1 entries, hash chain verified" {
			t.Fatalf("reported %q", lines)
		}
		if _, err := db.Conversations(ctx, "teams"); err != nil {
			t.Errorf("the returned database does not read: %v", err)
		}
	})
	t.Run("OK_EmptySchemaLeftAlone", func(t *testing.T) {
		dsn := storagetest.PostgresURL(t)
		lines, db := check(t, dsn)
		if db != nil || len(lines) != 1 || !strings.Contains(lines[0], "no mfabot tables yet") {
			t.Fatalf("reported %q", lines)
		}
		if cur, _, err := openReadOnly(t, dsn).MigrationStatus(ctx); err != nil || cur != 0 {
			t.Errorf("after Check: schema version %d, %v; want 0 (nothing created)", cur, err)
		}
	})
	t.Run("ErrMayNotCreate", func(t *testing.T) {
		dsn := storagetest.PostgresURL(t)
		admin(t, dsn, "ALTER SCHEMA "+schemaOf(dsn)+" OWNER TO postgres", "GRANT USAGE ON SCHEMA "+schemaOf(dsn)+" TO mfabot")
		lines, _ := check(t, dsn)
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "fail database: ") || !strings.Contains(lines[0], "may not create tables in schema "+schemaOf(dsn)) {
			t.Fatalf("reported %q", lines)
		}
	})
	t.Run("ErrPrivilegeMissing", func(t *testing.T) {
		dsn := storagetest.PostgresURL(t)
		openPath(t, dsn).Close()
		admin(t, dsn, "REVOKE INSERT ON "+schemaOf(dsn)+".audit FROM mfabot", "REVOKE UPDATE ON "+schemaOf(dsn)+".items FROM mfabot")
		lines, db := check(t, dsn)
		if db != nil || len(lines) != 1 || !strings.Contains(lines[0], "lacks UPDATE on items, INSERT on audit") {
			t.Fatalf("reported %q", lines)
		}
	})
	t.Run("ErrNewerSchema", func(t *testing.T) {
		dsn := storagetest.PostgresURL(t)
		openPath(t, dsn).Close()
		admin(t, dsn, "INSERT INTO "+schemaOf(dsn)+".schema_migrations VALUES (9999, '9999_future.sql', '')")
		lines, _ := check(t, dsn)
		if len(lines) != 1 || !strings.Contains(lines[0], "newer than this mfabot knows") {
			t.Fatalf("reported %q", lines)
		}
	})
	t.Run("OK_OlderSchema", func(t *testing.T) {
		dsn := storagetest.PostgresURL(t)
		openPath(t, dsn).Close()
		admin(t, dsn, "DELETE FROM "+schemaOf(dsn)+".schema_migrations WHERE version = "+strconv.Itoa(latest))
		lines, _ := check(t, dsn)
		if len(lines) != 2 || !strings.Contains(lines[0], "migrates it to "+strconv.Itoa(latest)) || !strings.HasPrefix(lines[1], "warn audit") {
			t.Fatalf("reported %q", lines)
		}
	})
	t.Run("ErrDoesNotAnswer", func(t *testing.T) {
		u, _ := url.Parse(storagetest.PostgresURL(t))
		u.User = url.UserPassword("mfabot", "not-the-password")
		lines, _ := check(t, u.String())
		if len(lines) != 1 || !strings.Contains(lines[0], "does not answer") {
			t.Fatalf("reported %q", lines)
		}
	})
}

func openReadOnly(t *testing.T, dsn string) *storage.DB {
	t.Helper()
	db, err := storage.OpenReadOnly(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
