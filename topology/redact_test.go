package topology

import (
	"strings"
	"testing"
)

func TestRedactURI(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"mongodb://h:1/?replicaSet=rs", "mongodb://h:1/?replicaSet=rs"},
		{"mongodb://u:s3cret@h1:1,h2:2/admin?replicaSet=rs", "mongodb://u:xxxxx@h1:1,h2:2/admin?replicaSet=rs"},
		{"mongodb://CN%3Dme@h:1/?authMechanism=MONGODB-X509", "mongodb://CN%3Dme@h:1/?authMechanism=MONGODB-X509"},
		{"mongodb://h:1/?tls=true&tlsCertificateKeyFilePassword=s3cret&appName=a",
			"mongodb://h:1/?tls=true&tlsCertificateKeyFilePassword=xxxxx&appName=a"},
		{"mongodb://h:1/?authMechanismProperties=AWS_SESSION_TOKEN:s3cret",
			"mongodb://h:1/?authMechanismProperties=xxxxx"},
		{"not a uri s3cret", "xxxxx"},
	} {
		if got := RedactURI(c.in); got != c.want {
			t.Errorf("RedactURI(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Malformed URIs (an unescaped '@' or '/' in the password) are still
// redacted: too much rather than too little.
func TestRedactURIMalformed(t *testing.T) {
	for _, in := range []string{
		"mongodb://u:s3c@ret@h:1/",
		"mongodb://u:s3c/ret@h:1/",
		"mongodb+srv://u:s3cret@cluster.example.net/?appName=x@y",
	} {
		if got := RedactURI(in); strings.Contains(got, "s3c") {
			t.Errorf("RedactURI(%q) = %q leaks the password", in, got)
		}
	}
}

func TestReplicaSetStringRedacts(t *testing.T) {
	r := ReplicaSet{Name: "shard01", Role: RoleShard, SetName: "rs1", URI: "mongodb://u:s3cret@h:1/?replicaSet=rs1", Draining: true}
	s := r.String()
	if strings.Contains(s, "s3cret") || !strings.Contains(s, "shard01") || !strings.Contains(s, "draining") {
		t.Fatalf("String() = %q", s)
	}
}

// The driver's parse errors may quote a malformed password; ValidateURI's
// never contain the user info or secret options, yet still say what is
// wrong.
func TestValidateURIDoesNotQuoteSecrets(t *testing.T) {
	for uri, says := range map[string]string{
		"mongodb://u:pa%zzSECRET@h:27017/":                       "password",
		"mongodb://u:SECRET@h:27017/?replicaSet=rs0&tls=maybe":   "tls",
		"mongodb://u:SECRET@h:notaport/":                         "port",
		"mongodb://h/?tlsCertificateKeyFilePassword=pa%zzSECRET": "secret option",
	} {
		err := ValidateURI(uri)
		if err == nil {
			t.Errorf("%s: accepted", uri)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "%zz") {
			t.Errorf("%s: the error quotes a secret: %v", uri, err)
		}
		if !strings.Contains(strings.ToLower(err.Error()), says) {
			t.Errorf("%s: %v; want it to mention %q", uri, err, says)
		}
	}
	if err := ValidateURI("mongodb://u:p%40ss@h:27017/?replicaSet=rs0"); err != nil {
		t.Errorf("a valid URI: %v", err)
	}
}
