package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequirePostgresEnv, when set to anything, turns a PostgreSQL server that cannot be
// started into a test failure instead of a skip. CI sets it.
const RequirePostgresEnv = "MFABOT_REQUIRE_POSTGRES"

// Postgres is a throwaway PostgreSQL server from Debian's postgresql package: a cluster
// made by initdb in a temporary directory, listening on a free port of 127.0.0.1 with
// password authentication, removed by Stop. It has a login role, mfabot (no superuser),
// that owns the databases and schemas it hands out.
type Postgres struct {
	dir      string
	port     int
	adminPW  string // of the superuser postgres
	userPW   string // of the role mfabot
	cmd      *exec.Cmd
	exited   chan struct{}
	mu       sync.Mutex
	made     int
	stopOnce sync.Once
	stopErr  error
}

// postgresBinaries finds initdb and postgres: the newest of Debian's
// /usr/lib/postgresql/*/bin, else the PATH.
func postgresBinaries() (initdb, postgres string, err error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if isExecutable(i) && isExecutable(p) {
			return i, p, nil
		}
	}
	i, ierr := exec.LookPath("initdb")
	p, perr := exec.LookPath("postgres")
	if ierr != nil || perr != nil {
		return "", "", errors.New("no PostgreSQL server found in /usr/lib/postgresql/*/bin or on the PATH (apt-get install postgresql)")
	}
	return i, p, nil
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// serverUser is whom the server runs as: the server refuses to run as root, so a test
// run as root hands it to Debian's postgres user (or nobody). nil means the current user.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and there is neither a postgres nor a nobody user to run the server as")
}

