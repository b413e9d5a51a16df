// Package dirstore is a store.Store kept in a local (or locally mounted)
// directory. The layout is described in docs/store-layout.md:
//
//	<root>/tidelog-store.json                                  marker, see Open
//	<root>/streams/<stream>/segments/<segment name>            one file per segment
//	<root>/streams/<stream>/gaps/<after T.I>-<next T.I>.gap.json one file per gap
//
// Durability: every file is written to a temporary name beginning with
// ".tmp-" in its final directory, fsynced, closed, renamed into place, and the
// directory is fsynced; only then does a Put return nil. A rename within one
// directory is atomic on POSIX file systems, so a reader sees either no file or
// the whole file, never a prefix. Temporary files are never listed, and Open
// removes the ones a crash left behind (see staleTempAge).
//
// Several processes may share one store (for example one tailer per replica
// set, and restores reading); nothing in the directory is locked.
package dirstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tidelog/tidelog/store"
)

// Store is a store.Store in a directory. It is safe for concurrent use, and
// several Stores (in one process or many) may share one directory.
type Store struct {
	root string // absolute path of the store's root

	mu      sync.Mutex
	ensured map[string]bool // directories known to exist durably; guarded by mu
}

var _ store.Store = (*Store)(nil)

// Open opens the tidelog store at path.
//
// A missing or empty directory is a new store: with create it is created and
// the marker file is written durably; without create Open returns an error
// wrapping store.ErrNotExist. A directory that holds anything but lacks the
// marker, or whose marker is malformed or of a newer version, is refused with
// an error wrapping store.ErrNotStore, so tidelog never writes into, or
// restores from, something that is not its own.
//
// Open removes stale temporary files left by a crash, best effort: a failure
// to remove one is not an error, since such files are never listed.
func Open(path string, create bool) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("dirstore %s: %w", path, err)
	}
	s := &Store{root: abs, ensured: make(map[string]bool)}

	empty, err := isMissingOrEmpty(abs)
	if err != nil {
		return nil, err
	}
	if empty {
		if !create {
			return nil, fmt.Errorf("dirstore %s: no tidelog store there (missing or empty directory; create it first): %w", abs, store.ErrNotExist)
		}
		if err := s.ensureDir(abs); err != nil {
			return nil, fmt.Errorf("dirstore %s: create store: %w", abs, err)
		}
		if err := writeMarker(abs); err != nil {
			return nil, fmt.Errorf("dirstore %s: create store: %w", abs, err)
		}
		return s, nil
	}
	if err := checkMarker(abs); err != nil {
		return nil, err
	}
	s.removeStaleTemps()
	return s, nil
}

// isMissingOrEmpty reports whether path does not exist or is an empty
// directory. Temporary files do not count: a crash while creating the store
// leaves only the marker's temporary file, and the next Open must still see a
// new store. A path that exists but is not a directory is not a store.
func isMissingOrEmpty(path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("dirstore %s: %w", path, err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("dirstore %s: not a directory; %s: %w", path, notStoreHint, store.ErrNotStore)
	}
	d, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("dirstore %s: %w", path, err)
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(64)
		for _, n := range names {
			if !strings.HasPrefix(n, tempPrefix) {
				return false, nil
			}
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("dirstore %s: %w", path, err)
		}
	}
}

// String names the store for messages, e.g. "dir:/var/lib/tidelog/store".
func (s *Store) String() string { return "dir:" + s.root }

// Root returns the absolute path of the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) segmentsDir(stream string) string {
	return filepath.Join(s.root, streamsDir, stream, segmentsDir)
}

func (s *Store) gapsDir(stream string) string {
	return filepath.Join(s.root, streamsDir, stream, gapsDir)
}

// checkCtx returns ctx's error, wrapped with the store and operation, if ctx
// is done; every method calls it before touching the file system.
func (s *Store) checkCtx(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dirstore %s: %s: %w", s.root, op, err)
	}
	return nil
}
