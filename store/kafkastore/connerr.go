package kafkastore

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// connProblem returns what to do about an open that failed because of the
// TLS or SASL settings (or the lack of them), or "" for any other failure.
// It never repeats the password, which it does not have.
func connProblem(err error, c Config) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var firstRead *kgo.ErrFirstReadEOF // franz-go's own advice says more
	var ne net.Error
	msg := err.Error()
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed) && c.SASL != nil:
		return fmt.Sprintf("SASL %s authentication as user %q failed: check the user and the password in the %s",
			c.SASL.Mechanism, c.SASL.User, c.SASL.passwordSource())
	case errors.Is(err, io.EOF) && c.SASL != nil && !errors.As(err, &firstRead):
		// Kafka answers a failed authentication with
		// SASL_AUTHENTICATION_FAILED and closes the connection; some
		// brokers (and kfake) only close it.
		return fmt.Sprintf("the broker closed the connection during SASL %s authentication as user %q: check the user, the password in the %s, and that the brokers enable %s",
			c.SASL.Mechanism, c.SASL.User, c.SASL.passwordSource(), c.SASL.Mechanism)
	case errors.Is(err, kerr.UnsupportedSaslMechanism) && c.SASL != nil:
		return fmt.Sprintf("the brokers do not offer SASL %s: use a mechanism they enable (sasl.enabled.mechanisms)", c.SASL.Mechanism)
	case errors.As(err, &unknown):
		return "the broker's certificate is signed by an unknown authority: give its CA certificate as the CA file (ca_file)"
	case errors.As(err, &host):
		return "the broker's certificate is not valid for the host name it was reached by: use a broker address the certificate lists"
	case errors.As(err, &invalid):
		return "the broker's certificate is invalid (expired, or not for serving): renew it or give the right CA file"
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "the broker does not speak TLS on this port: connect without TLS, or to its TLS listener"
	case c.TLS != nil && errors.As(err, &ne) && ne.Timeout():
		return "no broker completed a TLS handshake in time: check the addresses, and that they are the brokers' TLS listeners (a plaintext port does not answer a TLS client)"
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"),
		strings.Contains(msg, "unknown certificate authority"):
		return "the broker refused the TLS connection for want of a client certificate it trusts: give a client certificate and key (cert_file, key_file) its CA signed"
	}
	return ""
}
