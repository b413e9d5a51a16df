package dirstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tidelog/tidelog/internal/durable"
)

// staleTempAge is how long a temporary file must have gone unmodified before
// Open removes it as left by a crash. A file that is being written is
// modified continually and renamed right after its fsync, so this is far
// longer than any write in progress; without the delay, a process opening a
// shared store would delete another process's in-flight file and fail its put.
const staleTempAge = 10 * time.Minute

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
	if err := durable.SyncDir(parent); err != nil {
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
			_ = durable.SyncDir(dir)
		}
	}
}
