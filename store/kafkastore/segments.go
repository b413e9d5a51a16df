package kafkastore

import (
	"context"
	"io"

	"github.com/tidelog/tidelog/store"
)

// PutSegment stores data as segment name of stream. It returns nil only
// after Kafka acknowledged every frame (acks=all); a reader never lists the
// segment before its final frame is in the log. Putting a name again adds
// another copy, which is listed once; the copy completed last is read.
func (s *Store) PutSegment(ctx context.Context, stream, name string, data []byte) error {
	op := "put segment " + stream + "/" + name
	if err := s.check(ctx, op, s.validStream(stream), store.ValidSegment(name)); err != nil {
		return err
	}
	if err := s.ensureTopic(ctx, stream); err != nil {
		return s.errorf(op, err)
	}
	if err := s.putBytes(ctx, stream, kindSegment, name, data); err != nil {
		return s.errorf(op, err)
	}
	return nil
}

// OpenSegment streams a segment's bytes back from its frames. The reads
// use ctx, so keep it alive until the reader is closed. The reader fails,
// rather than ending cleanly, if the bytes do not match the copy's size and
// CRC-32C. A missing segment or stream yields an error wrapping
// store.ErrNotExist.
func (s *Store) OpenSegment(ctx context.Context, stream, name string) (io.ReadCloser, error) {
	op := "open segment " + stream + "/" + name
	if err := s.check(ctx, op, s.validStream(stream), store.ValidSegment(name)); err != nil {
		return nil, err
	}
	var obj *object
	if err := s.refreshed(ctx, stream, func(ix *topicIndex) { obj = ix.segments[name] }); err != nil {
		return nil, s.errorf(op, err)
	}
	if obj == nil {
		return nil, s.errorf(op, store.ErrNotExist)
	}
	return s.openObject(ctx, s.topic(stream), obj, op)
}

// Segments lists stream's complete, undeleted segments in ascending order;
// a stream without a topic has none.
func (s *Store) Segments(ctx context.Context, stream string) ([]string, error) {
	op := "list segments of " + stream
	if err := s.check(ctx, op, s.validStream(stream)); err != nil {
		return nil, err
	}
	var names []string
	if err := s.refreshed(ctx, stream, func(ix *topicIndex) { names = ix.segmentNames() }); err != nil {
		return nil, s.errorf(op, err)
	}
	return names, nil
}

// DeleteSegment hides a segment with a tombstone and then frees the dead
// prefix of the topic, if any (see deleteAndFree). Deleting a missing
// segment writes nothing and is not an error.
func (s *Store) DeleteSegment(ctx context.Context, stream, name string) error {
	op := "delete segment " + stream + "/" + name
	if err := s.check(ctx, op, s.validStream(stream), store.ValidSegment(name)); err != nil {
		return err
	}
	listed := func(ix *topicIndex) bool { return ix.segments[name] != nil }
	if err := s.deleteAndFree(ctx, stream, frame{kind: kindDelete, name: name, target: kindSegment}, listed); err != nil {
		return s.errorf(op, err)
	}
	return nil
}
