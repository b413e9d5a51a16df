package kafkastore

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// refreshTries bounds how often a refresh starts over because DeleteRecords
// (by another process) moved the log start past the position it was reading.
const refreshTries = 3

// refresh brings ix up to the topic's current high watermark: it lists the
// partition's bounds first and reads only up to the end listed, so it
// always terminates, and it reads only what it has not read before. The
// caller holds ix.mu.
func (s *Store) refresh(ctx context.Context, ix *topicIndex) error {
	var err error
	for range refreshTries {
		if err = s.refreshOnce(ctx, ix); !errors.Is(err, kerr.OffsetOutOfRange) {
			return err
		}
	}
	return err
}

func (s *Store) refreshOnce(ctx context.Context, ix *topicIndex) error {
	o, err := s.listOffsets(ctx, ix.topic)
	if err != nil {
		return err
	}
	if !o.exists || o.end < ix.next {
		// Missing, or deleted and created again: nothing read holds.
		ix.reset()
		if !o.exists {
			return nil
		}
	}
	if o.start > ix.start {
		ix.dropBelow(o.start)
	}
	ix.next = max(ix.next, o.start)
	if ix.next >= o.end {
		return nil
	}
	src, err := s.openSource(ix.topic, ix.next)
	if err != nil {
		return err
	}
	defer src.close()
	for ix.next < o.end { // each record read moves next forward
		r, err := src.next(ctx)
		if err != nil {
			return err
		}
		if r.Offset < ix.next {
			continue
		}
		f, err := parseFrame(r)
		if err != nil {
			return fmt.Errorf("topic %s: %w", ix.topic, err)
		}
		ix.apply(r, f)
		ix.next = r.Offset + 1
	}
	return nil
}

// refreshed refreshes stream's index and calls fn with it locked, for a
// listing or a lookup.
func (s *Store) refreshed(ctx context.Context, stream string, fn func(ix *topicIndex)) error {
	ix := s.index(stream)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := s.refresh(ctx, ix); err != nil {
		return err
	}
	fn(ix)
	return nil
}
