package testserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The root credentials every MinIO test server accepts unless its options
// say otherwise. They guard nothing: the server listens on loopback only and
// lives as long as one test.
const (
	MinIORootUser     = "tidelog-root"
	MinIORootPassword = "tidelog-root-password"
)

// minioReadyTimeout bounds how long a start waits for the server to serve.
const minioReadyTimeout = 60 * time.Second

// MinIOOptions shape one MinIO server.
type MinIOOptions struct {
	// Dir holds the server's data, certificates and log; it must exist. Required.
	Dir string
	// TLS makes the server speak HTTPS with a self-signed certificate for
	// 127.0.0.1, ::1 and localhost, written to CAFile.
	TLS bool
	// RootUser and RootPassword override MinIORootUser and MinIORootPassword
	// (MinIO wants a password of at least 8 characters).
	RootUser, RootPassword string
}

// MinIO is one MinIO server process on a loopback port. Stop and Restart
// keep the port, the data and the certificate, so a test can take the
// server away for a while and bring it back as an operator would. Its
// methods are for one goroutine (the test's); the server itself serves any
// number of clients.
type MinIO struct {
	opts MinIOOptions
	bin  string
	addr string // 127.0.0.1:PORT of the S3 API
	cons string // 127.0.0.1:PORT MinIO insists on for its (disabled) console

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *os.File
}

// MinIOBinary returns the cached MinIO server binary, building it with
// scripts/minio.sh on first use (a few minutes; the script serializes
// concurrent builds and afterwards only prints the path).
func MinIOBinary(ctx context.Context) (string, error) {
	script := filepath.Join(RepoRoot(), "scripts", "minio.sh")
	cmd := exec.CommandContext(ctx, "bash", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build MinIO with %s: %w\n%s", script, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// StartMinIO launches a server in opts.Dir on free loopback ports and waits
// until it serves S3 requests.
func StartMinIO(ctx context.Context, opts MinIOOptions) (*MinIO, error) {
	if opts.Dir == "" {
		return nil, errors.New("testserver: MinIOOptions.Dir is required")
	}
	if opts.RootUser == "" {
		opts.RootUser = MinIORootUser
	}
	if opts.RootPassword == "" {
		opts.RootPassword = MinIORootPassword
	}
	bin, err := MinIOBinary(ctx)
	if err != nil {
		return nil, err
	}
	m := &MinIO{opts: opts, bin: bin}
	for _, dir := range []string{m.dataDir(), m.certsDir()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("testserver: %w", err)
		}
	}
	if opts.TLS {
		if err := writeSelfSignedCert(m.certsDir()); err != nil {
			return nil, fmt.Errorf("testserver: MinIO certificate: %w", err)
		}
	}
	// A free port can be taken between choosing and binding: retry a few times.
	for attempt := 0; attempt < 5; attempt++ {
		if m.addr, err = freeAddr(); err != nil {
			return nil, err
		}
		if m.cons, err = freeAddr(); err != nil {
			return nil, err
		}
		if err = m.launch(ctx); err == nil {
			return m, nil
		}
	}
	return nil, err
}

func (m *MinIO) dataDir() string  { return filepath.Join(m.opts.Dir, "data") }
func (m *MinIO) certsDir() string { return filepath.Join(m.opts.Dir, "certs") }
func (m *MinIO) logPath() string  { return filepath.Join(m.opts.Dir, "minio.log") }

// StartMinIOT starts a server for a test (in t.TempDir unless opts.Dir is
// set) and stops it when the test ends. A server that cannot be built or
// started fails the test: tests that need MinIO never skip.
func StartMinIOT(t testing.TB, opts MinIOOptions) *MinIO {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m, err := StartMinIO(ctx, opts)
	if err != nil {
		t.Fatalf("start MinIO: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Endpoint is the server's host:port, the form minio-go wants.
func (m *MinIO) Endpoint() string { return m.addr }

// URL is the server's base URL, http:// or https://.
func (m *MinIO) URL() string {
	if m.opts.TLS {
		return "https://" + m.addr
	}
	return "http://" + m.addr
}

// Secure reports whether the server speaks TLS.
func (m *MinIO) Secure() bool { return m.opts.TLS }

// AccessKey and SecretKey are the server's root credentials.
func (m *MinIO) AccessKey() string { return m.opts.RootUser }

// SecretKey is the root user's password.
func (m *MinIO) SecretKey() string { return m.opts.RootPassword }

// CAFile is the PEM file of the self-signed certificate the server presents
// (which is its own CA), or "" without TLS.
func (m *MinIO) CAFile() string {
	if !m.opts.TLS {
		return ""
	}
	return filepath.Join(m.certsDir(), "public.crt")
}

// LogPath is the server's combined stdout and stderr, for failure messages.
func (m *MinIO) LogPath() string { return m.logPath() }

// launch starts the process on m.addr and waits until it is ready.
func (m *MinIO) launch(ctx context.Context) error {
	logf, err := os.OpenFile(m.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testserver: %w", err)
	}
	cmd := exec.Command(m.bin, "server",
		"--address", m.addr,
		"--console-address", m.cons,
		"--certs-dir", m.certsDir(),
		m.dataDir())
	// A clean environment: no MINIO_* or AWS_* of the caller's leaks in, and
	// MinIO's per-user state goes into the test's directory, not $HOME.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + m.opts.Dir,
		"MINIO_ROOT_USER=" + m.opts.RootUser,
		"MINIO_ROOT_PASSWORD=" + m.opts.RootPassword,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start MinIO: %w", err)
	}
	m.cmd, m.log, m.done = cmd, logf, make(chan struct{})
	done := m.done
	go func() { _ = cmd.Wait(); close(done) }()
	if err := m.waitReady(ctx); err != nil {
		_ = m.Stop()
		return err
	}
	return nil
}

// waitReady polls MinIO's cluster health check, which answers 200 only once
// the object layer can take writes, until it does, the process dies, ctx
// ends or minioReadyTimeout passes.
func (m *MinIO) waitReady(ctx context.Context) error {
	client, err := m.httpClient()
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, minioReadyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = m.healthy(ctx, client); last == nil {
			return nil
		}
		select {
		case <-m.done:
			return fmt.Errorf("MinIO on %s exited at start; see %s", m.addr, m.logPath())
		case <-ctx.Done():
			return fmt.Errorf("MinIO on %s not ready (%v): %w; see %s", m.addr, last, ctx.Err(), m.logPath())
		case <-tick.C:
		}
	}
}

func (m *MinIO) healthy(ctx context.Context, client *http.Client) error {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, m.URL()+"/minio/health/cluster", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s", resp.Status)
	}
	return nil
}

// httpClient trusts the server's certificate when it has one.
func (m *MinIO) httpClient() (*http.Client, error) {
	tr := &http.Transport{Proxy: nil}
	if m.opts.TLS {
		pool, err := m.CertPool()
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// CertPool holds the server's certificate, for clients that verify it.
func (m *MinIO) CertPool() (*x509.CertPool, error) { return certPool(m.CAFile()) }

// Client returns a minio-go client with the root credentials, for tests
// that arrange or inspect a bucket behind the back of the code under test.
func (m *MinIO) Client() (*minio.Client, error) {
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(m.opts.RootUser, m.opts.RootPassword, ""),
		Secure: m.opts.TLS,
	}
	if m.opts.TLS {
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			return nil, err
		}
		if tr.TLSClientConfig.RootCAs, err = m.CertPool(); err != nil {
			return nil, err
		}
		opts.Transport = tr
	}
	c, err := minio.New(m.addr, opts)
	if err != nil {
		return nil, fmt.Errorf("testserver: MinIO client: %w", err)
	}
	return c, nil
}

// MakeBucket creates a bucket with the root credentials.
func (m *MinIO) MakeBucket(ctx context.Context, name string) error {
	c, err := m.Client()
	if err != nil {
		return err
	}
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("testserver: make bucket %s on MinIO %s: %w", name, m.addr, err)
	}
	return nil
}

