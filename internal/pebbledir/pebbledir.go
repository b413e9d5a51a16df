// Package pebbledir opens a Pebble database that owns a directory, as the
// tailer's and the follower's checkpoints do: the directory must be
// missing, empty or already a Pebble database (Pebble itself would create
// a database among foreign files), it is locked for one process, and
// Pebble's messages go to a zerolog logger instead of stderr.
package pebbledir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/rs/zerolog"
)

// ErrUnusable is wrapped by errors about a directory that holds something
// other than a readable Pebble database (damaged files, foreign files, not
// a directory). Other errors (a lock held by another process, permissions)
// may leave the database fine, so moving it aside would be wrong.
var ErrUnusable = errors.New("not a usable Pebble database")

// Open opens (creating if needed) the database in dir, an absolute path,
// and locks it; who names the program that would hold the lock, for the
// message when another one does. Close the lock after the database.
func Open(dir, who string, log zerolog.Logger) (*pebble.DB, *pebble.Lock, error) {
	if err := check(dir); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, nil, fmt.Errorf("create: %w", err)
	}
	lock, err := pebble.LockDirectory(dir, vfs.Default)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot lock it (is another %s using it?): %w", who, err)
	}
	pdb, err := open(dir, lock, log)
	if err != nil {
		_ = lock.Close()
		return nil, nil, err
	}
	return pdb, lock, nil
}

// check refuses a path that exists and is neither an empty directory nor
// a Pebble database.
func check(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: not a directory", ErrUnusable)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	desc, err := pebble.Peek(dir, vfs.Default)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnusable, err)
	}
	if !desc.Exists {
		return fmt.Errorf("%w: the directory holds files but no Pebble database", ErrUnusable)
	}
	return nil
}

// open opens the database; a panic in Pebble while it reads damaged files
// (including a fatal log, see Logger) is returned as an error.
func open(dir string, lock *pebble.Lock, log zerolog.Logger) (pdb *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			pdb, err = nil, fmt.Errorf("%w: pebble panicked while opening: %v", ErrUnusable, r)
		}
	}()
	// A damaged table is reported by the read that finds it, as an error
	// (pebble.IsCorruptionError), and logged: Pebble's default would be a
	// fatal error, a panic in a read long after Open.
	events := &pebble.EventListener{DataCorruption: func(info pebble.DataCorruptionInfo) {
		log.Error().Str("component", "pebble").Str("file", info.Path).Msg("damaged file: " + info.String())
	}}
	pdb, err = pebble.Open(dir, &pebble.Options{Logger: Logger{Log: log}, Lock: lock, EventListener: events})
	if err != nil && !errors.Is(err, fs.ErrPermission) {
		err = fmt.Errorf("%w: %w", ErrUnusable, err)
	}
	return pdb, err
}
