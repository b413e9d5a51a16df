// Package testserver starts real FerretDB servers (the MongoDB wire protocol
// over SQLite) on loopback ports for tests and the demo. It builds FerretDB
// once through scripts/ferretdb.sh, which caches the binary outside the repo.
package testserver

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ReplicaSet is the replica set name a server reports unless
// Options.ReplSetName says otherwise.
const ReplicaSet = "rs0"

// Options shape one server.
type Options struct {
	// Dir holds the server's data and log; it must exist. Required.
	Dir string
	// OplogBytes and OplogMax bound the capped local.oplog.rs (0: 256 MiB, no count limit).
	// Small values with CappedCleanup roll the oplog over, for gap tests.
	OplogBytes int64
	OplogMax   int64
	// CappedCleanup is how often FerretDB trims capped collections (0: its default, 1 min).
	CappedCleanup time.Duration
	// CappedCleanupPercent is the share of a full capped collection trimmed per cleanup (0: FerretDB's 10).
	CappedCleanupPercent int
	// NoOplog skips creating local.oplog.rs (a target server needs none).
	NoOplog bool
	// Postgres backs the server with a private PostgreSQL cluster instead of
	// SQLite (benchmarks: indexed updates and deletes by _id).
	Postgres bool
	// ReplSetName is the replica set name the server reports (empty:
	// ReplicaSet): several servers stand in for the shards of a cluster.
	ReplSetName string
	// TLS makes the server's port (Addr) speak TLS, with a certificate of
	// a new PKI in Dir/pki, and require a client certificate that PKI
	// signed. Server.URI then carries tls=true, tlsCAFile and
	// tlsCertificateKeyFile. (FerretDB also listens in plain on another
	// port, which no URI names: see listenArgs.)
	TLS bool
	// Auth turns on FerretDB's SCRAM authentication (SCRAM-SHA-1 and
	// SCRAM-SHA-256, its experimental --test-enable-new-auth) with one
	// user in admin, User and Password (AuthUser and AuthPassword when
	// empty); every command but hello and the SASL ones then needs it.
	// Server.URI carries the credentials. FerretDB v1 authenticates but
	// does not authorize: the user's roles are not enforced.
	Auth           bool
	User, Password string
}

// The user an Options.Auth server is set up with unless Options say
// otherwise. It guards nothing: the server listens on loopback only and
// lives as long as one test.
const (
	AuthUser     = "tidelog-admin"
	AuthPassword = "tidelog-admin-password"
)

// Server is one running FerretDB process.
type Server struct {
	// URI is mongodb://[USER:PASSWORD@]127.0.0.1:PORT/?directConnection=true,
	// with the TLS options of a TLS server.
	URI  string
	Addr string
	// PKI holds the certificates of a TLS server (nil without TLS).
	PKI *PKI

	opts  Options
	pg    *postgres
	debug string
	plain string // a TLS server's plain listener, which no URI names (see listenArgs)
	cmd   *exec.Cmd
	done  chan struct{}
	log   *os.File
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the cached FerretDB binary, building it on first use.
func Binary(ctx context.Context) (string, error) {
	binOnce.Do(func() {
		script := filepath.Join(RepoRoot(), "scripts", "ferretdb.sh")
		cmd := exec.CommandContext(ctx, "bash", script)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			binErr = fmt.Errorf("build FerretDB with %s: %w\n%s", script, err, stderr.String())
			return
		}
		binPath = strings.TrimSpace(string(out))
	})
	return binPath, binErr
}

// RepoRoot is the repository's top directory, found from this source file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Start launches a server in opts.Dir on free loopback ports, waits until it
// answers, and creates local.oplog.rs (unless NoOplog). FerretDB keeps an
// oplog only when that capped collection exists before the first write.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("testserver: Options.Dir is required")
	}
	bin, err := Binary(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Auth {
		opts.User, opts.Password = cmp.Or(opts.User, AuthUser), cmp.Or(opts.Password, AuthPassword)
	}
	s := &Server{opts: opts}
	if opts.TLS {
		dir := filepath.Join(opts.Dir, "pki")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("testserver: %w", err)
		}
		if s.PKI, err = NewPKI(dir); err != nil {
			return nil, err
		}
	}
	if opts.Postgres {
		if s.pg, err = startPostgres(ctx); err != nil {
			return nil, err
		}
	}
	// A free port can be taken between choosing and binding: retry a few times.
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.launch(ctx, bin); err == nil {
			break
		}
	}
	if err != nil {
		if s.pg != nil {
			s.pg.stop()
		}
		return nil, err
	}
	if !opts.NoOplog {
		if err := s.createOplog(ctx); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// Restart stops the server and starts it again on the same port and data,
// as an operator's restart of the source would.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	bin, err := Binary(ctx)
	if err != nil {
		return err
	}
	return s.launchOn(ctx, bin, s.Addr, s.debug)
}

