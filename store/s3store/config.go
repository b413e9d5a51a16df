package s3store

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults for the zero values of Config.
const (
	// DefaultPartSize is the size of one part of a multipart upload, and the
	// largest object written with one PUT. Each upload in flight holds one
	// part in memory.
	DefaultPartSize = 16 << 20
	// MinPartSize is S3's smallest part (every part but the last).
	MinPartSize = 5 << 20
	// maxPartSize is S3's largest part.
	maxPartSize = 5 << 30

	// DefaultMaxRetries, with the default delays, rides out about half a
	// minute of outage: long enough for a server restart or a load
	// balancer's failover, short enough that a dead endpoint is reported.
	DefaultMaxRetries     = 10
	DefaultRetryBaseDelay = 100 * time.Millisecond
	DefaultRetryMaxDelay  = 5 * time.Second
)

// BucketLookup chooses how a bucket is addressed in requests.
type BucketLookup int

const (
	// LookupAuto lets the client choose: virtual-host style for Amazon S3
	// and the like, path style for anything else (MinIO, IP addresses).
	LookupAuto BucketLookup = iota
	// LookupPath addresses https://endpoint/bucket/key.
	LookupPath
	// LookupVirtualHost addresses https://bucket.endpoint/key.
	LookupVirtualHost
)

// Config says where the store is and how to reach it. Only Endpoint and
// Bucket are required. Printing a Config never shows a secret.
type Config struct {
	// Endpoint is host[:port] (TLS per Secure), or a URL http://host[:port]
	// or https://host[:port] whose scheme decides TLS. No path, no user info.
	Endpoint string
	// Bucket must exist: the store never creates buckets, which carry
	// policies, versioning and lifecycle rules that are the operator's to set.
	Bucket string
	// Prefix puts the store under a key prefix, so that one bucket can hold
	// several stores (or other data beside one). "" is the bucket's root;
	// "prod" and "prod/" are the same prefix.
	Prefix string
	// Region of the bucket; "" asks the server (one request, cached).
	Region string

	// AccessKey and SecretKey (and SessionToken for temporary credentials)
	// are static credentials. Without an AccessKey the standard chain is
	// used, first match wins: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
	// (AWS_SESSION_TOKEN), MINIO_ROOT_USER/MINIO_ROOT_PASSWORD (or
	// MINIO_ACCESS_KEY/MINIO_SECRET_KEY), ~/.aws/credentials (AWS_PROFILE,
	// AWS_SHARED_CREDENTIALS_FILE), ~/.mc/config.json (alias MINIO_ALIAS,
	// default "s3"), then the EC2/ECS/EKS instance role (IAM).
	AccessKey    string
	SecretKey    Secret
	SessionToken Secret

	// Lookup chooses path-style or virtual-host-style requests.
	Lookup BucketLookup

	// Secure uses HTTPS (when Endpoint has no scheme).
	Secure bool
	// CAFile is a PEM file of CA certificates trusted besides the system's,
	// for a server whose certificate a private CA signed.
	CAFile string
	// InsecureSkipVerify accepts any server certificate. For tests only: it
	// lets anyone on the path read and change the backups.
	InsecureSkipVerify bool
	// Transport replaces the HTTP transport (and with it every TLS setting
	// above); for tests and special proxies. Nil builds one.
	Transport http.RoundTripper

	// PartSize is the multipart part size, at least MinPartSize; objects up
	// to it are written with one PUT. 0 means DefaultPartSize.
	PartSize int64

	// MaxRetries bounds the retries of one request after a transient error;
	// 0 means DefaultMaxRetries, a negative value disables retries.
	MaxRetries int
	// RetryBaseDelay and RetryMaxDelay shape the backoff: the n-th retry
	// waits between half and all of min(RetryMaxDelay, RetryBaseDelay·2ⁿ).
	// 0 means the defaults.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// OnRetry, if set, is called before each wait for a retry, for logging;
	// concurrent operations may call it concurrently.
	OnRetry func(RetryEvent)

	// Create lets Open initialize an empty bucket or prefix as a new store
	// (tailerd creates; a restore must find an existing store).
	Create bool
}

