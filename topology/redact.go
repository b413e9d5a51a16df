package topology

import "strings"

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
