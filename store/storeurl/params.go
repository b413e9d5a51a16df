package storeurl

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// params are a location's query parameters, read strictly: each at most
// once, and every one given must be known (see done), so that a misspelt
// setting is an error rather than silently ignored.
type params struct {
	raw    string // the location, for messages
	values url.Values
	used   map[string]bool
}

// secretParams are names people use for credentials; they get the
// credentials message rather than "unknown parameter".
var secretParams = []string{
	"access_key", "secret_key", "accesskey", "secretkey", "access_key_id", "secret_access_key",
	"aws_access_key_id", "aws_secret_access_key", "session_token", "token",
	"password", "passwd", "pass", "pwd", "secret", "user", "username", "sasl_user", "sasl_password",
	"sasl_username", "sasl_pass", "sasl.password", "sasl.jaas.config", "ssl.key.password", "key_password",
}

// publicParams are names in secretParams that a scheme takes because they
// are not secret there: a Kafka SASL user name is no more secret than a
// MongoDB user name in a logged URI.
var publicParams = map[string][]string{"kafka": {"user"}}

func parseParams(raw, scheme, query string) (params, error) {
	values, err := url.ParseQuery(query)
	if err != nil {
		return params{}, invalid(raw, "query: %v", err)
	}
	for name, vs := range values {
		lower := strings.ToLower(name)
		if slices.Contains(secretParams, lower) && !slices.Contains(publicParams[scheme], name) {
			return params{}, invalid(raw, "parameter %q is refused: %s", name, credentialsHelp(scheme))
		}
		if len(vs) > 1 {
			return params{}, invalid(raw, "parameter %q given %d times", name, len(vs))
		}
	}
	return params{raw: raw, values: values, used: map[string]bool{}}, nil
}

// str returns the parameter's value and whether it was given.
func (p params) str(name string) (string, bool) {
	p.used[name] = true
	vs, ok := p.values[name]
	if !ok {
		return "", false
	}
	return vs[0], true
}

// boolean reads true/false (and the other forms strconv.ParseBool takes).
func (p params) boolean(name string) (v, given bool, err error) {
	s, given := p.str(name)
	if !given {
		return false, false, nil
	}
	v, err = strconv.ParseBool(s)
	if err != nil {
		return false, true, invalid(p.raw, "parameter %s=%q: want true or false", name, s)
	}
	return v, true, nil
}

// integer reads a decimal integer in [lo, hi]; 0 if not given.
func (p params) integer(name string, lo, hi int64) (int64, error) {
	s, given := p.str(name)
	if !given {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, invalid(p.raw, "parameter %s=%q: want an integer from %d to %d", name, s, lo, hi)
	}
	return v, nil
}

// done fails if a parameter was given that no str call asked for.
func (p params) done(scheme string) error {
	var unknown []string
	for name := range p.values {
		if !p.used[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	known := make([]string, 0, len(p.used))
	for name := range p.used {
		known = append(known, name)
	}
	slices.Sort(known)
	if len(known) == 0 {
		return invalid(p.raw, "unknown parameter %s: a %s location takes none", strings.Join(unknown, ", "), scheme)
	}
	return invalid(p.raw, "unknown parameter %s: a %s location takes %s", strings.Join(unknown, ", "), scheme, strings.Join(known, ", "))
}
