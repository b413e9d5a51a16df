// Package storeurl turns the --store setting of tailerd and replayer into a
// store: one string names a directory, a bucket or a Kafka cluster, so that
// every command and the YAML config take the same value and an operator can
// copy it from one to the other.
//
//	/var/lib/tidelog/store                      a directory (dirstore)
//	file:///var/lib/tidelog/store               the same, as a URL
//	s3://BUCKET[/PREFIX][?endpoint=HOST:PORT&region=R&path_style=true&tls=false&ca_file=FILE]
//	kafka://HOST:PORT[,HOST:PORT...][/TOPICPREFIX][?replication_factor=N&min_insync_replicas=N&max_message_bytes=N&client_id=ID
//	        &tls=true&ca_file=FILE&cert_file=FILE&key_file=FILE
//	        &sasl=plain|scram-sha-256|scram-sha-512&user=NAME&password_file=FILE]
//
// Credentials are never part of the location: a command line shows in ps
// and in shell history, and a location is printed in logs and messages. A
// location with user:password, or a query parameter that looks like a
// secret, is refused with a message that says where credentials go instead
// (for S3, the standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
// MINIO_ROOT_USER/MINIO_ROOT_PASSWORD, ~/.aws/credentials, an instance role;
// for Kafka SASL, the password is read when the store opens, and again for
// each new connection, from password_file or else the environment variable
// TIDELOG_KAFKA_PASSWORD). A user name and file paths are not secrets and
// may appear in a location.
//
// Parsing is strict (an unknown or repeated parameter is an error, not a
// silently ignored setting) and separate from opening, so that a command
// can reject a bad location as bad usage before it touches the network.
package storeurl