// StartPostgres initialises and starts a throwaway server. The cluster keeps fsync on,
// as a production server would, so that benchmarks on it mean something.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	initdb, postgres, err := postgresBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mfabot-postgres-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir, adminPW: randomHex(), userPW: randomHex()}
	fail := func(err error) (*Postgres, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(p.adminPW+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if cred != nil {
		for _, f := range []string{dir, pwfile} {
			if err := os.Chown(f, int(cred.Uid), int(cred.Gid)); err != nil {
				return fail(err)
			}
		}
	}
	cmd := exec.CommandContext(ctx, initdb, "-D", filepath.Join(dir, "data"), "-U", "postgres", "--pwfile="+pwfile,
		"--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	// The port is free when chosen, but another process may take it before the server
	// binds it: try again with another.
	for attempt := 0; ; attempt++ {
		err = p.start(ctx, postgres, cred)
		if err == nil {
			break
		}
		if attempt == 2 || !strings.Contains(err.Error(), "could not bind") && !strings.Contains(err.Error(), "already in use") {
			return fail(err)
		}
	}
	if err := p.setUp(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// start runs the server on a free port and waits until it answers.
func (p *Postgres) start(ctx context.Context, postgres string, cred *syscall.Credential) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logPath := filepath.Join(p.dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	if cred != nil {
		_ = logf.Chown(int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(postgres, "-D", filepath.Join(p.dir, "data"), "-p", strconv.Itoa(p.port), "-k", p.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300")
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, p.dir
	// A test binary that dies takes its server with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := pgx.Connect(ctx, p.adminURL("postgres"))
		if err == nil {
			c.Close(ctx)
			p.cmd, p.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres exited: %s", out)
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres did not answer within a minute: %v\n%s", err, out)
		}
	}
}

// setUp creates the role mfabot and its database mfabot, where NewSchema makes schemas.
func (p *Postgres) setUp(ctx context.Context) error {
	return p.admin(ctx, "postgres",
		fmt.Sprintf(`CREATE ROLE mfabot LOGIN PASSWORD '%s'`, p.userPW),
		`CREATE DATABASE mfabot OWNER mfabot`)
}

// admin runs statements as the superuser in database db.
func (p *Postgres) admin(ctx context.Context, db string, stmts ...string) error {
	c, err := pgx.Connect(ctx, p.adminURL(db))
	if err != nil {
		return fmt.Errorf("connect as postgres: %w", err)
	}
	defer c.Close(ctx)
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", strings.SplitN(s, " PASSWORD", 2)[0], err)
		}
	}
	return nil
}

func (p *Postgres) adminURL(db string) string {
	return p.url("postgres", p.adminPW, db, nil)
}

func (p *Postgres) url(user, password, db string, params url.Values) string {
	q := url.Values{"sslmode": {"disable"}}
	for k, v := range params {
		q[k] = v
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)),
		Path: "/" + db, RawQuery: q.Encode()}
	return u.String()
}

func (p *Postgres) next(prefix string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.made++
	return fmt.Sprintf("%s%d", prefix, p.made)
}

// NewSchema creates an empty schema, owned by the role mfabot, in the database mfabot
// and returns the URL that connects to it as mfabot (search_path names the schema).
// Schemas are cheaper than databases: a test suite takes one per test.
func (p *Postgres) NewSchema(ctx context.Context) (string, error) {
	name := p.next("test_")
	if err := p.admin(ctx, "mfabot", `CREATE SCHEMA `+name+` AUTHORIZATION mfabot`); err != nil {
		return "", err
	}
	return p.url("mfabot", p.userPW, "mfabot", url.Values{"search_path": {name}}), nil
}

// NewDatabase creates an empty database owned by the role mfabot and returns the URL
// that connects to it as mfabot, with the server's default search_path: mfabot's tables
// go in its public schema, as in a database made for mfabot alone.
func (p *Postgres) NewDatabase(ctx context.Context) (string, error) {
	name := p.next("db_")
	if err := p.admin(ctx, "postgres", `CREATE DATABASE `+name+` OWNER mfabot`); err != nil {
		return "", err
	}
	return p.url("mfabot", p.userPW, name, nil), nil
}

// AdminURL is the superuser's URL of the database or schema a URL from NewSchema or
// NewDatabase names, for tests that act behind mfabot's back (an operator with psql).
func (p *Postgres) AdminURL(userURL string) (string, error) {
	u, err := url.Parse(userURL)
	if err != nil {
		return "", err
	}
	u.User = url.UserPassword("postgres", p.adminPW)
	return u.String(), nil
}

// Stop shuts the server down (fast shutdown: sessions are ended) and removes its
// directory.
func (p *Postgres) Stop() error {
	p.stopOnce.Do(func() {
		if p.cmd != nil {
			_ = p.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-p.exited:
			case <-time.After(20 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.exited
			}
		}
		p.stopErr = os.RemoveAll(p.dir)
	})
	return p.stopErr
}

// The server a test binary shares: starting one takes about a second, so every test of
// the binary uses the first one started, and Main stops it when they are done. A
// package variable, because it is what outlives one test.
var shared struct {
	once sync.Once
	pg   *Postgres
	err  error
}

// SharedPostgres returns the test binary's throwaway server, starting it on first use.
// Without a PostgreSQL server to start, the test is skipped with the reason, unless
// MFABOT_REQUIRE_POSTGRES is set: then it fails. Call Main from TestMain to stop it.
func SharedPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.pg, shared.err = StartPostgres(ctx)
	})
	if shared.err != nil {
		if os.Getenv(RequirePostgresEnv) != "" {
			tb.Fatalf("PostgreSQL is required (%s is set): %v", RequirePostgresEnv, shared.err)
		}
		tb.Skipf("skipping the PostgreSQL test: %v", shared.err)
	}
	return shared.pg
}

// PostgresURL returns the URL of a fresh, empty schema on the shared server (see
// SharedPostgres: skipped without one).
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	pg := SharedPostgres(tb)
	u, err := pg.NewSchema(context.Background())
	if err != nil {
		tb.Fatalf("new PostgreSQL schema: %v", err)
	}
	return u
}

// Main runs a package's tests and then stops the shared server, if one was started:
//
//	func TestMain(m *testing.M) { os.Exit(storagetest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if shared.pg != nil {
		if err := shared.pg.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop the PostgreSQL test server:", err)
		}
	}
	return code
}
