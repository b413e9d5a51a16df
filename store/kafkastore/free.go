package kafkastore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// deleteAndFree hides what tomb deletes, if listed says it is there, and
// then frees the topic's dead prefix (see freePrefix). Kafka cannot delete
// one record: the tombstone is what deletes, durably, before anything is
// freed. It holds the index's lock throughout, so deletes of one stream in
// one process run one at a time.
func (s *Store) deleteAndFree(ctx context.Context, stream string, tomb frame, listed func(*topicIndex) bool) error {
	ix := s.index(stream)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := s.refresh(ctx, ix); err != nil {
		return err
	}
	if listed(ix) {
		if _, err := s.produceAll(ctx, []*kgo.Record{tomb.record(ix.topic, nil)}); err != nil {
			return err
		}
		if err := s.refresh(ctx, ix); err != nil {
			return err
		}
	}
	if err := s.freePrefix(ctx, stream, ix); err != nil {
		return fmt.Errorf("deleted, but freeing the topic's dead prefix failed (the next delete tries again): %w", err)
	}
	return nil
}

// liveStart is the lowest offset any record still needed lives at: the
// first frame of every listed segment and snapshot file, and of every copy
// under way (one this process is writing, or one that got a frame within
// s.staleAge). Everything before it is dead (deleted or superseded
// copies, torn copies, tombstones whose targets are older still), except
// gaps, which freePrefix moves.
func (s *Store) liveStart(ix *topicIndex) int64 {
	cut := ix.next
	for _, o := range ix.segments {
		cut = min(cut, o.offsets[0])
	}
	for _, files := range ix.snapshots {
		for _, o := range files {
			cut = min(cut, o.offsets[0])
		}
	}
	now := time.Now()
	for attempt, p := range ix.partials {
		if s.isInflight(attempt) || now.Sub(p.last) < s.staleAge {
			cut = min(cut, p.obj.offsets[0])
		}
	}
	return cut
}

// freePrefix gives the dead prefix of the topic back with DeleteRecords.
// Gaps are never deleted but would pin the prefix forever, so those before
// the cut are first written again (acknowledged) at the end of the log;
// listing reads the latest copy of a gap, so the move is invisible and a
// crash midway leaves only a harmless duplicate. ix.mu is held.
func (s *Store) freePrefix(ctx context.Context, stream string, ix *topicIndex) error {
	cut := s.liveStart(ix)
	if cut <= ix.start {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(ix.gaps)) {
		if o := ix.gaps[name]; o.offsets[0] < cut {
			if err := s.putBytes(ctx, stream, kindGap, name, o.value); err != nil {
				return fmt.Errorf("move gap %s: %w", name, err)
			}
		}
	}
	offs := make(kadm.Offsets)
	offs.Add(kadm.Offset{Topic: ix.topic, Partition: 0, At: cut, LeaderEpoch: -1})
	resps, err := s.adm.DeleteRecords(ctx, offs)
	if err != nil {
		return fmt.Errorf("delete records of %s before offset %d: %w", ix.topic, cut, err)
	}
	r, ok := resps.Lookup(ix.topic, 0)
	if !ok {
		return fmt.Errorf("delete records of %s before offset %d: no answer for partition 0", ix.topic, cut)
	}
	if r.Err != nil {
		return fmt.Errorf("delete records of %s before offset %d: %w", ix.topic, cut, r.Err)
	}
	return s.refresh(ctx, ix)
}
