package storeurl

import (
	"net/url"
	"strings"
)

// Parse reads a store location (see the package comment for the forms).
// Every error wraps ErrInvalid and never repeats user info or a query,
// which could hold a secret.
func Parse(raw string) (Location, error) {
	if strings.TrimSpace(raw) == "" {
		return Location{}, invalid(raw, "empty; want %s", Forms)
	}
	scheme, rest, isURL := cutScheme(raw)
	if !isURL {
		if err := checkNotSchemeTypo(raw); err != nil {
			return Location{}, err
		}
		return Location{Kind: Dir, Path: raw}, nil
	}
	u, err := split(raw, scheme, rest)
	if err != nil {
		return Location{}, err
	}
	switch scheme {
	case "file":
		return parseFile(raw, u)
	case "s3":
		return parseS3(raw, u)
	case "kafka":
		return parseKafka(raw, u)
	}
	return Location{}, invalid(raw, "unknown scheme %q; want %s", scheme, Forms)
}

// cutScheme splits "scheme://rest" with a syntactically valid scheme, lower
// cased. Anything else (a/b, ./x://y) is not a URL but a path.
func cutScheme(raw string) (scheme, rest string, ok bool) {
	scheme, rest, ok = strings.Cut(raw, "://")
	if !ok || !validScheme(scheme) {
		return "", "", false
	}
	return strings.ToLower(scheme), rest, true
}

// validScheme is RFC 3986's ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

// checkNotSchemeTypo refuses "s3:bucket" and the like, which would
// otherwise be taken for a relative directory and quietly created there.
func checkNotSchemeTypo(raw string) error {
	if s := schemeTypo(raw); s != "" {
		return invalid(raw, "looks like a URL without '//': write %s//...; want %s", strings.ToLower(s), Forms)
	}
	return nil
}

// parts is a URL taken apart: authority (hosts or bucket), the decoded
// path without its leading '/', and the query.
type parts struct {
	authority string
	path      string
	query     params
}

// split takes rest (the URL after "scheme://") apart. User info is refused
// before anything else, so that no later message can carry it: for s3 and
// kafka any '@' before the query counts, since a secret key may hold a
// '/' and so reach into what would otherwise be read as the path.
func split(raw, scheme, rest string) (parts, error) {
	if strings.Contains(rest, "#") {
		return parts{}, invalid(raw, "a fragment (#...) means nothing here")
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	if strings.Contains(authority, "@") || scheme != "file" && strings.Contains(rest, "@") {
		return parts{}, invalid(raw, "'@' is refused: it would be user info (user:password@), and %s", credentialsHelp(scheme))
	}
	decoded, err := url.PathUnescape(path)
	if err != nil {
		return parts{}, invalid(raw, "path: %v", err)
	}
	q, err := parseParams(raw, scheme, rawQuery)
	if err != nil {
		return parts{}, err
	}
	return parts{authority: authority, path: decoded, query: q}, nil
}
