package storeurl

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/store/kafkastore"
	"github.com/tidelog/tidelog/store/s3store"
)

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want Location
	}{
		{"/var/lib/tidelog/store", Location{Kind: Dir, Path: "/var/lib/tidelog/store"}},
		{"store", Location{Kind: Dir, Path: "store"}},
		{"./a://b", Location{Kind: Dir, Path: "./a://b"}}, // not a scheme: a path
		{"backup:2024", Location{Kind: Dir, Path: "backup:2024"}},
		{"file:///var/lib/tidelog", Location{Kind: Dir, Path: "/var/lib/tidelog"}},
		{"FILE://localhost/srv/x%20y", Location{Kind: Dir, Path: "/srv/x y"}},
		{"file:///srv/me@work", Location{Kind: Dir, Path: "/srv/me@work"}}, // '@' in a path is no user info
		{"s3://backups", Location{Kind: S3, S3: s3store.Config{Bucket: "backups", Endpoint: "s3.amazonaws.com", Secure: true}}},
		{"s3://backups/prod/db1/?region=eu-west-1", Location{Kind: S3, S3: s3store.Config{
			Bucket: "backups", Prefix: "prod/db1/", Endpoint: "s3.amazonaws.com", Secure: true, Region: "eu-west-1"}}},
		{"s3://b-1/p?endpoint=127.0.0.1:9000&tls=false&path_style=true", Location{Kind: S3, S3: s3store.Config{
			Bucket: "b-1", Prefix: "p", Endpoint: "127.0.0.1:9000", Lookup: s3store.LookupPath}}},
		{"s3://b.x?endpoint=minio.internal:9000&ca_file=/etc/ca.pem&path_style=false", Location{Kind: S3, S3: s3store.Config{
			Bucket: "b.x", Endpoint: "minio.internal:9000", Secure: true, CAFile: "/etc/ca.pem", Lookup: s3store.LookupVirtualHost}}},
		{"s3://bkt?endpoint=http://127.0.0.1:9000", Location{Kind: S3, S3: s3store.Config{Bucket: "bkt", Endpoint: "http://127.0.0.1:9000"}}},
		{"s3://bkt?endpoint=https://s3.example.com&tls=true", Location{Kind: S3, S3: s3store.Config{
			Bucket: "bkt", Endpoint: "https://s3.example.com", Secure: true}}},
		{"kafka://k1:9092", Location{Kind: Kafka, Kafka: kafkastore.Config{Brokers: []string{"k1:9092"}, TopicPrefix: "tidelog"}}},
		{"kafka://k1:9092,k2:9093,[::1]:9094/prod-tidelog/?replication_factor=3&min_insync_replicas=2&max_message_bytes=1048576&client_id=tl",
			Location{Kind: Kafka, Kafka: kafkastore.Config{
				Brokers: []string{"k1:9092", "k2:9093", "[::1]:9094"}, TopicPrefix: "prod-tidelog",
				ReplicationFactor: 3, MinInsyncReplicas: 2, MaxMessageBytes: 1 << 20, ClientID: "tl"}}},
		{"kafka://k1:9093/p?tls=true&ca_file=/etc/ca.pem&cert_file=/etc/c.pem&key_file=/etc/c.key&sasl=SCRAM-SHA-512&user=tidelog",
			Location{Kind: Kafka, Kafka: kafkastore.Config{Brokers: []string{"k1:9093"}, TopicPrefix: "p",
				TLS:  &kafkastore.TLS{CAFile: "/etc/ca.pem", CertFile: "/etc/c.pem", KeyFile: "/etc/c.key"},
				SASL: &kafkastore.SASL{Mechanism: kafkastore.SASLScramSHA512, User: "tidelog", PasswordEnv: KafkaPasswordEnv}}}},
		{"kafka://k1:9093?tls=true", Location{Kind: Kafka, Kafka: kafkastore.Config{Brokers: []string{"k1:9093"}, TopicPrefix: "tidelog",
			TLS: &kafkastore.TLS{}}}},
		{"kafka://k1:9092?tls=false&sasl=scram-sha-256&user=u&password_file=/run/secrets/kafka",
			Location{Kind: Kafka, Kafka: kafkastore.Config{Brokers: []string{"k1:9092"}, TopicPrefix: "tidelog",
				SASL: &kafkastore.SASL{Mechanism: kafkastore.SASLScramSHA256, User: "u", PasswordFile: "/run/secrets/kafka"}}}},
		{"kafka://k1:9093?tls=true&sasl=plain&user=u", Location{Kind: Kafka, Kafka: kafkastore.Config{Brokers: []string{"k1:9093"}, TopicPrefix: "tidelog",
			TLS: &kafkastore.TLS{}, SASL: &kafkastore.SASL{Mechanism: kafkastore.SASLPlain, User: "u", PasswordEnv: KafkaPasswordEnv}}}},
	} {
		got, err := Parse(tc.raw)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.raw, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q)\n got %#v\nwant %#v", tc.raw, got, tc.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		says string // the message must contain this
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"gs://bucket/x", "unknown scheme \"gs\""},
		{"https://s3.example.com/bucket", "unknown scheme"},
		{"mongodb://db:27017", "kafka://"}, // the accepted forms are listed
		{"s3:bucket/prefix", "without '//'"},
		{"kafka:k1:9092", "without '//'"},
		{"file://relative/dir", "three slashes"},
		{"file:///", "no directory"},
		{"file:///x?create=1", "unknown parameter create"},
		{"s3://", "no bucket"},
		{"s3:///prefix", "no bucket"},
		{"s3://127.0.0.1:9000/bucket", "has a port"},
		{"s3://a/p", "3 to 63"},
		{"s3://b%20b/p", "3 to 63"},
		{"s3://bkt/a//b", "empty, '.' or '..'"},
		{"s3://bkt/a/../b", "empty, '.' or '..'"},
		{"s3://bkt?endpoint=", "endpoint is empty"},
		{"s3://bkt?endpoint=host/path", "want HOST[:PORT]"},
		{"s3://bkt?endpoint=ftp://host", "want http or https"},
		{"s3://bkt?endpoint=https://host/bucket", "has a path"},
		{"s3://bkt?endpoint=https://host&tls=false", "contradicts"},
		{"s3://bkt?endpoint=http://host&tls=true", "contradicts"},
		{"s3://bkt?tls=maybe", "want true or false"},
		{"s3://bkt?path_style=yes", "want true or false"},
		{"s3://bkt?endpoint=h:1&tls=false&ca_file=/ca.pem", "ca_file without TLS"},
		{"s3://bkt?regoin=eu", "unknown parameter regoin"},
		{"s3://bkt?region=a&region=b", "given 2 times"},
		{"s3://bkt?region=%zz", "query"},
		{"s3://bkt#frag", "fragment"},
		{"kafka://", "no brokers"},
		{"kafka://k1", "want HOST:PORT"},
		{"kafka://k1:9092,", "want HOST:PORT"},
		{"kafka://k1:port", "want HOST:PORT"},
		{"kafka://k1:70000", "want HOST:PORT"},
		{"kafka://:9092", "want HOST:PORT"},
		{"kafka://k1:9092/a/b", "topic prefix"},
		{"kafka://k1:9092/pre fix", "topic prefix"},
		{"kafka://k1:9092/prod.tidelog", "no '.'"}, // prefix "a" stream "b.c" would share prefix "a.b" stream "c"'s topic
		{"kafka://k1:9092?replication_factor=0", "from 1 to 32767"},
		{"kafka://k1:9092?max_message_bytes=100", "from 4096"},
		{"kafka://k1:9092?max_message_bytes=1MB", "want an integer"},
		{"kafka://k1:9092?acks=1", "unknown parameter acks"},
		{"kafka://k1:9092?tls=yes", "want true or false"},
		{"kafka://k1:9092?ca_file=/ca.pem", "add tls=true"},
		{"kafka://k1:9092?tls=false&cert_file=/c.pem&key_file=/c.key", "add tls=true"},
		{"kafka://k1:9092?tls=true&cert_file=/c.pem", "both cert_file and key_file"},
		{"kafka://k1:9092?tls=true&key_file=/c.key", "both cert_file and key_file"},
		{"kafka://k1:9092?sasl=gssapi&user=u", `sasl="gssapi": want plain, scram-sha-256 or scram-sha-512`},
		{"kafka://k1:9092?sasl=plain&user=u", "sasl=plain sends the password as it is: add tls=true"},
		{"kafka://k1:9092?sasl=scram-sha-256", "needs user=NAME"},
		{"kafka://k1:9092?sasl=scram-sha-256&user=", "needs user=NAME"},
		{"kafka://k1:9092?user=u", "add sasl="},
		{"kafka://k1:9092?password_file=/pw", "add sasl="},
		{"kafka://k1:9092?sasl=scram-sha-256&user=u&password_file=", "password_file is empty"},
		{"s3://bkt?user=AKIAEXAMPLE", "AWS_ACCESS_KEY_ID"}, // a user is a credential in S3
	} {
		_, err := Parse(tc.raw)
		if err == nil {
			t.Errorf("Parse(%q) accepted, want an error saying %q", tc.raw, tc.says)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q): %v does not wrap ErrInvalid", tc.raw, err)
		}
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Parse(%q): %q does not say %q", tc.raw, err, tc.says)
		}
	}
}

