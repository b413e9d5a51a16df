package s3store

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what a Secret prints as, whatever the verb.
const redacted = "[redacted]"

// Secret is a credential that must not leak into messages: it formats,
// marshals and logs as "[redacted]" so that printing a Config (or an error
// or log line that includes one) cannot reveal it. Reveal returns the value
// for the one place that needs it, the request signer.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]" (or "" for an empty secret, so that a missing
// secret can still be told from a set one).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return fmt.Sprintf("s3store.Secret(%q)", s.String()) }

// Format makes every fmt verb (%v, %s, %q, %x, %d…) print String().
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// MarshalText keeps encoders (JSON, YAML) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue keeps log/slog from writing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
