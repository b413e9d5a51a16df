package s3store

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
)

// S3 error codes this package acts on.
const (
	codeNoSuchKey    = "NoSuchKey"
	codeNoSuchBucket = "NoSuchBucket"
	codeNoSuchUpload = "NoSuchUpload"
)

// retryableCodes are S3 error codes that describe a passing condition:
// overload, a server still starting, an expired temporary credential (the
// chain fetches a new one), or bytes damaged in transit (the Content-MD5 did
// not match; the next attempt sends them again).
var retryableCodes = map[string]bool{
	"InternalError": true, "ServiceUnavailable": true, "SlowDown": true, "SlowDownWrite": true,
	"SlowDownRead": true, "RequestTimeout": true, "RequestTimeTooSkewed": false,
	"Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true,
	"RequestThrottled": true, "ExpiredToken": true, "ExpiredTokenException": true,
	"XMinioServerNotInitialized": true, "XMinioReadQuorum": true, "XMinioWriteQuorum": true,
	"BadDigest": true, "XAmzContentSHA256Mismatch": true, "XAmzContentChecksumMismatch": true,
	"IncompleteBody": true,
}

// s3Code returns the S3 error code of err, or "".
func s3Code(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}

// transient reports whether err may go away if the request is made again.
// S3 errors are judged by code, then by HTTP status (5xx, 408, 429); an
// untrusted certificate or a scheme mismatch is permanent; any other network
// error (refused, reset, timed out, cut short) is transient.
func transient(err error) bool {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		if retry, known := retryableCodes[er.Code]; known {
			return retry
		}
		return er.StatusCode >= 500 || er.StatusCode == http.StatusRequestTimeout || er.StatusCode == http.StatusTooManyRequests
	}
	if tlsProblem(err) != "" {
		return false
	}
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF)
}

// tlsProblem returns advice for an error that TLS settings cause, or "".
func tlsProblem(err error) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return "the server's certificate is signed by an unknown authority: give its CA certificate as the CA file"
	case errors.As(err, &host):
		return "the server's certificate is not valid for this endpoint's host name: use a name the certificate lists"
	case errors.As(err, &invalid):
		return "the server's certificate is invalid (expired, or not for serving): renew it or give the right CA file"
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "the endpoint speaks plain HTTP: use an http:// endpoint, or enable TLS on the server"
	case strings.Contains(err.Error(), "first record does not look like a TLS handshake"):
		return "the endpoint does not speak TLS: use an http:// endpoint"
	}
	return ""
}

// advice says what to do about a permanent S3 error, by code.
var advice = map[string]string{
	"AccessDenied":                 "access denied: the credentials lack a permission on the bucket (tidelog needs s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject, s3:AbortMultipartUpload)",
	"InvalidAccessKeyId":           "the server does not know this access key: check the credentials",
	"SignatureDoesNotMatch":        "the secret key does not match the access key: check the credentials",
	"InvalidToken":                 "the session token is invalid: refresh the temporary credentials",
	codeNoSuchBucket:               "the bucket does not exist: create it first (e.g. `mc mb ALIAS/BUCKET`) or fix the bucket name",
	"AllAccessDisabled":            "all access to this bucket is disabled",
	"InvalidBucketName":            "the bucket name is not valid",
	"AuthorizationHeaderMalformed": "the request was signed for the wrong region: set the bucket's region",
	"PermanentRedirect":            "the bucket is in another region or needs another endpoint: set the region or endpoint",
	"RequestTimeTooSkewed":         "this machine's clock differs too much from the server's: fix the clock (NTP)",
	"XMinioStorageFull":            "the server's storage is full",
	"QuotaExceeded":                "the bucket's quota is exceeded",
}

// explain returns err with the S3 error code, HTTP status and, for
// permanent failures with a known cause, what to do. It wraps err, so
// errors.As still finds a minio.ErrorResponse.
func explain(err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.Code != "" {
		if hint, ok := advice[er.Code]; ok {
			return fmt.Errorf("%s (%s, HTTP %d): %w", hint, er.Code, er.StatusCode, err)
		}
		return fmt.Errorf("%s (HTTP %d): %w", er.Code, er.StatusCode, err)
	}
	if hint := tlsProblem(err); hint != "" {
		return fmt.Errorf("%s: %w", hint, err)
	}
	return err
}
