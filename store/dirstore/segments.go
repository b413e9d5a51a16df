package dirstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/tidelog/tidelog/internal/durable"
	"github.com/tidelog/tidelog/store"
)

// PutSegment stores data as segment name of stream. It returns nil only once
// the file and its directory entry are durable (see the package comment); a
// reader never sees a partial file. Putting an existing name again replaces
// the file atomically, so a retry with the same bytes is harmless.
func (s *Store) PutSegment(ctx context.Context, stream, name string, data []byte) error {
	if err := s.checkName(ctx, "put segment", stream, name); err != nil {
		return err
	}
	dir := s.segmentsDir(stream)
	if err := s.ensureDir(dir); err != nil {
		return fmt.Errorf("dirstore %s: put segment %s/%s: %w", s.root, stream, name, err)
	}
	if err := durable.WriteFile(dir, name, data); err != nil {
		return fmt.Errorf("dirstore %s: put segment %s/%s: %w", s.root, stream, name, err)
	}
	return nil
}

// OpenSegment opens a segment for reading. The returned value is an
// *os.File, so callers may use ReadAt, Seek and Stat on it; they must close
// it. A missing segment (or stream) yields an error wrapping
// store.ErrNotExist.
func (s *Store) OpenSegment(ctx context.Context, stream, name string) (io.ReadCloser, error) {
	if err := s.checkName(ctx, "open segment", stream, name); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.segmentsDir(stream), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dirstore %s: open segment %s/%s: %w", s.root, stream, name, store.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("dirstore %s: open segment %s/%s: %w", s.root, stream, name, err)
	}
	return f, nil
}

// Segments lists stream's segment names in ascending order. A stream that
// has nothing in the store has no segments: the result is empty, not an
// error. Temporary files are never listed.
func (s *Store) Segments(ctx context.Context, stream string) ([]string, error) {
	if err := s.checkStream(ctx, "list segments", stream); err != nil {
		return nil, err
	}
	names, err := listDir(s.segmentsDir(stream), segmentSuffix)
	if err != nil {
		return nil, fmt.Errorf("dirstore %s: list segments of %s: %w", s.root, stream, err)
	}
	slices.Sort(names)
	return names, nil
}

// DeleteSegment removes a segment durably (the directory is fsynced).
// Deleting a missing segment is not an error.
func (s *Store) DeleteSegment(ctx context.Context, stream, name string) error {
	if err := s.checkName(ctx, "delete segment", stream, name); err != nil {
		return err
	}
	dir := s.segmentsDir(stream)
	err := os.Remove(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = durable.SyncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("dirstore %s: delete segment %s/%s: %w", s.root, stream, name, err)
	}
	return nil
}

// listDir returns the names in dir that may be listed with suffix (see
// listedName), unsorted. A missing dir has no names.
func listDir(dir, suffix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && listedName(e.Name(), suffix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// checkStream checks ctx and the stream name for op.
func (s *Store) checkStream(ctx context.Context, op, stream string) error {
	if err := s.checkCtx(ctx, op); err != nil {
		return err
	}
	if err := store.ValidStream(stream); err != nil {
		return fmt.Errorf("dirstore %s: %s: %w", s.root, op, err)
	}
	return nil
}

// checkName checks ctx, the stream name and the segment name for op.
func (s *Store) checkName(ctx context.Context, op, stream, name string) error {
	if err := s.checkStream(ctx, op, stream); err != nil {
		return err
	}
	if err := store.ValidSegment(name); err != nil {
		return fmt.Errorf("dirstore %s: %s %s/%s: %w", s.root, op, stream, name, err)
	}
	return nil
}
