package storeurl

import "strings"

// describe is raw as it may appear in a message: for a URL, everything up
// to the query, with all before the last '@' replaced by "REDACTED@" and
// the query and fragment left out. Any of these may hold a secret someone
// put there by mistake (an AWS secret key may contain '/', so user info is
// not only what precedes the first '/'), and a message must not repeat it
// into a log. A path that looks like a URL missing its "//" ("s3:k:s@b")
// is treated the same way, even where a "://" follows later (in what would
// be its query or user info): only a valid scheme makes a URL, as in Parse.
func describe(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || !validScheme(scheme) {
		if prefix := schemeTypo(raw); prefix != "" {
			if i := strings.IndexAny(raw, "?#"); i >= 0 {
				raw = raw[:i]
			}
			if at := strings.LastIndex(raw, "@"); at >= 0 {
				return prefix + "REDACTED@" + raw[at+1:]
			}
		}
		return raw
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "REDACTED@" + rest[at+1:]
	}
	return scheme + "://" + rest
}

// schemeTypo returns the scheme prefix ("s3:") of a location written
// without "//", or "".
func schemeTypo(raw string) string {
	lower := strings.ToLower(raw)
	for _, s := range []string{"s3:", "kafka:", "file:"} {
		if strings.HasPrefix(lower, s) && !strings.HasPrefix(lower, s+"//") {
			return raw[:len(s)]
		}
	}
	return ""
}