// Running reports whether the server process is up (not stopped, not exited).
func (m *MinIO) Running() bool {
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Stop ends the server (SIGTERM, then SIGKILL after 10 s) and waits for it.
// The port, data and certificate stay for Restart. Stopping a stopped server
// does nothing.
func (m *MinIO) Stop() error {
	if m.cmd == nil || m.cmd.Process == nil {
		return nil
	}
	stopProcess(m.cmd, m.done)
	m.log.Close()
	m.cmd = nil
	return nil
}

// Restart stops the server if it runs and starts it again on the same port,
// data and certificate, waiting until it serves.
func (m *MinIO) Restart(ctx context.Context) error {
	if err := m.Stop(); err != nil {
		return err
	}
	return m.launch(ctx)
}

// Close stops the server for good. The data stays in opts.Dir, which its
// owner removes (t.TempDir does).
func (m *MinIO) Close() error { return m.Stop() }

// writeSelfSignedCert writes public.crt and private.key, MinIO's names, into
// dir: an ECDSA certificate for the loopback addresses that is its own CA, so
// a client trusts the server by trusting public.crt.
func writeSelfSignedCert(dir string) error {
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "tidelog test MinIO"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, key, err := issue(tmpl, nil, nil)
	if err != nil {
		return err
	}
	keyPEM, err := pemKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, "public.crt"), 0o644, pemCert(der)); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, "private.key"), 0o600, keyPEM)
}
