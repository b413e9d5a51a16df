package testserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKIClientName is the subject common name of a PKI's client certificate.
const PKIClientName = "tidelog-client"

// PKI is a throwaway certificate authority with one server and one client
// certificate, as PEM files in Dir, for TLS tests: generated when a test
// starts, so that no key is ever committed and a second PKI is a CA the
// first one's servers do not trust.
type PKI struct {
	Dir string
	// CAFile is the CA's certificate: what a client (or a server checking
	// client certificates) trusts.
	CAFile string
	// ServerCertFile and ServerKeyFile are the server's certificate, for
	// 127.0.0.1, ::1 and localhost, and its key.
	ServerCertFile, ServerKeyFile string
	// ClientCertFile and ClientKeyFile are the client's certificate
	// (CN=PKIClientName, client authentication only) and key; ClientPEMFile
	// holds both, as MongoDB's tlsCertificateKeyFile wants them.
	ClientCertFile, ClientKeyFile, ClientPEMFile string
}

// NewPKI makes a CA and its server and client certificates in dir, which
// must exist. Keys are written with mode 0600, as an operator would.
func NewPKI(dir string) (*PKI, error) {
	p := &PKI{
		Dir:            dir,
		CAFile:         filepath.Join(dir, "ca.pem"),
		ServerCertFile: filepath.Join(dir, "server.pem"),
		ServerKeyFile:  filepath.Join(dir, "server.key"),
		ClientCertFile: filepath.Join(dir, "client.pem"),
		ClientKeyFile:  filepath.Join(dir, "client.key"),
		ClientPEMFile:  filepath.Join(dir, "client-with-key.pem"),
	}
	now := time.Now()
	ca := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "tidelog test CA " + dir},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, caKey, err := issue(ca, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("testserver: CA certificate: %w", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, fmt.Errorf("testserver: CA certificate: %w", err)
	}
	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(7 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:    []string{"localhost"},
	}
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: PKIClientName, Organization: []string{"tidelog tests"}},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(7 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if err := writePEM(p.CAFile, 0o644, pemCert(caDER)); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		tmpl            *x509.Certificate
		certFile, kFile string
		combined        string
	}{
		{server, p.ServerCertFile, p.ServerKeyFile, ""},
		{client, p.ClientCertFile, p.ClientKeyFile, p.ClientPEMFile},
	} {
		der, key, err := issue(c.tmpl, ca, caKey)
		if err != nil {
			return nil, fmt.Errorf("testserver: certificate %s: %w", c.tmpl.Subject.CommonName, err)
		}
		keyPEM, err := pemKey(key)
		if err != nil {
			return nil, err
		}
		if err := writePEM(c.certFile, 0o644, pemCert(der)); err != nil {
			return nil, err
		}
		if err := writePEM(c.kFile, 0o600, keyPEM); err != nil {
			return nil, err
		}
		if c.combined != "" {
			if err := writePEM(c.combined, 0o600, append(pemCert(der), keyPEM...)); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// issue signs tmpl with parent's key (tmpl itself when parent is nil) and
// returns the certificate and the new key it certifies.
func issue(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62)); err != nil {
		return nil, nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	return der, key, err
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pemKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func writePEM(path string, mode os.FileMode, data []byte) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("testserver: %w", err)
	}
	return nil
}

// CertPool is a pool holding the CA alone.
func (p *PKI) CertPool() (*x509.CertPool, error) { return certPool(p.CAFile) }

// certPool is a pool holding the certificates of a PEM file alone.
func certPool(caFile string) (*x509.CertPool, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("testserver: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("testserver: %s holds no certificate", caFile)
	}
	return pool, nil
}

// ServerTLS is a server's TLS configuration with the server certificate;
// with requireClientCert, a client must present a certificate the CA
// signed.
func (p *PKI) ServerTLS(requireClientCert bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(p.ServerCertFile, p.ServerKeyFile)
	if err != nil {
		return nil, fmt.Errorf("testserver: server key pair: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if requireClientCert {
		if cfg.ClientCAs, err = p.CertPool(); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientTLS is a client's TLS configuration that trusts the CA and
// presents the client certificate.
func (p *PKI) ClientTLS() (*tls.Config, error) {
	pool, err := p.CertPool()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(p.ClientCertFile, p.ClientKeyFile)
	if err != nil {
		return nil, fmt.Errorf("testserver: client key pair: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// NewPKIT makes a PKI in a new temporary directory of t; a failure fails
// the test.
func NewPKIT(t testing.TB) *PKI {
	t.Helper()
	p, err := NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}
