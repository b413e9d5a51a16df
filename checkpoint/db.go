// Package checkpoint is the tailer's durable memory, kept in a Pebble
// database: per stream, the catalog of committed segments and recorded gaps,
// and the chain head, the last committed segment, whose OpEnd is the last
// position made durable in the store.
//
// The store is the source of truth; the checkpoint is what the store holds,
// indexed, plus where capture stands. The tailer calls Commit only after the
// store's PutSegment returned nil, so the checkpoint never runs ahead of the
// store. It may lag behind it by one segment after a crash between the two;
// the segment is then put again under the same name, which is harmless. A
// lost or corrupt checkpoint can therefore always be moved aside and rebuilt
// from the store.
//
// Every write is one Pebble batch applied with Sync: when a method returns
// nil its effect survives a crash, and a crash never leaves half of it.
package checkpoint

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/internal/pebbledir"
)

// formatVersion is the layout of keys and values described in keys.go and
// codec.go. A checkpoint of another version is refused, not misread.
const formatVersion = 1

// DB is an open checkpoint. Its methods are safe for concurrent use; writes
// are serialized, so Commit's check of the chain and its write are atomic
// with respect to other calls on the same DB. Only one DB (one process) may
// have a directory open at a time.
type DB struct {
	dir string // absolute path, for messages

	mu     sync.RWMutex // writes hold it exclusively; Close too
	closed bool         // guarded by mu
	pdb    *pebble.DB
	lock   *pebble.Lock
}

// Options tunes OpenWith. The zero value is what Open uses.
type Options struct {
	// Logger receives Pebble's own messages (informational ones at debug
	// level). The zero value discards them.
	Logger zerolog.Logger
}

// Open opens the checkpoint in dir, creating it if dir is missing or empty.
// It is OpenWith with zero Options.
func Open(dir string) (*DB, error) { return OpenWith(dir, Options{}) }

// OpenWith opens the checkpoint in dir, creating it if dir is missing or
// empty.
//
// Errors: a directory that Pebble cannot open (damaged files, a directory
// holding something else, an unknown format version) yields an error
// wrapping ErrCorrupt that names the directory and says to move it aside.
// A directory locked by another process, or unreadable, yields a plain error:
// the checkpoint may be fine, and moving it aside would be wrong.
func OpenWith(dir string, o Options) (*DB, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	pdb, lock, err := pebbledir.Open(abs, "tailerd", o.Logger)
	if errors.Is(err, pebbledir.ErrUnusable) {
		return nil, corruptDir(abs, err)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", abs, err)
	}
	d := &DB{dir: abs, pdb: pdb, lock: lock}
	if err := d.checkFormat(); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// corruptDir is the error for a directory that is not a usable checkpoint.
func corruptDir(dir string, cause error) error {
	if pebble.IsCorruptionError(cause) {
		// The first line says which file and what; Pebble joins a
		// placeholder line for its own detail payload after it.
		msg, _, _ := strings.Cut(cause.Error(), "\n")
		cause = errors.New(msg)
	}
	return fmt.Errorf("checkpoint %s: %w: %w; %s", dir, ErrCorrupt, cause, corruptHint)
}

// checkFormat writes the format version into a new, empty database and
// refuses a database of another version, or one that holds keys but no
// version (not written by tidelog).
func (d *DB) checkFormat() error {
	key := []byte(formatKey)
	v, closer, err := d.pdb.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		empty, err := d.isEmpty()
		if err != nil {
			return corruptDir(d.dir, err)
		}
		if !empty {
			return corruptDir(d.dir, errors.New("the Pebble database has no tidelog format version"))
		}
		if err := d.pdb.Set(key, encodeFormat(formatVersion), pebble.Sync); err != nil {
			return fmt.Errorf("checkpoint %s: write format version: %w", d.dir, err)
		}
		return nil
	}
	if err != nil {
		return corruptDir(d.dir, err)
	}
	version, err := decodeFormat(key, v)
	_ = closer.Close()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w; %s", d.dir, err, corruptHint)
	}
	if version != formatVersion {
		return corruptDir(d.dir, fmt.Errorf("format version %d, but this tidelog reads only version %d (upgrade tidelog to keep using it)", version, formatVersion))
	}
	return nil
}

// isEmpty reports whether the database holds no key at all.
func (d *DB) isEmpty() (bool, error) {
	it, err := d.pdb.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	if err := it.Close(); err != nil {
		return false, err
	}
	return empty, nil
}

// Close closes the checkpoint and releases its directory. Closing twice is
// not an error; every other method of a closed DB returns ErrClosed.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.pdb.Close()
	if lerr := d.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: close: %w", d.dir, err)
	}
	return nil
}

// Dir returns the checkpoint's directory (absolute).
func (d *DB) Dir() string { return d.dir }

// errClosed is the error of an operation on a closed DB.
func (d *DB) errClosed(op string) error {
	return fmt.Errorf("checkpoint %s: %s: %w", d.dir, op, ErrClosed)
}
