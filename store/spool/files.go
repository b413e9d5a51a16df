package spool

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tidelog/tidelog/store"
)

// Names in the spool directory. See the package comment.
const (
	markerName  = "tidelog-spool.json"
	lockName    = "lock"
	dataDir     = "data"
	queueDir    = "queue"
	destsDir    = "dests"
	tempPrefix  = ".tmp-"
	entrySuffix = ".entry"
	ckptSuffix  = ".ckpt"

	markerFormat = "tidelog-spool"
	ckptFormat   = "tidelog-spool-dest"
	// formatVersion is the version of the marker, queue entries and
	// checkpoints. A spool of a newer version is refused, never rewritten.
	formatVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crcHex(b []byte) string { return fmt.Sprintf("%08x", crc32.Checksum(b, castagnoli)) }

// encodeSummed is v as one line of JSON followed by a line "crc32c XXXXXXXX"
// of that line's bytes. The spool's small files are written atomically, so a
// mismatch means the disk (or a person) damaged them, not a crash.
func encodeSummed(v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(body, "\ncrc32c %s\n", crcHex(body)), nil
}

// decodeSummed checks and decodes what encodeSummed wrote.
func decodeSummed(data []byte, v any) error {
	body, sum, ok := bytes.Cut(bytes.TrimSuffix(data, []byte("\n")), []byte("\ncrc32c "))
	if !ok {
		return errors.New("no checksum line")
	}
	if got := crcHex(body); got != string(sum) {
		return fmt.Errorf("checksum mismatch (file says %s, content has %s): damaged", sum, got)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	return dec.Decode(v)
}

// writeFileAtomic makes dir/name hold data durably: a temporary file in dir,
// fsynced, renamed over name, then dir fsynced. Readers (and a restart after a
// crash) see the old file or the new one, never a part.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	tmp := filepath.Join(dir, tempPrefix+name+"-"+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close() // may already be closed; the first error is what matters
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

// syncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a crash.
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

// mkdirDurable creates dir (and its parents) and fsyncs its parent, so that a
// crash right after does not lose the new entry.
func mkdirDurable(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// removeTemps removes the temporary files a crash left in dir. Only the
// process holding the spool's lock writes there, so every one is stale.
func removeTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

type marker struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

// initDir makes dir a spool, or checks that it is one: a missing or empty
// directory becomes a new spool; anything else without a valid marker, or
// with a newer version, is refused, so the spool never deletes files that
// are not its own.
func initDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if len(entries) == 0 {
		if err := mkdirDurable(dir); err != nil {
			return err
		}
		data, err := json.Marshal(marker{Format: markerFormat, Version: formatVersion})
		if err != nil {
			return err
		}
		if err := writeFileAtomic(dir, markerName, append(data, '\n')); err != nil {
			return err
		}
	} else {
		data, err := os.ReadFile(filepath.Join(dir, markerName))
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("directory holds other files and no %s; give the spool a directory of its own: %w", markerName, store.ErrNotStore)
		}
		if err != nil {
			return err
		}
		var m marker
		if err := json.Unmarshal(data, &m); err != nil || m.Format != markerFormat {
			return fmt.Errorf("%s is not a tidelog spool marker: %w", markerName, store.ErrNotStore)
		}
		if m.Version > formatVersion {
			return fmt.Errorf("spool format version %d is newer than this program's %d; use a newer tidelog: %w", m.Version, formatVersion, store.ErrNotStore)
		}
	}
	for _, sub := range []string{queueDir, destsDir} {
		if err := mkdirDurable(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	return nil
}

// entryFileName is the queue file of seq: zero-padded so that a listing
// sorts in put order.
func entryFileName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, entrySuffix) }

func parseEntryFileName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, entrySuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil
}
