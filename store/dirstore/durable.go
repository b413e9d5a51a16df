package dirstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// staleTempAge is how long a temporary file must have gone unmodified before
// Open removes it as left by a crash. A file that is being written is
// modified continually and renamed right after its fsync, so this is far
// longer than any write in progress; without the delay, a process opening a
// shared store would delete another process's in-flight file and fail its put.
const staleTempAge = 10 * time.Minute

// writeFileAtomic makes dir/name hold exactly data, durably: the bytes go to a
// temporary file in dir, which is fsynced, closed and renamed over name, and
// then dir is fsynced. Readers see the old file (or none) until the rename and
// the whole new file after it. On error the temporary file is removed.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := createTemp(dir, name)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close() // may already be closed; the write error is what matters
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// createTemp creates a new, empty temporary file in dir for the file name.
// Unlike os.CreateTemp it honours the umask (mode 0666 before it), so stored
// files are as readable as any other file the user writes.
func createTemp(dir, name string) (*os.File, error) {
	for range 10 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, tempPrefix+name+"-"+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("create temporary file in %s: too many collisions", dir)
}

// syncDir fsyncs a directory, making the entries created, renamed or removed
// in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return d.Close()
}

// ensureDir creates dir and any missing parents, fsyncing each one's parent
// so that the new entries survive a crash. Inside the store the parent is
// fsynced even when the directory already existed, because an earlier
// process may have crashed between mkdir and fsync; the result is cached, so
// this costs a few fsyncs once per directory per process.
func (s *Store) ensureDir(dir string) error {
	s.mu.Lock()
	done := s.ensured[dir]
	s.mu.Unlock()
	if done {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if s.inside(parent) {
			if err := s.ensureDir(parent); err != nil {
				return err
			}
		} else if _, err := os.Stat(parent); errors.Is(err, fs.ErrNotExist) {
			if err := s.ensureDir(parent); err != nil {
				return err
			}
		}
	}
	if err := os.Mkdir(dir, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	s.mu.Lock()
	s.ensured[dir] = true
	s.mu.Unlock()
	return nil
}

// inside reports whether path is the store's root or below it.
func (s *Store) inside(path string) bool {
	return path == s.root || strings.HasPrefix(path, s.root+string(filepath.Separator))
}

// removeStaleTemps removes temporary files (and snapshot directories being
// deleted) older than staleTempAge from the directories the store writes
// into. It is best effort: errors are ignored,
// because temporary files are never listed and a later Open tries again.
func (s *Store) removeStaleTemps() {
	dirs := []string{s.root}
	streams, _ := os.ReadDir(filepath.Join(s.root, streamsDir))
	for _, e := range streams {
		if e.IsDir() {
			dirs = append(dirs, s.segmentsDir(e.Name()), s.gapsDir(e.Name()), s.snapshotsDir(e.Name()))
		}
	}
	cutoff := time.Now().Add(-staleTempAge)
	for _, dir := range dirs {
		entries, _ := os.ReadDir(dir)
		removed := false
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), tempPrefix) {
				continue
			}
			fi, err := e.Info()
			if err != nil || fi.ModTime().After(cutoff) {
				continue
			}
			// A directory is a snapshot whose delete a crash cut short.
			if os.RemoveAll(filepath.Join(dir, e.Name())) == nil {
				removed = true
			}
		}
		if removed {
			_ = syncDir(dir)
		}
	}
}
