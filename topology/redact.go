package topology

import (
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// secretOptions are URI options whose values are secrets (lower case).
var secretOptions = map[string]bool{
	"tlscertificatekeyfilepassword": true,
	"sslpemkeypassword":             true,
	"authmechanismproperties":       true, // may hold AWS_SESSION_TOKEN
}

const masked = "xxxxx"

// RedactURI masks the password and secret options of a MongoDB URI so it
// can be logged. It works on the text, not a parse, so that a URI the
// driver rejects is still redacted; when in doubt it masks too much (for
// example an '@' inside an option makes everything before it masked).
func RedactURI(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return masked
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, _, hasPass := strings.Cut(rest[:at], ":")
		b.WriteString(user)
		if hasPass {
			b.WriteString(":" + masked)
		}
		b.WriteByte('@')
		rest = rest[at+1:]
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	b.WriteString(path)
	if !hasQuery {
		return b.String()
	}
	b.WriteByte('?')
	pairs := strings.Split(query, "&")
	for i, p := range pairs {
		if k, _, ok := strings.Cut(p, "="); ok && secretOptions[strings.ToLower(k)] {
			pairs[i] = k + "=" + masked
		}
	}
	b.WriteString(strings.Join(pairs, "&"))
	return b.String()
}

// ValidateURI checks a MongoDB URI as the driver will parse it and returns
// an error safe to print. The driver's own errors can quote part of what
// it failed to parse ("invalid URL escape "%zz"" in a password), so the
// redacted URI is validated instead; if that passes, the fault lies in the
// masked parts and is described without them.
func ValidateURI(uri string) error {
	if options.Client().ApplyURI(uri).Validate() == nil {
		return nil
	}
	if err := options.Client().ApplyURI(RedactURI(uri)).Validate(); err != nil {
		return err
	}
	return errors.New("its user name, password or a secret option is malformed (percent-encode @ : / ? # [ ] % in them)")
}
