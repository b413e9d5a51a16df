package kafkastore

import (
	"fmt"
	"strings"
)

// Layout constants, see docs/store-layout.md.
const (
	segmentSuffix = ".tseg"
	// topicSep joins the prefix and the stream into a topic name.
	topicSep = "."
	// maxTopicLen is Kafka's limit on topic names.
	maxTopicLen = 249
)

// nameByte reports whether c may appear in a stream, prefix or snapshot
// name: the characters Kafka allows in topic names.
func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

func allNameBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return false
		}
	}
	return true
}

// validTopicPrefix checks the configured prefix.
func validTopicPrefix(p string) error {
	if !allNameBytes(p) || len(p) > maxTopicLen/2 {
		return fmt.Errorf("invalid topic prefix %q: 1 to %d of letters, digits, '.', '_' and '-'", p, maxTopicLen/2)
	}
	return nil
}

// validStream checks a stream name: the same rule as the directory store, so
// a store can move between them, and short enough for a topic name.
func (s *Store) validStream(stream string) error {
	switch {
	case stream == "":
		return fmt.Errorf("invalid stream name %q: empty", stream)
	case stream == "." || stream == "..":
		return fmt.Errorf("invalid stream name %q", stream)
	case !allNameBytes(stream):
		return fmt.Errorf("invalid stream name %q: only letters, digits, '.', '_' and '-' are allowed", stream)
	case len(s.topic(stream)) > maxTopicLen:
		return fmt.Errorf("invalid stream name %q: topic name longer than %d", stream, maxTopicLen)
	}
	return nil
}

// validSegment checks a segment name as the directory store does: it ends
// with ".tseg", does not begin with '.', and has no separator or NUL.
func validSegment(name string) error {
	switch {
	case !strings.HasSuffix(name, segmentSuffix) || len(name) == len(segmentSuffix):
		return fmt.Errorf("invalid segment name %q: must end with %s", name, segmentSuffix)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("invalid segment name %q: must not contain a path separator", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("invalid segment name %q: must not begin with '.'", name)
	}
	return nil
}

// validSnapshotPart checks a snapshot ID or file name: [A-Za-z0-9._-], not
// beginning with '.'. The '/' that joins them in a frame's name can
// therefore not appear in either.
func validSnapshotPart(what, v string) error {
	if v == "" || strings.HasPrefix(v, ".") || !allNameBytes(v) {
		return fmt.Errorf("invalid snapshot %s %q: letters, digits, '.', '_' and '-', not beginning with '.'", what, v)
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
