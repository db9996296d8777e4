package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/mfabot/mfabot/cmd/mfabot/doctor"
	"github.com/mfabot/mfabot/storage"
	"github.com/mfabot/mfabot/storage/storagetest"
)

// TestDoctorPostgres: doctor checks a PostgreSQL database (connection, schema version,
// privileges, audit log) and never prints the URL's password, in its findings or echoed
// by a failure.
func TestDoctorPostgres(t *testing.T) {
	t.Parallel()
	pg := storagetest.SharedPostgres(t)
	dbURL, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	password := storage.URLPassword(dbURL)
	migrated := func(t *testing.T) {
		db, err := storage.Open(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	wrongPW, _ := url.Parse(dbURL)
	wrongPW.User = url.UserPassword("mfabot", password+"-wrong")
	tests := []struct {
		name  string
		setup func(t *testing.T)
		vars  map[string]string
		code  int
		want  []want
	}{
		{name: "OKEmptyDatabase", vars: map[string]string{"MFABOT_DB": dbURL}, want: []want{
			{storage.CheckDatabase, doctor.StatusOK, "no mfabot tables yet"}}},
		{name: "OKCurrent", setup: migrated, vars: map[string]string{"MFABOT_DB": dbURL}, want: []want{
			{storage.CheckDatabase, doctor.StatusOK, "has the privileges mfabot needs"},
			{storage.CheckAudit, doctor.StatusOK, "hash chain verified"}}},
		{name: "OKFromFile", setup: migrated, vars: map[string]string{"MFABOT_DB": "", "MFABOT_DB_FILE": writeURL(t, dbURL)}, want: []want{
			{storage.CheckDatabase, doctor.StatusOK, fmt.Sprintf("schema version %d is current", latestSchema(t))}}},
		{name: "FailWrongPassword", vars: map[string]string{"MFABOT_DB": wrongPW.String()}, code: 1, want: []want{
			{storage.CheckDatabase, doctor.StatusFail, "password authentication failed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			vars, deps := doctorCase{vars: tt.vars}.start(t)
			res := runDoctorTest(t, vars, deps, password, password+"-wrong")
			assertChecks(t, res, tt.code, tt.want)
		})
	}
}

func writeURL(t *testing.T, u string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db-url")
	if err := os.WriteFile(path, []byte(u+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func latestSchema(t *testing.T) int {
	t.Helper()
	n, err := storage.LatestSchema()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
