package storeurl

import (
	"strings"

	"github.com/tidelog/tidelog/store/kafkastore"
)

// kafkaMechanisms maps the sasl parameter (any case) to the mechanism.
var kafkaMechanisms = map[string]string{
	"plain":         kafkastore.SASLPlain,
	"scram-sha-256": kafkastore.SASLScramSHA256,
	"scram-sha-512": kafkastore.SASLScramSHA512,
}

// parseKafkaSecurity reads a Kafka location's TLS and SASL parameters:
//
//	tls=true [ca_file=FILE] [cert_file=FILE key_file=FILE]
//	sasl=plain|scram-sha-256|scram-sha-512 user=NAME [password_file=FILE]
//
// The password itself is never a parameter: it is read from password_file
// or, without one, from the environment variable KafkaPasswordEnv, when the
// store opens. File paths are not secrets and may be logged.
func parseKafkaSecurity(raw string, q params) (*kafkastore.TLS, *kafkastore.SASL, error) {
	tlsOn, _, err := q.boolean("tls")
	if err != nil {
		return nil, nil, err
	}
	var t kafkastore.TLS
	t.CAFile, _ = q.str("ca_file")
	t.CertFile, _ = q.str("cert_file")
	t.KeyFile, _ = q.str("key_file")
	switch {
	case !tlsOn && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != ""):
		return nil, nil, invalid(raw, "ca_file, cert_file and key_file are TLS settings: add tls=true")
	case (t.CertFile == "") != (t.KeyFile == ""):
		return nil, nil, invalid(raw, "a client certificate needs both cert_file and key_file")
	}
	var tlsCfg *kafkastore.TLS
	if tlsOn {
		tlsCfg = &t
	}
	mech, saslGiven := q.str("sasl")
	user, userGiven := q.str("user")
	pwFile, pwFileGiven := q.str("password_file")
	if !saslGiven {
		if userGiven || pwFileGiven {
			return nil, nil, invalid(raw, "user and password_file are SASL settings: add sasl=plain, sasl=scram-sha-256 or sasl=scram-sha-512")
		}
		return tlsCfg, nil, nil
	}
	mechanism, ok := kafkaMechanisms[strings.ToLower(mech)]
	switch {
	case !ok:
		return nil, nil, invalid(raw, "sasl=%q: want plain, scram-sha-256 or scram-sha-512", mech)
	case mechanism == kafkastore.SASLPlain && !tlsOn:
		return nil, nil, invalid(raw, "sasl=plain sends the password as it is: add tls=true, or use scram-sha-256 or scram-sha-512")
	case user == "":
		return nil, nil, invalid(raw, "sasl=%s needs user=NAME (the password goes in %s or a password_file, never here)", mech, KafkaPasswordEnv)
	case pwFileGiven && pwFile == "":
		return nil, nil, invalid(raw, "password_file is empty: name the file that holds the password, or leave it out to read %s", KafkaPasswordEnv)
	}
	s := &kafkastore.SASL{Mechanism: mechanism, User: user, PasswordFile: pwFile}
	if pwFile == "" {
		s.PasswordEnv = KafkaPasswordEnv
	}
	return tlsCfg, s, nil
}
