package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/mfabot/mfabot/cmd/mfabot/config"
)

// TestDatabaseURL: a PostgreSQL URL's password is a secret: from the environment or a
// file, never the YAML file, and listed among the secrets output must never show.
func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	const withPW = "postgres://mfabot:hunter22-pw@db.contoso.com/mfabot?sslmode=verify-full"
	const noPW = "postgres://mfabot@db.contoso.com/mfabot?sslmode=verify-full"
	urlFile := writeFile(t, "db-url", withPW+"\n")
	tests := []struct {
		name, yaml string
		env        map[string]string
		want       string // the loaded db; "" when loading fails
		wantErr    string
	}{
		{name: "OK_SQLiteDefault", want: "mfabot.db"},
		{name: "OK_URLWithoutPasswordInFile", yaml: "db: " + noPW + "\n", want: noPW},
		{name: "OK_FromEnvironment", env: map[string]string{"MFABOT_DB": withPW}, want: withPW},
		{name: "OK_FromEnvFile", env: map[string]string{"MFABOT_DB_FILE": urlFile}, want: withPW},
		{name: "OK_EnvFileOverEnv", env: map[string]string{"MFABOT_DB": noPW, "MFABOT_DB_FILE": urlFile}, want: withPW},
		{name: "OK_FromKeyFile", yaml: "db_file: " + urlFile + "\n", want: withPW},
		{name: "ErrPasswordInFile", yaml: "db: " + withPW + "\n", wantErr: "line 1: db holds a database password: set MFABOT_DB or MFABOT_DB_FILE"},
		{name: "ErrPasswordParameterInFile", yaml: "db: postgres://db/mfabot?password=hunter22-pw\n", wantErr: "db holds a database password"},
		{name: "ErrMissingEnvFile", env: map[string]string{"MFABOT_DB_FILE": "/nonexistent/db-url"}, wantErr: "MFABOT_DB_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = writeFile(t, "c.yaml", tt.yaml)
			}
			cfg, err := config.Load(path, envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter22") {
					t.Fatal("the error repeats the password")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.DB != tt.want {
				t.Errorf("db = %q, want %q", cfg.DB, tt.want)
			}
			if has := slices.Contains(cfg.Secrets(), "hunter22-pw"); has != strings.Contains(tt.want, "hunter22-pw") {
				t.Errorf("Secrets() lists the password: %v; want %v", has, !has)
			}
		})
	}

	t.Run("ErrURLDoesNotParse", func(t *testing.T) {
		cfg, err := config.Load("", envOf(map[string]string{"MFABOT_DB": "postgres://mfabot:hunter22-pw@db:port/mfabot"}))
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "db (MFABOT_DB): not a valid PostgreSQL URL") || strings.Contains(err.Error(), "hunter22") {
			t.Fatalf("Validate = %v", err)
		}
	})
}
