package storeurl

import (
	"github.com/tidelog/tidelog/store/kafkastore"
	"github.com/tidelog/tidelog/store/s3store"
)

// Kind is the sort of store a location names.
type Kind string

// The kinds of store.
const (
	Dir   Kind = "dir"
	S3    Kind = "s3"
	Kafka Kind = "kafka"
)

// Location is a parsed store location: which store, and the settings to
// open it with. It holds no credentials, so printing it is safe.
type Location struct {
	Kind Kind
	// Path is the directory of a Dir store.
	Path string
	// S3 configures an S3 store; credentials come from the standard chain
	// (see s3store.Config.AccessKey), Create and OnRetry from Options.
	S3 s3store.Config
	// Kafka configures a Kafka store.
	Kafka kafkastore.Config
}

// String names the location for messages, without secrets (it has none).
func (l Location) String() string {
	switch l.Kind {
	case S3:
		return l.S3.String()
	case Kafka:
		return l.Kafka.String()
	}
	return "dir:" + l.Path
}

// LocalDir returns the directory of a Dir store; ok is false for a store
// that is not on the local file system, which has no room for local state
// such as tailerd's checkpoint.
func (l Location) LocalDir() (dir string, ok bool) {
	return l.Path, l.Kind == Dir
}
