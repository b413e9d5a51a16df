package kafkastore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/storetest"
)

// The password of every SASL test cluster: distinctive, so that a test
// can tell it never shows in an error.
const (
	saslUser     = "tidelog-writer"
	saslPassword = "kafka-Pa55-never-printed"
)

// secureCluster is a fake cluster that speaks TLS only, wants a client
// certificate of pki, and authenticates with SASL mechanism as saslUser.
func secureCluster(t *testing.T, pki *testserver.PKI, mechanism string) *kfake.Cluster {
	t.Helper()
	var opts []kfake.Opt
	if pki != nil {
		srv, err := pki.ServerTLS(true)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, kfake.TLS(srv))
	}
	if mechanism != "" {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(mechanism, saslUser, saslPassword))
	}
	return newCluster(t, opts...)
}

// clientTLS is the TLS setting of a client of pki's servers with pki's
// client certificate.
func clientTLS(pki *testserver.PKI) *TLS {
	return &TLS{CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}
}

// passwordFile writes pw (and a newline, as editors do) to a 0600 file.
func passwordFile(t *testing.T, pw string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kafka-password")
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The whole store contract holds over TLS with a client certificate and
// SCRAM-SHA-512: every client the store makes (producer, admin, the
// consumers of each read) carries the settings.
func TestConformanceOverTLSAndSASL(t *testing.T) {
	pki := testserver.NewPKIT(t)
	pw := passwordFile(t, saslPassword)
	storetest.Run(t, func(t *testing.T) store.Store {
		cfg := testConfig(secureCluster(t, pki, SASLScramSHA512))
		cfg.TLS = clientTLS(pki)
		cfg.SASL = &SASL{Mechanism: SASLScramSHA512, User: saslUser, PasswordFile: pw}
		return openStore(t, cfg)
	})
}

// Each mechanism works, with TLS or (SCRAM, which never sends the
// password) without, and with the password from a file or the environment.
func TestSASLMechanisms(t *testing.T) {
	pki := testserver.NewPKIT(t)
	for _, tc := range []struct {
		name      string
		mechanism string
		tls       bool
		env       bool
	}{
		{"PlainOverTLS", SASLPlain, true, false},
		{"ScramSHA256", SASLScramSHA256, false, true},
		{"ScramSHA512OverTLS", SASLScramSHA512, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var serverPKI *testserver.PKI
			if tc.tls {
				serverPKI = pki
			}
			cfg := testConfig(secureCluster(t, serverPKI, tc.mechanism))
			if tc.tls {
				cfg.TLS = clientTLS(pki)
			}
			cfg.SASL = &SASL{Mechanism: tc.mechanism, User: saslUser, PasswordFile: passwordFile(t, saslPassword)}
			if tc.env {
				t.Setenv("TIDELOG_TEST_KAFKA_PASSWORD", saslPassword)
				cfg.SASL.PasswordFile, cfg.SASL.PasswordEnv = "", "TIDELOG_TEST_KAFKA_PASSWORD"
			}
			s := openStore(t, cfg)
			data := randomBytes(t, 3*brokerMaxBytes) // several frames
			if err := s.PutSegment(testCtx(t), "rs0", segName(1), data); err != nil {
				t.Fatalf("put: %v", err)
			}
			// A second store (another process, a restore) reads it back.
			if got := readSegment(t, openStore(t, cfg), "rs0", segName(1)); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, want the %d put", len(got), len(data))
			}
		})
	}
}

