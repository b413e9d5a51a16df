package topology

import (
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

func mustHost(t *testing.T, s string) HostString {
	t.Helper()
	h, err := ParseHostString(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestReplicaSetURIPlain(t *testing.T) {
	got, err := ReplicaSetURI("mongodb://mongos1:27017", mustHost(t, "rs0/h1:1,h2:2"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "mongodb://h1:1,h2:2/?replicaSet=rs0"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// Credentials, auth and TLS settings and other options reach the replica set
// URI; the seed's hosts, replicaSet and directConnection do not.
func TestReplicaSetURICarriesOptions(t *testing.T) {
	seedURI := "mongodb://back%2Fup:p%40ss%3Aw0rd@mongos1:27017,mongos2:27017/admin?authSource=admin" +
		"&authMechanism=SCRAM-SHA-256&tls=true&tlsCAFile=/etc/ca.pem&tlsCertificateKeyFile=/etc/me.pem" +
		"&tlsCertificateKeyFilePassword=k3y&readPreference=secondaryPreferred&appName=tidelog" +
		"&directConnection=false&replicaSet=wrong&connectTimeoutMS=5000&compressors=zstd"
	got, err := ReplicaSetURI(seedURI, mustHost(t, "shard01/s1:27018,s2:27018"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := connstring.ParseAndValidate(got)
	if err != nil {
		t.Fatalf("built URI does not parse: %v", err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"username", cs.Username, "back/up"},
		{"password", cs.Password, "p@ss:w0rd"},
		{"authSource", cs.AuthSource, "admin"},
		{"authMechanism", cs.AuthMechanism, "SCRAM-SHA-256"},
		{"database", cs.Database, "admin"},
		{"tls", cs.SSL, true},
		{"tlsCAFile", cs.SSLCaFile, "/etc/ca.pem"},
		{"tlsCertificateKeyFile", cs.SSLClientCertificateKeyFile, "/etc/me.pem"},
		{"tlsCertificateKeyFilePassword", cs.SSLClientCertificateKeyPassword(), "k3y"},
		{"readPreference", cs.ReadPreference, "secondaryPreferred"},
		{"appName", cs.AppName, "tidelog"},
		{"connectTimeout", cs.ConnectTimeout.Milliseconds(), int64(5000)},
		{"compressors", strings.Join(cs.Compressors, ","), "zstd"},
		{"replicaSet", cs.ReplicaSet, "shard01"},
		{"directConnection set", cs.DirectConnectionSet, false},
		{"hosts", strings.Join(cs.Hosts, ","), "s1:27018,s2:27018"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	if strings.Contains(got, "mongos") {
		t.Errorf("built URI %q still names the seed's hosts", got)
	}
}

// A seed pinned to one member with directConnection (how one points at a
// single config server member) must not pin the replica set URIs.
func TestReplicaSetURIDropsDirectConnection(t *testing.T) {
	got, err := ReplicaSetURI("mongodb://cfg1:27019/?directConnection=true&w=majority", mustHost(t, "rs1/a:1,b:2"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := connstring.ParseAndValidate(got)
	if err != nil {
		t.Fatal(err)
	}
	if cs.DirectConnectionSet || cs.ReplicaSet != "rs1" || !slices.Equal(cs.Hosts, []string{"a:1", "b:2"}) || cs.WString != "majority" {
		t.Fatalf("got %q: direct %v set %q hosts %v w %q", got, cs.DirectConnectionSet, cs.ReplicaSet, cs.Hosts, cs.WString)
	}
}

func TestReplicaSetURIUnixSocket(t *testing.T) {
	got, err := ReplicaSetURI("mongodb://localhost", mustHost(t, "rs/"+"/tmp/mongodb-27018.sock"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := connstring.ParseAndValidate(got)
	if err != nil {
		t.Fatalf("%q: %v", got, err)
	}
	if !slices.Equal(cs.Hosts, []string{"/tmp/mongodb-27018.sock"}) {
		t.Fatalf("%q: hosts %v", got, cs.Hosts)
	}
}

func TestReplicaSetURIBadSeed(t *testing.T) {
	_, err := ReplicaSetURI("mongodb://u:s3cret@h:1/?tls=maybe", mustHost(t, "rs/a:1"))
	if err == nil {
		t.Fatal("a bad seed URI was accepted")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

// Options keep the seed's spelling, so built URIs read like the seed.
func TestReplicaSetURIKeepsOptionSpelling(t *testing.T) {
	got, err := ReplicaSetURI("mongodb://m:1/?authSource=admin&appName=tidelog&REPLICASET=x", mustHost(t, "rs0/h1:1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "mongodb://h1:1/?appName=tidelog&authSource=admin&replicaSet=rs0"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
