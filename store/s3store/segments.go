package s3store

import (
	"context"
	"io"
	"slices"

	"github.com/tidelog/tidelog/store"
)

// PutSegment stores data as segment name of stream. It returns nil once the
// server has acknowledged the whole object; a reader never sees part of it.
// Putting an existing name again replaces the object atomically, so a retry
// with the same bytes is harmless.
func (s *Store) PutSegment(ctx context.Context, stream, name string, data []byte) error {
	op := "put segment " + stream + "/" + name
	if err := s.checkSegment(ctx, op, stream, name); err != nil {
		return err
	}
	if err := s.putBytes(ctx, op, s.segmentsKey(stream)+name, data); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// OpenSegment opens a segment for reading; the caller closes it. Reading
// goes on under ctx. A missing segment (or stream) yields an error wrapping
// store.ErrNotExist.
func (s *Store) OpenSegment(ctx context.Context, stream, name string) (io.ReadCloser, error) {
	op := "open segment " + stream + "/" + name
	if err := s.checkSegment(ctx, op, stream, name); err != nil {
		return nil, err
	}
	rc, err := s.open(ctx, op, s.segmentsKey(stream)+name)
	if isNotExist(err) {
		return nil, s.fail(op, store.ErrNotExist)
	}
	if err != nil {
		return nil, s.fail(op, err)
	}
	return rc, nil
}

// Segments lists stream's segment names in ascending order. A stream with
// nothing in the store has no segments: the result is empty, not an error.
// Segment names are fixed-width (segment.Name), so the byte order S3 lists
// in is the order of their ranges; the list is sorted here all the same, so
// as not to depend on a server keeping that promise.
func (s *Store) Segments(ctx context.Context, stream string) ([]string, error) {
	op := "list segments of " + stream
	if err := s.checkStream(ctx, op, stream); err != nil {
		return nil, err
	}
	names, err := s.list(ctx, op, s.segmentsKey(stream), false, func(n string) bool { return listedName(n, segmentSuffix) }, 0)
	if err != nil {
		return nil, s.fail(op, err)
	}
	slices.Sort(names)
	return names, nil
}

// DeleteSegment removes a segment. Deleting a missing one is not an error.
func (s *Store) DeleteSegment(ctx context.Context, stream, name string) error {
	op := "delete segment " + stream + "/" + name
	if err := s.checkSegment(ctx, op, stream, name); err != nil {
		return err
	}
	if err := s.remove(ctx, op, s.segmentsKey(stream)+name); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// checkStream checks ctx and the stream name for op.
func (s *Store) checkStream(ctx context.Context, op, stream string) error {
	if err := s.checkCtx(ctx, op); err != nil {
		return err
	}
	if err := store.ValidStream(stream); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// checkSegment checks ctx, the stream name and the segment name for op.
func (s *Store) checkSegment(ctx context.Context, op, stream, name string) error {
	if err := s.checkStream(ctx, op, stream); err != nil {
		return err
	}
	if err := store.ValidSegment(name); err != nil {
		return s.fail(op, err)
	}
	return nil
}
