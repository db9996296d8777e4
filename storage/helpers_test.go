package storage_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/approvals/approvalstest"
	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

// t0 is "now" in most tests: 09:00 UTC, so that messages show times of day.
var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

var (
	ann = approvals.Actor{Platform: "slack", ID: "U0ANN", Name: "Ann"}
	bob = approvals.Actor{Platform: "slack", ID: "U0BOB", Name: "Bob"}
	cat = approvals.Actor{Platform: "teams", ID: "29:cat", Name: "Cat", EntraID: "0F8FAD5B-D9CB-469F-A165-70867728950E"}
)

// engine is a database engine every behaviour test runs on: the same test, once per
// engine, so that mfabot behaves the same on both.
type engine struct {
	name string
	// dsn returns a fresh, empty database: a SQLite file in t.TempDir(), or a new schema
	// on the test binary's throwaway PostgreSQL server (without one the test is skipped,
	// or fails when MFABOT_REQUIRE_POSTGRES is set).
	dsn func(t testing.TB) string
	// raw opens a database as someone with a SQL shell would, mfabot out of the way.
	raw func(t testing.TB, dsn string) *rawDB
	// dropTriggers take the audit log's protections away, as that someone could.
	dropTriggers []string
}

var engines = []engine{
	{
		name: storage.EngineSQLite,
		dsn:  func(t testing.TB) string { return filepath.Join(t.TempDir(), "mfabot.db") },
		raw: func(t testing.TB, dsn string) *rawDB {
			return openRaw(t, "sqlite3", dsn+"?_busy_timeout=5000", false)
		},
		dropTriggers: []string{`DROP TRIGGER audit_no_update`, `DROP TRIGGER audit_no_delete`,
			`DROP TRIGGER audit_head_forward`, `DROP TRIGGER audit_head_no_delete`},
	},
	{
		name: storage.EnginePostgres,
		dsn:  storagetest.PostgresURL,
		raw: func(t testing.TB, dsn string) *rawDB {
			return openRaw(t, "pgx", dsn, true)
		},
		dropTriggers: []string{`ALTER TABLE audit DISABLE TRIGGER USER`, `ALTER TABLE audit_head DISABLE TRIGGER USER`},
	},
}

func TestMain(m *testing.M) { os.Exit(storagetest.Main(m)) }

// forEachEngine runs f once per engine, each a parallel subtest named after it.
func forEachEngine(t *testing.T, f func(t *testing.T, e engine)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			f(t, e)
		})
	}
}

// benchEachEngine runs f once per engine, each a sub-benchmark named after it.
func benchEachEngine(b *testing.B, f func(b *testing.B, e engine)) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) { f(b, e) })
	}
}

// open opens a fresh database of the engine whose clock says t0.
func (e engine) open(t testing.TB) *storage.DB {
	t.Helper()
	return openPath(t, e.dsn(t))
}

// openPath opens the database at path (a file or a URL), closing it at the end of the
// test.
func openPath(t testing.TB, path string) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), path, storage.WithClock(approvalstest.NewClock(t0)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tempPath is a SQLite file path in the test's directory, for the tests of SQLite's own
// behaviour.
func tempPath(t testing.TB) string { return filepath.Join(t.TempDir(), "mfabot.db") }

// rawDB is a database/sql handle that takes ? placeholders on either engine.
type rawDB struct {
	*sql.DB
	dollar bool
}

func openRaw(t testing.TB, driver, dsn string, dollar bool) *rawDB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &rawDB{DB: db, dollar: dollar}
}

func (r *rawDB) rebind(q string) string {
	if !r.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (r *rawDB) Exec(q string, args ...any) (sql.Result, error) {
	return r.DB.Exec(r.rebind(q), args...)
}

func (r *rawDB) QueryRow(q string, args ...any) *sql.Row { return r.DB.QueryRow(r.rebind(q), args...) }

// newRequest creates a pending reset of ann's, created at t0 and expiring an hour later;
// mods adjust it first.
// targets numbers the targets of newRequest.
var targets atomic.Int64

func newRequest(t testing.TB, db *storage.DB, mods ...func(*approvals.Request)) *approvals.Request {
	t.Helper()
	r := &approvals.Request{
		Kind:      approvals.KindReset,
		Requester: ann,
		// One open request per kind and target: each request gets a target of its own.
		Target: approvals.Target{Type: "user", ID: fmt.Sprintf("9a3b1c2d-%d", targets.Add(1)), Name: "dave@contoso.com"},
		Preview: approvals.Preview{
			Methods: []approvals.Method{{ID: "m1", ODataType: "#microsoft.graph.phoneAuthenticationMethod",
				Type: "phone", Detail: "+1 555 ••• 0123", PhoneType: "mobile", Deletable: true,
				Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}},
			Kept: []approvals.Method{{ID: "p", Type: "password", Note: "the password stays"}},
		},
		Reason:    "lost phone",
		CreatedAt: t0,
		ExpiresAt: t0.Add(time.Hour),
	}
	for _, m := range mods {
		m(r)
	}
	ev := approvals.AuditEvent{Time: r.CreatedAt, Type: approvals.EventRequested, Actor: r.Requester, Detail: "reset"}
	if err := db.CreateRequest(context.Background(), r, ev); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	return r
}

// approve approves id as a at time at, with one approval required.
func approve(t testing.TB, db *storage.DB, id string, a approvals.Actor, at time.Time) *approvals.Request {
	t.Helper()
	r, err := db.Approve(context.Background(), id, approvals.Decision{Actor: a, At: at},
		1, approvals.AuditEvent{Time: at, Type: approvals.EventApproved, Actor: a})
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	return r
}

// running creates a request, approves it and claims it for owner until leaseUntil.
func running(t testing.TB, db *storage.DB, owner string, leaseUntil time.Time) *approvals.Request {
	t.Helper()
	r := newRequest(t, db)
	approve(t, db, r.ID, bob, t0.Add(14*time.Minute))
	c, err := db.Claim(context.Background(), owner, t0.Add(15*time.Minute), leaseUntil, nil, approvals.AuditEvent{Type: approvals.EventStarted})
	if err != nil || c == nil || c.ID != r.ID {
		t.Fatalf("Claim = %v, %v; want %s", c, err, r.ID)
	}
	return c
}

// auditEvents exports the whole audit log.
func auditEvents(t testing.TB, db *storage.DB) []approvals.AuditEvent {
	t.Helper()
	var evs []approvals.AuditEvent
	if err := db.ExportAudit(context.Background(), time.Time{}, func(ev approvals.AuditEvent) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		t.Fatalf("ExportAudit: %v", err)
	}
	return evs
}

// eventTypes lists the types of the audit events about request id.
func eventTypes(t testing.TB, db *storage.DB, id string) []string {
	t.Helper()
	var types []string
	for _, ev := range auditEvents(t, db) {
		if ev.RequestID == id {
			types = append(types, ev.Type)
		}
	}
	return types
}

// wantErr checks err's code and, when msg is not "", that its message contains msg.
func wantErr(t testing.TB, err error, code, msg string) {
	t.Helper()
	if got := approvals.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q); want code %q", err, got, code)
	}
	if msg != "" && !strings.Contains(approvals.ErrorMessage(err), msg) {
		t.Fatalf("message = %q; want it to contain %q", approvals.ErrorMessage(err), msg)
	}
}

// wantVerified checks that the audit chain verifies.
func wantVerified(t testing.TB, db *storage.DB) storage.VerifyResult {
	t.Helper()
	v, err := db.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	if !v.OK {
		t.Fatalf("VerifyAudit: %v", v)
	}
	return v
}
