package testserver

import (
	"net/url"
)

// listenArgs are FerretDB's listener flags: a plain TCP port, or for a TLS
// server a TLS port that requires a client certificate of the server's
// PKI. FerretDB v1.24 reports its plain --listen-addr as hello's hosts
// (and nothing at all without one, which no replica set member does), so a
// TLS server keeps a plain listener too, on a port of its own that no URI
// names: clients reach the server through the TLS port only.
func (s *Server) listenArgs(addr string) []string {
	if s.PKI == nil {
		return []string{"--listen-addr=" + addr}
	}
	return []string{
		"--listen-addr=" + s.plain,
		"--listen-tls=" + addr,
		"--listen-tls-cert-file=" + s.PKI.ServerCertFile,
		"--listen-tls-key-file=" + s.PKI.ServerKeyFile,
		"--listen-tls-ca-file=" + s.PKI.CAFile,
	}
}

// uri is the URI a client of the server at addr connects with: its user
// and password, and its TLS files, if it has them.
func (s *Server) uri(addr string) string {
	u := url.URL{Scheme: "mongodb", Host: addr, Path: "/"}
	if s.opts.Auth {
		u.User = url.UserPassword(s.opts.User, s.opts.Password)
	}
	q := "directConnection=true"
	if s.PKI != nil {
		q += "&tls=true&tlsCAFile=" + url.QueryEscape(s.PKI.CAFile) +
			"&tlsCertificateKeyFile=" + url.QueryEscape(s.PKI.ClientPEMFile)
	}
	u.RawQuery = q
	return u.String()
}

// User and Password are the credentials of an Options.Auth server ("" without).
func (s *Server) User() string     { return s.opts.User }
func (s *Server) Password() string { return s.opts.Password }
