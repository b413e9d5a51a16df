package s3store

import (
	"context"
	"strings"

	"github.com/tidelog/tidelog/store"
)

// Streams lists, sorted, the streams that have at least one segment, gap or
// snapshot file. An object store has no empty directories, so a stream whose
// last object was deleted is gone; objects of other shapes under a stream
// (not a segment, gap or snapshot file) do not make it listed.
func (s *Store) Streams(ctx context.Context) ([]string, error) {
	const op = "list streams"
	if err := s.checkCtx(ctx, op); err != nil {
		return nil, err
	}
	candidates, err := s.subdirs(ctx, op, s.streamsKey(), func(n string) bool { return store.ValidStream(n) == nil })
	if err != nil {
		return nil, err
	}
	var streams []string
	for _, stream := range candidates {
		found, err := s.list(ctx, op, s.streamKey(stream), true, streamObject, 1)
		if err != nil {
			return nil, s.fail(op, err)
		}
		if len(found) > 0 {
			streams = append(streams, stream)
		}
	}
	return streams, nil
}

// streamObject reports whether name, relative to a stream's key, is one of
// its segments, gaps or snapshot files.
func streamObject(name string) bool {
	if n, ok := strings.CutPrefix(name, segmentsDir); ok {
		return listedName(n, segmentSuffix)
	}
	if n, ok := strings.CutPrefix(name, gapsDir); ok {
		return listedName(n, gapSuffix)
	}
	if n, ok := strings.CutPrefix(name, snapshotsDir); ok {
		id, file, ok := strings.Cut(n, "/")
		return ok && store.ValidSnapshotPart("id", id) == nil && store.ValidSnapshotPart("file name", file) == nil
	}
	return false
}
