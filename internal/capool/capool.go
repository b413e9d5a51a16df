// Package capool loads the CA certificates a TLS client trusts: the
// system's roots plus a private CA's PEM file, as the S3 and Kafka stores'
// ca_file settings give it.
package capool

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load returns the system's roots plus every certificate in the PEM file
// at path. A file without one is an error: a typo'd path to the wrong file
// would otherwise leave only the system's roots, and a later handshake
// would fail with "unknown authority", far from the cause.
func Load(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}
