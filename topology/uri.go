package topology

import (
	"fmt"
	"net/url"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// seed is what every replica set URI inherits from the URI the operator
// gave: credentials, auth and TLS settings, timeouts and other options.
type seed struct {
	user  *url.Userinfo
	db    string
	query url.Values
}

// notInherited are the seed options that describe how to reach the seed
// itself, not the replica sets found through it. directConnection would pin
// a replica set URI to one member and lose failover; replicaSet is set per
// replica set; the rest only make sense for the seed's own host list.
var notInherited = map[string]bool{
	"replicaset":       true,
	"directconnection": true,
	"loadbalanced":     true,
	"connect":          true, // legacy spelling of directConnection
	"srvmaxhosts":      true,
	"srvservicename":   true,
}

// parseSeed parses uri with the driver's own parser, so that every option
// the driver accepts (including those an SRV seed's TXT record adds) is
// carried over exactly as the driver understood it. An SRV seed is looked
// up in DNS here, as the driver itself would when connecting.
func parseSeed(uri string) (seed, error) {
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		// The driver's message may quote the URI: say which seed without it.
		return seed{}, fmt.Errorf("topology: seed URI %s: %w", RedactURI(uri), err)
	}
	s := seed{db: cs.Database, query: url.Values{}}
	if cs.UsernameSet {
		s.user = url.User(cs.Username)
		if cs.PasswordSet {
			s.user = url.UserPassword(cs.Username, cs.Password)
		}
	}
	spelling := optionSpelling(uri)
	for k, vs := range cs.Options {
		if notInherited[k] {
			continue
		}
		if sp, ok := spelling[k]; ok {
			k = sp
		}
		s.query[k] = vs
	}
	// SRV turns TLS on without writing it in the URI; a mongodb:// URI
	// built from it must say so, or it would connect in the clear.
	_, tls := cs.Options["tls"]
	_, ssl := cs.Options["ssl"]
	if cs.Scheme == connstring.SchemeMongoDBSRV && !tls && !ssl {
		s.query.Set("tls", "true")
	}
	return s, nil
}

// optionSpelling maps each option key of uri's query, lower-cased (as the
// driver keys them), to how uri spells it, so built URIs read like the
// seed ("authSource", not "authsource"). Options an SRV TXT record adds
// keep the driver's lower case; the driver reads either.
func optionSpelling(uri string) map[string]string {
	m := map[string]string{}
	_, query, ok := strings.Cut(uri, "?")
	if !ok {
		return m
	}
	for _, pair := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(k); err == nil {
			m[strings.ToLower(k)] = k
		}
	}
	return m
}

// uriFor builds the URI of the replica set h: its members as the seed list,
// replicaSet=h.SetName, and everything the seed carries.
func (s seed) uriFor(h HostString) (string, error) {
	if h.SetName == "" || len(h.Hosts) == 0 {
		return "", fmt.Errorf("topology: replica set %q with hosts %v: need a name and a host", h.SetName, h.Hosts)
	}
	hosts := make([]string, len(h.Hosts))
	for i, host := range h.Hosts {
		hosts[i] = host
		if strings.Contains(host, "/") { // a Unix socket path must be escaped in a URI
			hosts[i] = url.QueryEscape(host)
		}
	}
	q := url.Values{}
	for k, vs := range s.query {
		q[k] = vs
	}
	q.Set("replicaSet", h.SetName)
	var b strings.Builder
	b.WriteString("mongodb://")
	if s.user != nil {
		b.WriteString(s.user.String())
		b.WriteByte('@')
	}
	b.WriteString(strings.Join(hosts, ","))
	b.WriteByte('/')
	b.WriteString(url.PathEscape(s.db))
	b.WriteByte('?')
	b.WriteString(q.Encode())
	uri := b.String()
	if _, err := connstring.ParseAndValidate(uri); err != nil {
		return "", fmt.Errorf("topology: replica set %s: built URI %s is not valid: %w", h.SetName, RedactURI(uri), err)
	}
	return uri, nil
}

// ReplicaSetURI returns the URI of the replica set h, carrying over seedURI's
// credentials and options (not its hosts, replicaSet or directConnection).
func ReplicaSetURI(seedURI string, h HostString) (string, error) {
	s, err := parseSeed(seedURI)
	if err != nil {
		return "", err
	}
	return s.uriFor(h)
}