// Credentials in a location are refused with where to put them instead,
// and the message never repeats them.
func TestParseRefusesCredentials(t *testing.T) {
	for _, raw := range []string{
		"s3://AKIAEXAMPLE:hunter2secret@bucket/prefix?endpoint=h:9000",
		"s3://hunter2secret@bucket",
		"kafka://user:hunter2secret@k1:9092/p",
		"file://me:hunter2secret@localhost/x",
		"s3://bucket/p?secret_key=hunter2secret",
		"s3://bucket/p?AWS_SECRET_ACCESS_KEY=hunter2secret",
		"s3://bucket/p?endpoint=https://u:hunter2secret@s3.example.com",
		"kafka://k1:9092/p?sasl_password=hunter2secret",
		"kafka://k1:9092/p?sasl=scram-sha-256&user=u&password=hunter2secret",
		"kafka://k1:9092/p?tls=true&sasl=plain&user=u&PASSWORD=hunter2secret",
		"kafka://k1:9092/p?sasl=scram-sha-512&user=u&sasl.jaas.config=hunter2secret",
		"kafka://k1:9092/p?tls=true&key_file=/k&cert_file=/c&key_password=hunter2secret",
		"kafka://u:hunter2secret@k1:9092/p?sasl=scram-sha-256",
		"s3://u:hunter2secret@bucket/p#x",                    // a fragment too: still no secret in the message
		"s3://AKIAEXAMPLE:hunter2/secret@bucket/prefix",      // a '/' in the secret key
		"s3://AKIAEXAMPLE:a/b/hunter2secret@bucket",          // several
		"kafka://k1:9092/AKIAEXAMPLE:hunter2secret@x",        // '@' in what would be the path
		"s3://bucket/p?endpoint=AKIAEXAMPLE:hunter2secret@h", // an endpoint without scheme
		"s3:AKIAEXAMPLE:hunter2secret@bucket",                // no '//' either
	} {
		_, err := Parse(raw)
		if err == nil {
			t.Errorf("Parse(%q) accepted credentials", raw)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "hunter2secret") || strings.Contains(msg, "AKIAEXAMPLE") {
			t.Errorf("Parse(%q): the message repeats the secret: %s", raw, msg)
		}
		where := "AWS_ACCESS_KEY_ID"
		if strings.HasPrefix(raw, "kafka:") {
			where = "password in the environment variable TIDELOG_KAFKA_PASSWORD or in a file named by password_file=FILE"
		}
		if !strings.Contains(msg, where) && !strings.Contains(msg, "fragment") && !strings.Contains(msg, "without '//'") {
			t.Errorf("Parse(%q): %s does not say where credentials go (%s)", raw, msg, where)
		}
	}
}

