package e2e

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
)

// tidelog reaches MongoDB over TLS with a client certificate and SCRAM
// through the URI alone: tailerd captures from a FerretDB that listens with
// TLS only, wants a client certificate of its private CA and authenticates
// with SCRAM-SHA-256, and replayer restores into a target secured the same
// way; the target then holds the source's documents as they were.
func TestMongoTLSClientCertificateAndSCRAM(t *testing.T) {
	src := testserver.StartT(t, testserver.Options{TLS: true, Auth: true})
	for _, want := range []string{"tls=true", "tlsCAFile=", "tlsCertificateKeyFile=", testserver.AuthUser + ":"} {
		if !strings.Contains(src.URI, want) {
			t.Fatalf("source URI %s lacks %s: the test would not exercise it", src.URI, want)
		}
	}
	client, err := src.Client()
	must(t, err)
	defer client.Disconnect(context.Background())
	store := filepath.Join(t.TempDir(), "store")
	c := captureWithSnapshot(t, src, client, store)

	target := testserver.StartT(t, testserver.Options{NoOplog: true, TLS: true, Auth: true})
	for _, p := range []recorded{c.points[0], c.points[len(c.points)-1]} {
		code, out, errOut := replayer(t, "restore", "--store", store, "--target", target.URI, "--to", p.ts.String(), "--drop")
		if code != 0 {
			t.Fatalf("restore to %s over TLS: exit %d\n%s%s", p.ts, code, out, errOut)
		}
		tc, err := target.Client()
		must(t, err)
		diff := workload.Diff(p.state, mustDump(t, tc))
		tc.Disconnect(context.Background())
		if diff != "" {
			t.Errorf("restore to %s over TLS differs from the source then:\n%s", p.ts, diff)
		}
	}
}

// Each way a secured MongoDB connection can be wrong stops tailerd within
// its --connect-timeout with the source exit code (4) and the cause in
// words, and replayer with its target exit code (7): a CA that did not sign
// the server's certificate, no client certificate, a plain client on the
// TLS port, a wrong password. None of them hangs.
func TestMongoTLSAndAuthFailures(t *testing.T) {
	src := testserver.StartT(t, testserver.Options{TLS: true, Auth: true})
	other := testserver.NewPKIT(t)
	userinfo := url.UserPassword(src.User(), src.Password()).String() + "@"
	wrongPassword := "Wrong-Mongo-Pa55"
	for _, tc := range []struct {
		name, uri, says string
	}{
		{"UnknownCA", strings.Replace(src.URI, url.QueryEscape(src.PKI.CAFile), url.QueryEscape(other.CAFile), 1),
			"certificate signed by unknown authority"},
		{"NoClientCertificate", strings.Split(src.URI, "&tlsCertificateKeyFile=")[0], "certificate required"},
		{"PlainClient", strings.Split(src.URI, "&tls=true")[0], "connection closed"},
		{"WrongPassword", strings.Replace(src.URI, userinfo, url.UserPassword(src.User(), wrongPassword).String()+"@", 1),
			"Authentication failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			logPath := filepath.Join(work, "tailerd.log")
			start := time.Now()
			d := startTailerd(t, logPath, "--source", tc.uri, "--store", filepath.Join(work, "store"), "--connect-timeout", "3s")
			code := d.wait(t, 60*time.Second)
			out := d.Output()
			if code != 4 || !strings.Contains(out, tc.says) {
				t.Errorf("tailerd: exit %d after %v, want 4 with %q in:\n%s", code, time.Since(start).Round(time.Millisecond), tc.says, out)
			}
			if strings.Contains(out, wrongPassword) || strings.Contains(out, src.Password()) {
				t.Errorf("tailerd's output shows a password:\n%s", out)
			}

			code, stdout, stderr := replayer(t, "apply", "--oplog-file", emptyOplogFile(t), "--target", tc.uri, "--connect-timeout", "3s")
			if code != 7 || !strings.Contains(stderr, tc.says) {
				t.Errorf("replayer: exit %d, want 7 with %q in:\n%s%s", code, tc.says, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, wrongPassword) || strings.Contains(stdout+stderr, src.Password()) {
				t.Errorf("replayer's output shows a password:\n%s%s", stdout, stderr)
			}
		})
	}
}

// emptyOplogFile is an oplog.bson with no entries: replayer apply then
// only connects to its target.
func emptyOplogFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "oplog.bson")
	must(t, os.WriteFile(path, nil, 0o644))
	return path
}
