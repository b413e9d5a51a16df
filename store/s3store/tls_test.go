package s3store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/testserver"
)

// Against a TLS server with a private CA, a client that does not trust the
// CA fails at once (an untrusted certificate is not retried) saying to give
// the CA file; a CA file that is missing or not PEM fails before any
// request, naming the file.
func TestTLSTrust(t *testing.T) {
	m := testserver.StartMinIOT(t, testserver.MinIOOptions{TLS: true})
	bucket := newBucket(t, m)
	other := testserver.NewPKIT(t)
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		caFile string
		want   string
	}{
		{"SystemRootsOnly", "", "signed by an unknown authority: give its CA certificate as the CA file"},
		{"OtherCA", other.CAFile, "signed by an unknown authority: give its CA certificate as the CA file"},
		{"MissingCAFile", filepath.Join(t.TempDir(), "none.pem"), "CA file: open"},
		{"CAFileNotPEM", notPEM, "holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(m, bucket)
			cfg.CAFile = tc.caFile
			cfg.MaxRetries, cfg.RetryBaseDelay, cfg.RetryMaxDelay = 100, time.Second, time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err := Open(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want %q", err, tc.want)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("took %v: a TLS trust failure was retried", took)
			}
			if strings.Contains(err.Error(), m.SecretKey()) {
				t.Fatalf("error shows the secret key: %v", err)
			}
		})
	}
}
