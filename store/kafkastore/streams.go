package kafkastore

import (
	"context"
	"slices"
)

// Streams lists, sorted, the streams whose topic (<prefix>.<stream>) holds a
// listed segment, gap or snapshot. A topic whose records are all deleted is
// not a stream. A topic under the prefix that is not the store's (records
// that are not tidelog frames, several partitions) is an error wrapping
// store.ErrNotStore, never skipped.
func (s *Store) Streams(ctx context.Context) ([]string, error) {
	const op = "list streams"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	topics, err := s.adm.ListTopics(ctx)
	if err != nil {
		return nil, s.errorf(op, err)
	}
	var streams []string
	for _, topic := range topics.Names() {
		stream, ok := s.streamOf(topic)
		if !ok {
			continue
		}
		var empty bool
		if err := s.refreshed(ctx, stream, func(ix *topicIndex) { empty = ix.empty() }); err != nil {
			return nil, s.errorf(op, err)
		}
		if !empty {
			streams = append(streams, stream)
		}
	}
	slices.Sort(streams)
	return streams, nil
}

// HasTopics reports whether any topic under the store's prefix exists, from
// the cluster's metadata alone. A reader opening a location that holds
// nothing is more likely mistyped than empty, and must not read as an
// empty store that verifies "OK".
func (s *Store) HasTopics(ctx context.Context) (bool, error) {
	topics, err := s.adm.ListTopics(ctx)
	if err != nil {
		return false, s.errorf("list topics", err)
	}
	for _, topic := range topics.Names() {
		if _, ok := s.streamOf(topic); ok {
			return true, nil
		}
	}
	return false, nil
}
