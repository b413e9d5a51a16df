package kafkastore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tidelog/tidelog/internal/capool"
)

// TLS makes every connection to the brokers TLS (Kafka's SSL and SASL_SSL
// listeners). Files are read when the store opens.
type TLS struct {
	// CAFile is a PEM bundle of certificates trusted besides the system's
	// roots, for brokers with a private CA.
	CAFile string
	// CertFile and KeyFile are a client certificate and its key (PEM), for
	// brokers that authenticate clients by certificate (ssl.client.auth).
	// Both or neither.
	CertFile, KeyFile string
}

// The SASL mechanisms a store can authenticate with.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASL authenticates every connection as User. The config holds where the
// password is, never the password itself, so that a Config can be printed
// and a location never carries a secret: PasswordFile if set (its first
// line), else the environment variable PasswordEnv. It is read again for
// each new connection, so a rotated password takes effect without a
// restart.
type SASL struct {
	// Mechanism is SASLPlain, SASLScramSHA256 or SASLScramSHA512. PLAIN
	// sends the password itself, so it is refused without TLS.
	Mechanism    string
	User         string
	PasswordFile string
	PasswordEnv  string
}

// check reports what is wrong with s, or nil.
func (s *SASL) check(tlsOn bool) error {
	switch s.Mechanism {
	case SASLPlain:
		if !tlsOn {
			return errors.New("SASL PLAIN sends the password as it is: use it over TLS only, or use SCRAM-SHA-256/512")
		}
	case SASLScramSHA256, SASLScramSHA512:
	default:
		return fmt.Errorf("SASL mechanism %q: want %s, %s or %s", s.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
	switch {
	case s.User == "":
		return fmt.Errorf("SASL %s needs a user", s.Mechanism)
	case s.PasswordFile == "" && s.PasswordEnv == "":
		return fmt.Errorf("SASL %s for user %q needs a password file or an environment variable to read the password from", s.Mechanism, s.User)
	}
	return nil
}

// passwordSource names where the password is read from, for messages.
func (s *SASL) passwordSource() string {
	if s.PasswordFile != "" {
		return "password file " + s.PasswordFile
	}
	return "environment variable " + s.PasswordEnv
}

// password reads the password now.
func (s *SASL) password() (string, error) {
	if s.PasswordFile != "" {
		data, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("SASL password: %w", err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		if line = strings.TrimSuffix(line, "\r"); line == "" {
			return "", fmt.Errorf("SASL password file %s: its first line is empty; write the password there", s.PasswordFile)
		}
		return line, nil
	}
	pw, ok := os.LookupEnv(s.PasswordEnv)
	if !ok || pw == "" {
		return "", fmt.Errorf("SASL %s for user %q: the environment variable %s with the password is not set (or give a password file)", s.Mechanism, s.User, s.PasswordEnv)
	}
	return pw, nil
}

// mechanism is the franz-go mechanism, reading the password at each
// authentication.
func (s *SASL) mechanism() sasl.Mechanism {
	if s.Mechanism == SASLPlain {
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			pw, err := s.password()
			return plain.Auth{User: s.User, Pass: pw}, err
		})
	}
	auth := func(context.Context) (scram.Auth, error) {
		pw, err := s.password()
		return scram.Auth{User: s.User, Pass: pw}, err
	}
	if s.Mechanism == SASLScramSHA512 {
		return scram.Sha512(auth)
	}
	return scram.Sha256(auth)
}

// securityOpts are the client options for c's TLS and SASL settings, after
// checking them and reading every file they name, so that a missing or
// unreadable file fails the open with its name rather than every
// connection with a network error.
func (c Config) securityOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if c.TLS != nil {
		cfg, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if c.SASL != nil {
		if err := c.SASL.check(c.TLS != nil); err != nil {
			return nil, err
		}
		if _, err := c.SASL.password(); err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(c.SASL.mechanism()))
	}
	return opts, nil
}

// config is the client TLS configuration: the system's roots plus CAFile,
// and the client certificate.
func (t *TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pool, err := capool.Load(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS %w", err)
		}
		cfg.RootCAs = pool
	}
	switch {
	case (t.CertFile == "") != (t.KeyFile == ""):
		return nil, errors.New("TLS client certificate: give both the certificate file and its key file, or neither")
	case t.CertFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate %s with key %s: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
