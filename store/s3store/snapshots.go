package s3store

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tidelog/tidelog/store"
)

// checkSnapshot checks ctx, the stream, the snapshot ID and, if given, the
// file name for op.
func (s *Store) checkSnapshot(ctx context.Context, op, stream, id string, name *string) error {
	if err := s.checkStream(ctx, op, stream); err != nil {
		return err
	}
	if err := store.ValidSnapshotPart("id", id); err != nil {
		return s.fail(op, err)
	}
	if name != nil {
		if err := store.ValidSnapshotPart("file name", *name); err != nil {
			return s.fail(op, err)
		}
	}
	return nil
}

// PutSnapshotFile streams r into the object of file name of snapshot id: one
// PUT if it fits a part, otherwise a multipart upload holding one part in
// memory at a time. Readers see no object or the whole of it.
func (s *Store) PutSnapshotFile(ctx context.Context, stream, id, name string, r io.Reader) (int64, error) {
	op := "put snapshot file " + stream + "/" + id + "/" + name
	if err := s.checkSnapshot(ctx, op, stream, id, &name); err != nil {
		return 0, err
	}
	n, err := s.putReader(ctx, op, s.snapshotKey(stream, id)+name, r)
	if err != nil {
		return 0, s.fail(op, err)
	}
	return n, nil
}

// OpenSnapshotFile opens a snapshot file; the caller closes it. A missing
// file or snapshot yields an error wrapping store.ErrNotExist.
func (s *Store) OpenSnapshotFile(ctx context.Context, stream, id, name string) (io.ReadCloser, error) {
	op := "open snapshot file " + stream + "/" + id + "/" + name
	if err := s.checkSnapshot(ctx, op, stream, id, &name); err != nil {
		return nil, err
	}
	rc, err := s.open(ctx, op, s.snapshotKey(stream, id)+name)
	if isNotExist(err) {
		return nil, s.fail(op, store.ErrNotExist)
	}
	if err != nil {
		return nil, s.fail(op, err)
	}
	return rc, nil
}

// SnapshotFiles lists a snapshot's files, sorted (empty if none).
func (s *Store) SnapshotFiles(ctx context.Context, stream, id string) ([]string, error) {
	op := "list snapshot files " + stream + "/" + id
	if err := s.checkSnapshot(ctx, op, stream, id, nil); err != nil {
		return nil, err
	}
	names, err := s.list(ctx, op, s.snapshotKey(stream, id), false, func(n string) bool { return store.ValidSnapshotPart("file name", n) == nil }, 0)
	if err != nil {
		return nil, s.fail(op, err)
	}
	slices.Sort(names)
	return names, nil
}

// Snapshots lists stream's snapshot IDs, sorted. An object store has no
// empty directories: a snapshot is listed while it has a file.
func (s *Store) Snapshots(ctx context.Context, stream string) ([]string, error) {
	op := "list snapshots of " + stream
	if err := s.checkStream(ctx, op, stream); err != nil {
		return nil, err
	}
	return s.subdirs(ctx, op, s.snapshotsKey(stream), func(id string) bool {
		return store.ValidSnapshotPart("id", id) == nil
	})
}

// DeleteSnapshot removes a snapshot's files. A missing snapshot is not an
// error. Deleting is not atomic: if it fails part way, the snapshot is left
// with some files, which its manifest (if still there) no longer matches,
// and deleting again finishes the job.
func (s *Store) DeleteSnapshot(ctx context.Context, stream, id string) error {
	op := "delete snapshot " + stream + "/" + id
	if err := s.checkSnapshot(ctx, op, stream, id, nil); err != nil {
		return err
	}
	dir := s.snapshotKey(stream, id)
	names, err := s.list(ctx, op, dir, true, nil, 0)
	if err != nil {
		return s.fail(op, err)
	}
	// The manifest first: cut short after it, the snapshot is incomplete;
	// before it, a manifest would list files already gone.
	if i := slices.Index(names, store.SnapshotCommitFile); i > 0 {
		names[0], names[i] = names[i], names[0]
	}
	for _, name := range names {
		if err := s.remove(ctx, op, dir+name); err != nil {
			return s.fail(op, fmt.Errorf("delete %s: %w", name, err))
		}
	}
	return nil
}

// subdirs lists the "directories" directly under prefix whose names pass keep, sorted.
func (s *Store) subdirs(ctx context.Context, op, prefix string, keep func(string) bool) ([]string, error) {
	names, err := s.list(ctx, op, prefix, false, func(n string) bool {
		dir, ok := strings.CutSuffix(n, "/")
		return ok && keep(dir)
	}, 0)
	if err != nil {
		return nil, s.fail(op, err)
	}
	dirs := make([]string, len(names))
	for i, n := range names {
		dirs[i] = strings.TrimSuffix(n, "/")
	}
	slices.Sort(dirs)
	return dirs, nil
}