func TestDescribeHidesUserInfoAndQuery(t *testing.T) {
	for raw, want := range map[string]string{
		"/plain/path":                         "/plain/path",
		"s3://u:p@bucket/pre?secret_key=x#f":  "s3://REDACTED@bucket/pre",
		"s3://k:a/b@bucket/pre":               "s3://REDACTED@bucket/pre",
		"s3:k:s@bucket":                       "s3:REDACTED@bucket",
		"/home/me@work/store":                 "/home/me@work/store",
		"kafka://k1:9092,k2:9092?client_id=x": "kafka://k1:9092,k2:9092",
		"s3://bucket":                         "s3://bucket",
		"file:///var/x":                       "file:///var/x",
	} {
		if got := describe(raw); got != want {
			t.Errorf("describe(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestLocationString(t *testing.T) {
	for raw, want := range map[string]string{
		"/srv/store":                 "dir:/srv/store",
		"kafka://k1:9092,k2:9092":    "kafka:k1:9092,k2:9092/tidelog",
		"s3://bkt/p?endpoint=h:9000": `s3 endpoint h:9000 bucket bkt prefix "p" (credential chain)`,
	} {
		l, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", raw, got, want)
		}
		if dir, ok := l.LocalDir(); ok != (l.Kind == Dir) || ok && dir != l.Path {
			t.Errorf("Parse(%q).LocalDir() = %q, %v", raw, dir, ok)
		}
	}
}
