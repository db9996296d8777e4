package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/storage"
)

// auditDB writes a few audit entries, one with a reason that looks like a formula.
func auditDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mfabot.db")
	db, err := storage.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for i, detail := range []string{"reset user ann@contoso.com", "=HYPERLINK(\"http://evil\")", "approved", "finished"} {
		ev := approvals.AuditEvent{Time: at.Add(time.Duration(i) * 24 * time.Hour), Type: approvals.EventRequested, Detail: detail,
			Actor: approvals.Actor{Platform: "slack", ID: "UANN", Name: "Ann"}}
		if err := db.Audit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	return path
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, env{stdout: &out, stderr: &errOut, getenv: envOf(nil)})
	return code, out.String(), errOut.String()
}

// TestAuditVerifyAfterShellEdit: an edit made with the sqlite3 shell, triggers dropped as
// an attacker would, is found and named.
func TestAuditVerifyAfterShellEdit(t *testing.T) {
	t.Parallel()
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("exec.LookPath found no sqlite3 shell (apt-get install sqlite3)")
	}
	path := auditDB(t)
	if code, out, _ := runCmd(t, "audit", "verify", "--db", path); code != 0 || !strings.Contains(out, "intact: 4 entries") {
		t.Fatalf("verify before the edit: %d %s", code, out)
	}
	edit := "DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'approved by nobody' WHERE seq = 3;"
	if out, err := exec.Command(shell, path, edit).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	code, out, _ := runCmd(t, "audit", "verify", "--db", path)
	if code != 1 || !strings.Contains(out, "broken at entry 3") {
		t.Fatalf("verify after the edit: exit %d, %s", code, out)
	}
	del := "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 2;"
	if out, err := exec.Command(shell, path, del).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	if code, out, _ := runCmd(t, "audit", "verify", "--db", path); code != 1 || !strings.Contains(out, "entry 2") {
		t.Fatalf("verify after a deletion: exit %d, %s", code, out)
	}
}

func TestAuditExport(t *testing.T) {
	t.Parallel()
	path := auditDB(t)
	code, out, errOut := runCmd(t, "audit", "export", "--db", path, "--format", "jsonl", "--since", "2026-11-21")
	if code != 0 {
		t.Fatalf("export: %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("jsonl since 2026-11-21: %d lines", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec["seq"].(float64) != 2 || rec["hash"] == "" || rec["actor_id"] != "UANN" {
		t.Fatalf("record = %v %v", rec, err)
	}
	code, out, _ = runCmd(t, "audit", "export", "--db", path, "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 5 || rows[0][0] != "seq" {
		t.Fatalf("csv: %d %v %d rows", code, err, len(rows))
	}
	if rows[2][8] != `'=HYPERLINK("http://evil")` {
		t.Fatalf("a formula-looking detail was not neutralised: %q", rows[2][8])
	}
	if code, _, errOut := runCmd(t, "audit", "export", "--db", path, "--format", "xml"); code != 1 || !strings.Contains(errOut, "use csv or jsonl") {
		t.Fatalf("bad format: %d %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "audit", "export", "--db", path, "--since", "last week"); code != 1 || !strings.Contains(errOut, "--since") {
		t.Fatalf("bad since: %d %s", code, errOut)
	}
}
