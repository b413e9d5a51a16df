package storeurl

import (
	"net/url"
	"strings"

	"github.com/tidelog/tidelog/store/s3store"
)

// defaultS3Endpoint is Amazon S3; minio-go finds the bucket's region there.
const defaultS3Endpoint = "s3.amazonaws.com"

// parseS3 reads s3://BUCKET[/PREFIX][?endpoint=&region=&path_style=&tls=&ca_file=].
// The bucket is the URL's host because that is where every S3 tool puts it
// (aws s3, mc, rclone); the server is a parameter, defaulting to Amazon S3.
func parseS3(raw string, u parts) (Location, error) {
	bucket := u.authority
	switch {
	case bucket == "":
		return Location{}, invalid(raw, "no bucket: want s3://BUCKET[/PREFIX]")
	case strings.Contains(bucket, ":"):
		return Location{}, invalid(raw, "bucket %q has a port: the bucket is the URL's host, the server goes in ?endpoint=HOST:PORT", bucket)
	case !validBucket(bucket):
		return Location{}, invalid(raw, "bucket %q: want 3 to 63 letters, digits, '.', '-' or '_'", bucket)
	}
	if err := checkPrefix(raw, u.path); err != nil {
		return Location{}, err
	}
	cfg := s3store.Config{Bucket: bucket, Prefix: u.path, Endpoint: defaultS3Endpoint}
	if ep, given := u.query.str("endpoint"); given {
		cfg.Endpoint = ep
	}
	tlsOn, tlsGiven, err := u.query.boolean("tls")
	if err != nil {
		return Location{}, err
	}
	if cfg.Secure, err = endpointTLS(raw, cfg.Endpoint, tlsOn, tlsGiven); err != nil {
		return Location{}, err
	}
	cfg.Region, _ = u.query.str("region")
	pathStyle, given, err := u.query.boolean("path_style")
	if err != nil {
		return Location{}, err
	}
	switch {
	case given && pathStyle:
		cfg.Lookup = s3store.LookupPath
	case given:
		cfg.Lookup = s3store.LookupVirtualHost
	}
	if cfg.CAFile, _ = u.query.str("ca_file"); cfg.CAFile != "" && !cfg.Secure {
		return Location{}, invalid(raw, "ca_file without TLS: drop tls=false or use an https:// endpoint")
	}
	if err := u.query.done("s3"); err != nil {
		return Location{}, err
	}
	return Location{Kind: S3, S3: cfg}, nil
}

// validBucket allows S3's bucket characters (and the '_' of old buckets);
// the server has the last word on the rest of its rules.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkPrefix refuses a prefix with an empty, "." or ".." segment inside
// it, as s3store does, but as bad usage, before anything is opened.
func checkPrefix(raw, prefix string) error {
	trimmed := strings.Trim(prefix, "/")
	if trimmed == "" {
		return nil
	}
	for _, seg := range strings.Split(trimmed, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return invalid(raw, "prefix %q has an empty, '.' or '..' segment", prefix)
		}
	}
	return nil
}

// endpointTLS checks the endpoint (HOST[:PORT], or http(s)://HOST[:PORT]
// whose scheme decides) and returns whether requests use TLS: by default
// they do; tls=false is for a server on a trusted network or loopback.
func endpointTLS(raw, ep string, tlsOn, tlsGiven bool) (bool, error) {
	if ep == "" {
		return false, invalid(raw, "endpoint is empty: want HOST[:PORT] or https://HOST[:PORT]")
	}
	if strings.Contains(ep, "@") {
		return false, invalid(raw, "endpoint with user info is refused: %s", credentialsHelp("s3"))
	}
	if !strings.Contains(ep, "://") {
		if strings.ContainsAny(ep, "/?# ") {
			return false, invalid(raw, "endpoint %q: want HOST[:PORT] or https://HOST[:PORT]", ep)
		}
		return !tlsGiven || tlsOn, nil
	}
	u, err := url.Parse(ep)
	switch {
	case err != nil || u.Host == "":
		return false, invalid(raw, "endpoint is not HOST[:PORT] or https://HOST[:PORT]")
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		return false, invalid(raw, "endpoint %q has a path: the bucket is the URL's host and the prefix its path", u.Scheme+"://"+u.Host)
	case u.Scheme == "https" && tlsGiven && !tlsOn, u.Scheme == "http" && tlsGiven && tlsOn:
		return false, invalid(raw, "tls=%t contradicts the endpoint's scheme %s", tlsOn, u.Scheme)
	case u.Scheme != "https" && u.Scheme != "http":
		return false, invalid(raw, "endpoint scheme %q: want http or https", u.Scheme)
	}
	return u.Scheme == "https", nil
}
