package testserver

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// A server takes objects, keeps them through a stop and restart on the same
// port, and refuses connections while stopped; with TLS it serves HTTPS with
// the certificate in CAFile.
func TestMinIOStopRestart(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		name := "HTTP"
		if tlsOn {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			m := StartMinIOT(t, MinIOOptions{TLS: tlsOn})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			wantScheme := "http://"
			if tlsOn {
				wantScheme = "https://"
			}
			if !strings.HasPrefix(m.URL(), wantScheme+"127.0.0.1:") || m.Secure() != tlsOn || (m.CAFile() != "") != tlsOn {
				t.Fatalf("URL %s, Secure %v, CAFile %q", m.URL(), m.Secure(), m.CAFile())
			}
			if err := m.MakeBucket(ctx, "bkt"); err != nil {
				t.Fatal(err)
			}
			c, err := m.Client()
			if err != nil {
				t.Fatal(err)
			}
			data := []byte("kept across a restart")
			if _, err := c.PutObject(ctx, "bkt", "k", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
				t.Fatalf("put: %v", err)
			}

			addr := m.Endpoint()
			if err := m.Stop(); err != nil {
				t.Fatal(err)
			}
			if m.Running() {
				t.Fatal("Running after Stop")
			}
			if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				conn.Close()
				t.Fatal("a stopped server accepts connections")
			}

			if err := m.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if m.Endpoint() != addr || !m.Running() {
				t.Fatalf("restarted on %s (running %v), want %s", m.Endpoint(), m.Running(), addr)
			}
			obj, err := c.GetObject(ctx, "bkt", "k", minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("after restart read %q, %v; want %q", got, err, data)
			}
		})
	}
}

// A client that does not trust the test certificate is refused: the server
// really speaks TLS with its own certificate.
func TestMinIOTLSUntrusted(t *testing.T) {
	m := StartMinIOT(t, MinIOOptions{TLS: true})
	c, err := minio.New(m.Endpoint(), &minio.Options{Secure: true, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = c.BucketExists(ctx, "bkt")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted client: err = %v, want a certificate error", err)
	}
}