func (s *Server) launch(ctx context.Context, bin string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	debug, err := freeAddr()
	if err != nil {
		return err
	}
	if s.PKI != nil {
		if s.plain, err = freeAddr(); err != nil {
			return err
		}
	}
	return s.launchOn(ctx, bin, addr, debug)
}

func (s *Server) launchOn(ctx context.Context, bin, addr, debug string) error {
	dataDir := filepath.Join(s.opts.Dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(s.opts.Dir, "ferretdb.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	backend := []string{
		"--handler=sqlite",
		// _txlock=immediate: with SQLite's default deferred transactions a write
		// that races a reader fails with SQLITE_BUSY_SNAPSHOT, and FerretDB then
		// drops the oplog entry while the write itself succeeds (seen here with a
		// concurrent tailer). Immediate transactions wait for the lock instead.
		"--sqlite-url=file:" + dataDir + "/?_txlock=immediate",
	}
	if s.pg != nil {
		backend = []string{"--handler=postgresql", "--postgresql-url=" + s.pg.url()}
	}
	args := append(backend,
		"--state-dir="+dataDir,
		"--repl-set-name="+cmp.Or(s.opts.ReplSetName, ReplicaSet),
		"--debug-addr="+debug,
		"--telemetry=disable",
		"--log-level=warn",
	)
	args = append(args, s.listenArgs(addr)...)
	if s.opts.Auth {
		args = append(args, "--test-enable-new-auth", "--setup-database=admin",
			"--setup-username="+s.opts.User, "--setup-password="+s.opts.Password)
	}
	if s.opts.CappedCleanup > 0 {
		args = append(args, "--test-capped-cleanup-interval="+s.opts.CappedCleanup.String())
	}
	if s.opts.CappedCleanupPercent > 0 {
		args = append(args, "--test-capped-cleanup-percentage="+strconv.Itoa(s.opts.CappedCleanupPercent))
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start FerretDB: %w", err)
	}
	s.cmd, s.log, s.Addr, s.debug = cmd, logf, addr, debug
	s.URI = s.uri(addr)
	s.done = make(chan struct{})
	go func() { cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// waitReady polls until the server answers ping, the process dies, or 30 s pass.
func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("FerretDB on %s exited at start; see %s", s.Addr, filepath.Join(s.opts.Dir, "ferretdb.log"))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		conn, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			if err := s.ping(ctx); err == nil {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("FerretDB on %s not ready after 30s; see %s", s.Addr, filepath.Join(s.opts.Dir, "ferretdb.log"))
}

func (s *Server) ping(ctx context.Context) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return c.Ping(pctx, nil)
}

func (s *Server) createOplog(ctx context.Context) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	size := s.opts.OplogBytes
	if size == 0 {
		size = 256 << 20
	}
	o := options.CreateCollection().SetCapped(true).SetSizeInBytes(size)
	if s.opts.OplogMax > 0 {
		o.SetMaxDocuments(s.opts.OplogMax)
	}
	if err := c.Database("local").CreateCollection(ctx, "oplog.rs", o); err != nil {
		return fmt.Errorf("create local.oplog.rs on %s: %w", s.Addr, err)
	}
	return nil
}

// Client connects a new driver client; the caller disconnects it.
func (s *Server) Client() (*mongo.Client, error) {
	return mongo.Connect(options.Client().ApplyURI(s.URI).SetTimeout(30 * time.Second))
}

// LastTS returns the newest oplog entry's ts, the position that "now" has on this server.
func (s *Server) LastTS(ctx context.Context, c *mongo.Client) (bson.Timestamp, error) {
	var doc bson.Raw
	err := c.Database("local").Collection("oplog.rs").
		FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "ts", Value: -1}})).Decode(&doc)
	if err != nil {
		return bson.Timestamp{}, fmt.Errorf("newest oplog entry: %w", err)
	}
	t, i, ok := doc.Lookup("ts").TimestampOK()
	if !ok {
		return bson.Timestamp{}, errors.New("newest oplog entry has no timestamp ts")
	}
	return bson.Timestamp{T: t, I: i}, nil
}

// Stop ends the server (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	stopProcess(s.cmd, s.done)
	s.log.Close()
	s.cmd = nil
	return nil
}

// Close stops the server and removes its private PostgreSQL cluster, if any.
func (s *Server) Close() error {
	err := s.Stop()
	if s.pg != nil {
		s.pg.stop()
		s.pg = nil
	}
	return err
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
