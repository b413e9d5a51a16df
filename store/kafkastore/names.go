package kafkastore

import (
	"fmt"
	"strings"

	"github.com/tidelog/tidelog/store"
)

// Layout constants, see docs/store-layout.md.
const (
	// topicSep joins the prefix and the stream into a topic name.
	topicSep = "."
	// maxTopicLen is Kafka's limit on topic names.
	maxTopicLen = 249
)

// validTopicPrefix checks the configured prefix. It holds no '.': a topic
// is <prefix>.<stream>, and stream names may hold dots, so with dots in
// both, prefix "a" stream "b.c" and prefix "a.b" stream "c" would share
// one topic and mix two replica sets' segments.
func validTopicPrefix(p string) error {
	if p == "" || !store.PlainName(p) || strings.Contains(p, ".") || len(p) > maxTopicLen/2 {
		return fmt.Errorf("invalid topic prefix %q: 1 to %d of letters, digits, '_' and '-' (no '.': it separates the prefix from the stream)", p, maxTopicLen/2)
	}
	return nil
}

// validStream checks a stream name: the same rule as the directory store, so
// a store can move between them, and short enough for a topic name.
func (s *Store) validStream(stream string) error {
	if err := store.ValidStream(stream); err != nil {
		return err
	}
	switch {
	case len(s.topic(stream)) > maxTopicLen:
		return fmt.Errorf("invalid stream name %q: topic name longer than %d", stream, maxTopicLen)
	}
	return nil
}

// topic is the topic of stream.
func (s *Store) topic(stream string) string { return s.cfg.TopicPrefix + topicSep + stream }

// streamOf returns the stream of a topic of this store, or false for any
// other topic.
func (s *Store) streamOf(topic string) (string, bool) {
	stream, ok := strings.CutPrefix(topic, s.cfg.TopicPrefix+topicSep)
	if !ok || s.validStream(stream) != nil {
		return "", false
	}
	return stream, true
}

// snapshotName is the frame name of a snapshot file: "<id>/<file>".
func snapshotName(id, file string) string { return id + "/" + file }
