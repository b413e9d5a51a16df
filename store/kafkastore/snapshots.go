package kafkastore

import (
	"context"
	"io"
	"maps"
	"slices"

	"github.com/tidelog/tidelog/store"
)

// Snapshot files live in their stream's topic beside the segments, as
// frames named "<id>/<file>": one topic keeps the stream's order total and
// lets one DeleteRecords free segments and snapshots that retention dropped
// together.

func (s *Store) checkSnapshot(ctx context.Context, op, stream, id string, file *string) error {
	errs := []error{s.validStream(stream), store.ValidSnapshotPart("id", id)}
	if file != nil {
		errs = append(errs, store.ValidSnapshotPart("file name", *file))
	}
	return s.check(ctx, op, errs...)
}

// PutSnapshotFile streams r into frames (see putStream): memory stays a few
// frames whatever the file's size, and the file is listed only once its
// final frame, carrying the size and CRC-32C, is acknowledged. Putting a
// name again replaces the file.
func (s *Store) PutSnapshotFile(ctx context.Context, stream, id, name string, r io.Reader) (int64, error) {
	op := "put snapshot file " + stream + "/" + id + "/" + name
	if err := s.checkSnapshot(ctx, op, stream, id, &name); err != nil {
		return 0, err
	}
	if err := s.ensureTopic(ctx, stream); err != nil {
		return 0, s.errorf(op, err)
	}
	n, err := s.putStream(ctx, stream, kindSnapshot, snapshotName(id, name), r)
	if err != nil {
		return 0, s.errorf(op, err)
	}
	return n, nil
}

// OpenSnapshotFile streams a snapshot file back; see OpenSegment.
func (s *Store) OpenSnapshotFile(ctx context.Context, stream, id, name string) (io.ReadCloser, error) {
	op := "open snapshot file " + stream + "/" + id + "/" + name
	if err := s.checkSnapshot(ctx, op, stream, id, &name); err != nil {
		return nil, err
	}
	var obj *object
	if err := s.refreshed(ctx, stream, func(ix *topicIndex) { obj = ix.snapshots[id][name] }); err != nil {
		return nil, s.errorf(op, err)
	}
	if obj == nil {
		return nil, s.errorf(op, store.ErrNotExist)
	}
	return s.openObject(ctx, s.topic(stream), obj, op)
}

// SnapshotFiles lists the complete files of snapshot id, sorted.
func (s *Store) SnapshotFiles(ctx context.Context, stream, id string) ([]string, error) {
	op := "list snapshot files " + stream + "/" + id
	if err := s.checkSnapshot(ctx, op, stream, id, nil); err != nil {
		return nil, err
	}
	var names []string
	if err := s.refreshed(ctx, stream, func(ix *topicIndex) { names = slices.Sorted(maps.Keys(ix.snapshots[id])) }); err != nil {
		return nil, s.errorf(op, err)
	}
	return names, nil
}

// Snapshots lists stream's snapshot IDs, sorted: those with a complete file
// and those with a file under way or interrupted.
func (s *Store) Snapshots(ctx context.Context, stream string) ([]string, error) {
	op := "list snapshots of " + stream
	if err := s.check(ctx, op, s.validStream(stream)); err != nil {
		return nil, err
	}
	var ids []string
	if err := s.refreshed(ctx, stream, func(ix *topicIndex) { ids = ix.snapshotIDs() }); err != nil {
		return nil, s.errorf(op, err)
	}
	return ids, nil
}

// DeleteSnapshot hides a snapshot and all its files with one tombstone,
// then frees the dead prefix of the topic, if any. A missing snapshot is
// not an error.
func (s *Store) DeleteSnapshot(ctx context.Context, stream, id string) error {
	op := "delete snapshot " + stream + "/" + id
	if err := s.checkSnapshot(ctx, op, stream, id, nil); err != nil {
		return err
	}
	listed := func(ix *topicIndex) bool { return slices.Contains(ix.snapshotIDs(), id) }
	if err := s.deleteAndFree(ctx, stream, frame{kind: kindDelete, name: id, target: kindSnapshot}, listed); err != nil {
		return s.errorf(op, err)
	}
	return nil
}
