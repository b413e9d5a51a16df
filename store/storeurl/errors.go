package storeurl

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every error about the form of a location (as
// opposed to a store that cannot be reached or is not a tidelog store), so
// that commands can report it as bad usage.
var ErrInvalid = errors.New("invalid store location")

// Forms lists the accepted locations, for messages and help texts.
const Forms = "a directory (/path or file:///path), " +
	"s3://BUCKET[/PREFIX][?endpoint=HOST:PORT&region=R&path_style=true|false&tls=true|false&ca_file=FILE], " +
	"or kafka://HOST:PORT[,HOST:PORT...][/TOPICPREFIX][?replication_factor=N&min_insync_replicas=N&max_message_bytes=N&client_id=ID" +
	"&tls=true&ca_file=FILE&cert_file=FILE&key_file=FILE&sasl=plain|scram-sha-256|scram-sha-512&user=NAME&password_file=FILE]"

// KafkaPasswordEnv is the environment variable a Kafka location's SASL
// password is read from, unless the location names a password_file.
const KafkaPasswordEnv = "TIDELOG_KAFKA_PASSWORD"

// credentialsHelp says where credentials for a store of scheme go instead
// of the location.
func credentialsHelp(scheme string) string {
	const never = "credentials never go into the store location (it shows in ps, shell history and logs): "
	const s3 = "for S3 set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or MINIO_ROOT_USER and MINIO_ROOT_PASSWORD) " +
		"in the environment, or put them in ~/.aws/credentials (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE), or use an instance role"
	const kafka = "for Kafka give sasl=MECHANISM&user=NAME and put the password in the environment variable " +
		KafkaPasswordEnv + " or in a file named by password_file=FILE"
	switch scheme {
	case "s3":
		return never + s3
	case "kafka":
		return never + kafka
	}
	return never + s3 + "; " + kafka
}

// invalid is an ErrInvalid error about raw. The location is shown only as
// describe makes it, without user info or query, which may hold secrets.
func invalid(raw, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrInvalid, describe(raw), fmt.Sprintf(format, args...))
}
