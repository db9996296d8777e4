package config

import (
	"fmt"

	"github.com/mfabot/mfabot/storage"
)

// fromFile reports whether a setting may also come from a file, named by the variable
// with _FILE appended or the key with _file appended: every secret, and the database,
// whose PostgreSQL URL may carry a password.
func (s Setting) fromFile() bool { return s.Secret || s.Key == "db" }

// checkWritten refuses a value of a setting that is not a secret but holds one where it
// was written into the YAML file: a PostgreSQL URL with a password. The message does not
// repeat the value.
func checkWritten(s Setting, c *Config) error {
	if s.Key == "db" && storage.URLPassword(c.DB) != "" {
		return fmt.Errorf("%s holds a database password: set %s or %s_FILE, or db_file, instead of writing it into the file (or leave the password out of the URL and set PGPASSWORD)", s.Key, s.Env, s.Env)
	}
	return nil
}

// databaseSecrets are the secrets the database setting holds: the password of a
// PostgreSQL URL.
func (c *Config) databaseSecrets() []string {
	if p := storage.URLPassword(c.DB); p != "" {
		return []string{p}
	}
	return nil
}

// validateDatabase checks that a PostgreSQL URL parses, without connecting.
func (c *Config) validateDatabase() error {
	if !storage.IsPostgres(c.DB) {
		return nil
	}
	return storage.ValidateURL(c.DB)
}