// Wrong settings fail the open at once (no retrying until a deadline),
// saying what is wrong and what to do, and never showing the password.
func TestSecurityErrors(t *testing.T) {
	pki := testserver.NewPKIT(t)
	other := testserver.NewPKIT(t)
	secure := secureCluster(t, pki, SASLScramSHA256)
	scramOnly := secureCluster(t, nil, SASLScramSHA512)
	right := passwordFile(t, saslPassword)
	wrong := passwordFile(t, "not-"+saslPassword)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TIDELOG_TEST_UNSET_PASSWORD", "")
	sasl := func(mech, user, file string) *SASL {
		return &SASL{Mechanism: mech, User: user, PasswordFile: file}
	}
	for _, tc := range []struct {
		name  string
		cfg   Config
		wants []string
	}{
		{"WrongPassword", Config{Brokers: secure.ListenAddrs(), TLS: clientTLS(pki), SASL: sasl(SASLScramSHA256, saslUser, wrong)},
			[]string{"SASL SCRAM-SHA-256", `user "` + saslUser + `"`, "password file " + wrong}},
		{"UnknownUser", Config{Brokers: scramOnly.ListenAddrs(), SASL: sasl(SASLScramSHA512, "nobody", right)},
			[]string{"SASL SCRAM-SHA-512", `user "nobody"`}},
		{"MechanismNotEnabled", Config{Brokers: scramOnly.ListenAddrs(), SASL: sasl(SASLScramSHA256, saslUser, right)},
			[]string{"SASL SCRAM-SHA-256", "brokers enable SCRAM-SHA-256"}},
		{"NoSASL", Config{Brokers: secure.ListenAddrs(), TLS: clientTLS(pki)},
			[]string{"SASL is required but not provided"}},
		{"UnknownCA", Config{Brokers: secure.ListenAddrs(), TLS: &TLS{CAFile: other.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile},
			SASL: sasl(SASLScramSHA256, saslUser, right)},
			[]string{"signed by an unknown authority", "CA file"}},
		{"SystemRootsOnly", Config{Brokers: secure.ListenAddrs(), TLS: &TLS{CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile},
			SASL: sasl(SASLScramSHA256, saslUser, right)},
			[]string{"signed by an unknown authority", "CA file"}},
		{"NoClientCertificate", Config{Brokers: secure.ListenAddrs(), TLS: &TLS{CAFile: pki.CAFile}, SASL: sasl(SASLScramSHA256, saslUser, right)},
			[]string{"client certificate", "cert_file"}},
		{"ForeignClientCertificate", Config{Brokers: secure.ListenAddrs(), TLS: &TLS{CAFile: pki.CAFile, CertFile: other.ClientCertFile, KeyFile: other.ClientKeyFile},
			SASL: sasl(SASLScramSHA256, saslUser, right)},
			[]string{"client certificate"}},
		{"PlaintextToTLS", Config{Brokers: secure.ListenAddrs(), SASL: sasl(SASLScramSHA256, saslUser, right)},
			[]string{"is TLS missing?"}},
		{"PlainWithoutTLS", Config{Brokers: scramOnly.ListenAddrs(), SASL: sasl(SASLPlain, saslUser, right)},
			[]string{"PLAIN sends the password", "over TLS only"}},
		{"UnknownMechanism", Config{Brokers: scramOnly.ListenAddrs(), SASL: sasl("GSSAPI", saslUser, right)},
			[]string{`SASL mechanism "GSSAPI"`}},
		{"NoUser", Config{Brokers: scramOnly.ListenAddrs(), SASL: sasl(SASLScramSHA512, "", right)},
			[]string{"needs a user"}},
		{"MissingPasswordFile", Config{Brokers: scramOnly.ListenAddrs(), SASL: sasl(SASLScramSHA512, saslUser, right+".missing")},
			[]string{right + ".missing", "no such file"}},
		{"EmptyPasswordFile", Config{Brokers: scramOnly.ListenAddrs(), SASL: sasl(SASLScramSHA512, saslUser, empty)},
			[]string{empty, "first line is empty"}},
		{"UnsetPasswordVariable", Config{Brokers: scramOnly.ListenAddrs(), SASL: &SASL{Mechanism: SASLScramSHA512, User: saslUser, PasswordEnv: "TIDELOG_TEST_UNSET_PASSWORD"}},
			[]string{"TIDELOG_TEST_UNSET_PASSWORD", "is not set"}},
		{"CertificateWithoutKey", Config{Brokers: secure.ListenAddrs(), TLS: &TLS{CAFile: pki.CAFile, CertFile: pki.ClientCertFile}},
			[]string{"both the certificate file and its key file"}},
		{"CAFileNotPEM", Config{Brokers: secure.ListenAddrs(), TLS: &TLS{CAFile: right}},
			[]string{"holds no PEM certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			s, err := Open(ctx, tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("the open took %v to fail: it should fail at once", took.Round(time.Millisecond))
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), saslPassword) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// The password is read again for each new connection: after the broker's
// password changes and the file is rewritten, new readers authenticate
// with the new one, without reopening the store.
func TestPasswordRotation(t *testing.T) {
	c := secureCluster(t, nil, SASLScramSHA256)
	pw := passwordFile(t, saslPassword)
	cfg := testConfig(c)
	cfg.SASL = &SASL{Mechanism: SASLScramSHA256, User: saslUser, PasswordFile: pw}
	s := openStore(t, cfg)
	ctx := testCtx(t)
	if err := s.PutSegment(ctx, "rs0", segName(1), []byte("before")); err != nil {
		t.Fatal(err)
	}
	const rotated = "rotated-" + saslPassword
	_, err := kadm.NewClient(s.cl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: saslUser, Mechanism: kadm.ScramSha256, Iterations: 4096, Password: rotated}})
	if err != nil {
		t.Fatalf("change the password on the broker: %v", err)
	}
	if err := os.WriteFile(pw, []byte(rotated+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readSegment(t, s, "rs0", segName(1)); string(got) != "before" {
		t.Fatalf("read %q after the rotation", got)
	}
	if _, err := Open(ctx, cfg); err != nil {
		t.Fatalf("a new store after the rotation: %v", err)
	}
}

// A broker that answers a failed authentication with
// SASL_AUTHENTICATION_FAILED (Kafka does; kfake only closes the
// connection) gets the same advice, naming the mechanism, the user and
// where the password came from.
func TestConnProblemNamesMechanismAndUser(t *testing.T) {
	c := Config{SASL: &SASL{Mechanism: SASLScramSHA256, User: "tidelog", PasswordEnv: "TIDELOG_KAFKA_PASSWORD"}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("authenticate: %w", kerr.SaslAuthenticationFailed),
			`SASL SCRAM-SHA-256 authentication as user "tidelog" failed: check the user and the password in the environment variable TIDELOG_KAFKA_PASSWORD`},
		{fmt.Errorf("handshake: %w", kerr.UnsupportedSaslMechanism), "the brokers do not offer SASL SCRAM-SHA-256: use a mechanism they enable (sasl.enabled.mechanisms)"},
		{errors.New("connection refused"), ""},
	} {
		if got := connProblem(tc.err, c); got != tc.want {
			t.Errorf("connProblem(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
