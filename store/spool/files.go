package spool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tidelog/tidelog/internal/durable"
	"github.com/tidelog/tidelog/store"
)

// Names in the spool directory. See the package comment.
const (
	markerName  = "tidelog-spool.json"
	lockName    = "lock"
	dataDir     = "data"
	queueDir    = "queue"
	destsDir    = "dests"
	tempPrefix  = durable.TempPrefix
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

// mkdirDurable creates dir (and its parents) and fsyncs its parent, so that a
// crash right after does not lose the new entry.
func mkdirDurable(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	return durable.SyncDir(filepath.Dir(dir))
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
		if err := durable.WriteFile(dir, markerName, append(data, '\n')); err != nil {
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
