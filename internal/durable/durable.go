// Package durable writes files so that a crash leaves the old content or
// the new, never a part, and the change survives once a call returns. The
// directory store and the spool keep their files this way.
package durable

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix begins the name of every temporary file CreateTemp makes, so
// that a directory's owner can list around them and remove those a crash
// left.
const TempPrefix = ".tmp-"

// WriteFile makes dir/name hold exactly data, durably: the bytes go to a
// temporary file in dir, which is fsynced, closed and renamed over name, and
// then dir is fsynced. Readers see the old file (or none) until the rename
// and the whole new file after it. On error the temporary file is removed.
func WriteFile(dir, name string, data []byte) (err error) {
	f, err := CreateTemp(dir, name)
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
	return SyncDir(dir)
}

// CreateTemp creates a new, empty temporary file in dir for the file name,
// named TempPrefix+name+"-"+random. Unlike os.CreateTemp it honours the
// umask (mode 0666 before it), so stored files are as readable as any other
// file the user writes.
func CreateTemp(dir, name string) (*os.File, error) {
	for range 10 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, TempPrefix+name+"-"+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("create temporary file in %s: too many collisions", dir)
}

// SyncDir fsyncs a directory, making the entries created, renamed or
// removed in it durable.
func SyncDir(dir string) error {
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
