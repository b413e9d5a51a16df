package s3store

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/tidelog/tidelog/internal/capool"
)

// newClient builds the minio-go client for c. Its own retries are switched
// off (MaxRetries 1): this package retries whole operations itself (see
// retry.go), so that one budget, visible in Config, bounds an outage, and so
// that a multipart upload retries one part rather than starting over.
// (minio-go v7.4.1 still waits up to 200 ms after a retryable failure
// before returning it, even with MaxRetries 1; it honours ctx while waiting,
// and the wait only lengthens the backoff.)
func newClient(c Config, ep endpoint) (*minio.Client, error) {
	tr := c.Transport
	if tr == nil {
		var err error
		if tr, err = newTransport(c, ep.secure); err != nil {
			return nil, err
		}
	}
	lookup := minio.BucketLookupAuto
	switch c.Lookup {
	case LookupPath:
		lookup = minio.BucketLookupPath
	case LookupVirtualHost:
		lookup = minio.BucketLookupDNS
	}
	client, err := minio.New(ep.host, &minio.Options{
		Creds:        newCredentials(c),
		Secure:       ep.secure,
		Transport:    tr,
		Region:       c.Region,
		BucketLookup: lookup,
		MaxRetries:   1,
	})
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", ep.host, err)
	}
	return client, nil
}

// newTransport is minio-go's default transport (keep-alives, bounded dial,
// TLS handshake and response-header times, so a hung server shows as an
// error rather than a hang) with the TLS settings of c.
func newTransport(c Config, secure bool) (http.RoundTripper, error) {
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	if !secure {
		if c.CAFile != "" || c.InsecureSkipVerify {
			return nil, errors.New("a CA file or InsecureSkipVerify without TLS: use an https:// endpoint or Secure")
		}
		return tr, nil
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.CAFile != "" {
		pool, err := capool.Load(c.CAFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	tr.TLSClientConfig.InsecureSkipVerify = c.InsecureSkipVerify
	return tr, nil
}
