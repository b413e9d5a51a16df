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

// snapshotsDir holds one directory per snapshot ID.
func (s *Store) snapshotsDir(stream string) string {
	return filepath.Join(s.root, streamsDir, stream, snapshotsDirName)
}

func (s *Store) checkSnapshot(ctx context.Context, op, stream, id string, name *string) error {
	if err := s.checkStream(ctx, op, stream); err != nil {
		return err
	}
	if err := store.ValidSnapshotPart("id", id); err != nil {
		return fmt.Errorf("dirstore %s: %s %s: %w", s.root, op, stream, err)
	}
	if name != nil {
		if err := store.ValidSnapshotPart("file name", *name); err != nil {
			return fmt.Errorf("dirstore %s: %s %s/%s: %w", s.root, op, stream, id, err)
		}
	}
	return nil
}

// PutSnapshotFile streams r into a temporary file beside its final name,
// fsyncs it, renames it into place and fsyncs the directory: readers see no
// file or the whole of it.
func (s *Store) PutSnapshotFile(ctx context.Context, stream, id, name string, r io.Reader) (n int64, err error) {
	if err := s.checkSnapshot(ctx, "put snapshot file", stream, id, &name); err != nil {
		return 0, err
	}
	wrap := func(err error) error {
		return fmt.Errorf("dirstore %s: put snapshot file %s/%s/%s: %w", s.root, stream, id, name, err)
	}
	dir := filepath.Join(s.snapshotsDir(stream), id)
	if err := s.ensureDir(dir); err != nil {
		return 0, wrap(err)
	}
	f, err := durable.CreateTemp(dir, name)
	if err != nil {
		return 0, wrap(err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if n, err = io.Copy(f, ctxReader{ctx, r}); err != nil {
		return 0, wrap(err)
	}
	if err = f.Sync(); err != nil {
		return 0, wrap(err)
	}
	if err = f.Close(); err != nil {
		return 0, wrap(err)
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return 0, wrap(err)
	}
	if err = durable.SyncDir(dir); err != nil {
		return 0, wrap(err)
	}
	return n, nil
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// OpenSnapshotFile opens a snapshot file; the result is an *os.File.
func (s *Store) OpenSnapshotFile(ctx context.Context, stream, id, name string) (io.ReadCloser, error) {
	if err := s.checkSnapshot(ctx, "open snapshot file", stream, id, &name); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.snapshotsDir(stream), id, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dirstore %s: open snapshot file %s/%s/%s: %w", s.root, stream, id, name, store.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("dirstore %s: open snapshot file %s/%s/%s: %w", s.root, stream, id, name, err)
	}
	return f, nil
}

// SnapshotFiles lists a snapshot's files, sorted; temporary files never.
func (s *Store) SnapshotFiles(ctx context.Context, stream, id string) ([]string, error) {
	if err := s.checkSnapshot(ctx, "list snapshot files", stream, id, nil); err != nil {
		return nil, err
	}
	names, err := listDir(filepath.Join(s.snapshotsDir(stream), id), "")
	if err != nil {
		return nil, fmt.Errorf("dirstore %s: list snapshot files %s/%s: %w", s.root, stream, id, err)
	}
	slices.Sort(names)
	return names, nil
}

// Snapshots lists the snapshot directories of stream, sorted.
func (s *Store) Snapshots(ctx context.Context, stream string) ([]string, error) {
	if err := s.checkStream(ctx, "list snapshots", stream); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(s.snapshotsDir(stream))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dirstore %s: list snapshots of %s: %w", s.root, stream, err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && store.ValidSnapshotPart("id", e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// DeleteSnapshot removes a snapshot directory and fsyncs its parent.
func (s *Store) DeleteSnapshot(ctx context.Context, stream, id string) error {
	if err := s.checkSnapshot(ctx, "delete snapshot", stream, id, nil); err != nil {
		return err
	}
	// Renamed out of sight first, in one step: RemoveAll deletes in any
	// order, and cut short it could leave the manifest without its files.
	parent := s.snapshotsDir(stream)
	doomed := filepath.Join(parent, tempPrefix+"deleted-"+id)
	err := os.Rename(filepath.Join(parent, id), doomed)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = durable.SyncDir(parent)
	}
	if err == nil {
		err = os.RemoveAll(doomed)
	}
	if err != nil {
		return fmt.Errorf("dirstore %s: delete snapshot %s/%s: %w", s.root, stream, id, err)
	}
	return nil
}