// RetryEvent describes a failed attempt that will be retried.
type RetryEvent struct {
	Op      string        // e.g. "put segment rs0/0001700000.0000000001-….tseg"
	Attempt int           // 1 for the first attempt
	Delay   time.Duration // the wait before the next attempt
	Err     error         // the attempt's error
}

// String shows the configuration without secrets, for messages.
func (c Config) String() string {
	creds := "credential chain"
	if c.AccessKey != "" {
		creds = "access key " + c.AccessKey
	}
	return fmt.Sprintf("s3 endpoint %s bucket %s prefix %q (%s)", c.Endpoint, c.Bucket, c.Prefix, creds)
}

// GoString keeps %#v as safe as %v.
func (c Config) GoString() string { return "s3store.Config{" + c.String() + "}" }

// endpoint is Config.Endpoint taken apart.
type endpoint struct {
	host   string // host[:port]
	secure bool
}

func (e endpoint) url() string {
	if e.secure {
		return "https://" + e.host
	}
	return "http://" + e.host
}

// parseEndpoint accepts host[:port] or an http(s) URL without path, query or
// user info. Its errors never repeat a URL that holds user info, since that
// may be a secret.
func parseEndpoint(raw string, secure bool) (endpoint, error) {
	if raw == "" {
		return endpoint{}, errors.New("no endpoint: give host[:port] or https://host[:port]")
	}
	if !strings.Contains(raw, "://") {
		if strings.ContainsAny(raw, "/@?#") {
			return endpoint{}, fmt.Errorf("endpoint %q: want host[:port] or https://host[:port]", raw)
		}
		return endpoint{host: raw, secure: secure}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, errors.New("endpoint is not a valid URL: want host[:port] or https://host[:port]")
	}
	if u.User != nil {
		return endpoint{}, errors.New("endpoint must not hold credentials: give them as the access and secret key")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
		return endpoint{}, fmt.Errorf("endpoint %q: want scheme://host[:port] without a path; the bucket and prefix are separate settings", raw)
	}
	switch u.Scheme {
	case "https":
		return endpoint{host: u.Host, secure: true}, nil
	case "http":
		if secure {
			return endpoint{}, fmt.Errorf("endpoint %q is plain http but TLS is required (Secure)", raw)
		}
		return endpoint{host: u.Host}, nil
	}
	return endpoint{}, fmt.Errorf("endpoint %q: scheme must be http or https", raw)
}

// normPrefix turns "a/b", "/a/b/" and "a/b/" into "a/b/", and "" or "/"
// into "". A prefix with an empty, "." or ".." segment is refused: object
// stores take such keys literally, and tools that map keys to paths do not.
func normPrefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return "", fmt.Errorf("invalid prefix %q: empty, '.' or '..' path segment", p)
		}
	}
	return p + "/", nil
}

// withDefaults fills the zero values and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Bucket == "" {
		return c, errors.New("no bucket given")
	}
	switch {
	case c.PartSize == 0:
		c.PartSize = DefaultPartSize
	case c.PartSize < MinPartSize || c.PartSize > maxPartSize:
		return c, fmt.Errorf("part size %d out of range [%d, %d]", c.PartSize, MinPartSize, maxPartSize)
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.RetryBaseDelay <= 0 {
		c.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if c.RetryMaxDelay <= 0 {
		c.RetryMaxDelay = DefaultRetryMaxDelay
	}
	if c.RetryMaxDelay < c.RetryBaseDelay {
		c.RetryMaxDelay = c.RetryBaseDelay
	}
	if c.AccessKey == "" && (c.SecretKey != "" || c.SessionToken != "") {
		return c, errors.New("a secret key or session token without an access key")
	}
	if c.AccessKey != "" && c.SecretKey == "" {
		return c, errors.New("an access key without a secret key")
	}
	return c, nil
}
