package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tidelog/tidelog/internal/durable"
	"github.com/tidelog/tidelog/store"
)

const (
	kindSegment = "segment"
	kindGap     = "gap"
)

// entry is one put waiting in the spool, kept as queue/<seq>.entry. A
// segment's bytes are in data/ (a dirstore), checked against CRC32C before
// they are published; a gap record is small and travels in the entry.
type entry struct {
	V      int        `json:"v"`
	Seq    uint64     `json:"seq"`
	Stream string     `json:"stream"`
	Kind   string     `json:"kind"`             // kindSegment or kindGap
	Name   string     `json:"name"`             // segment name, or "<after T.I>-<next T.I>" of a gap
	Size   int64      `json:"size"`             // bytes counted against MaxBytes
	CRC32C string     `json:"crc32c,omitempty"` // of a segment's bytes
	Gap    *store.Gap `json:"gap,omitempty"`
	Added  time.Time  `json:"added"` // when it was put, for the backlog's age
}

func (e *entry) key() itemKey { return itemKey{e.Stream, e.Kind, e.Name} }

func (e *entry) String() string { return e.Kind + " " + e.Stream + "/" + e.Name }

func gapName(g store.Gap) string { return g.After.String() + "-" + g.Next.String() }

func readEntry(path string) (*entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e entry
	if err := decodeSummed(data, &e); err != nil {
		return nil, err
	}
	switch {
	case e.V > formatVersion:
		return nil, fmt.Errorf("format version %d is newer than this program's %d", e.V, formatVersion)
	case e.Kind == kindSegment && store.ValidSegment(e.Name) == nil && store.ValidStream(e.Stream) == nil:
	case e.Kind == kindGap && e.Gap != nil && store.ValidStream(e.Stream) == nil:
	default:
		return nil, errors.New("malformed")
	}
	return &e, nil
}

func (s *Spool) writeEntry(e *entry) error {
	data, err := encodeSummed(e)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.dir, queueDir)
	if err := durable.WriteFile(dir, entryFileName(e.Seq), data); err != nil {
		// The rename may have happened before a failed directory fsync. The
		// put fails and its bytes go, so the entry must go too: left, it
		// would name bytes that are gone, and the next Open would refuse.
		_ = os.Remove(filepath.Join(dir, entryFileName(e.Seq)))
		return err
	}
	return nil
}

// readAll reads r whole; with size >= 0 it fails on any other length (and
// never reads more than size+1 bytes).
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size < 0 {
		return io.ReadAll(r)
	}
	var buf bytes.Buffer
	buf.Grow(int(size))
	n, err := io.Copy(&buf, io.LimitReader(r, size+1))
	if err != nil {
		return nil, err
	}
	if n != size {
		return nil, fmt.Errorf("%d bytes, the entry says %d", n, size)
	}
	return buf.Bytes(), nil
}
