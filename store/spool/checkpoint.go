package spool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidelog/tidelog/internal/durable"
	"github.com/tidelog/tidelog/store"
)

// dest is one destination and its publisher's state.
type dest struct {
	name string
	// st is the destination's store, nil until it is open (Dest.Open):
	// set once by its publisher, read by others without Spool.mu.
	st   atomic.Pointer[store.Store]
	open func(context.Context) (store.Store, error) // Dest.Open
	loc  string                                     // names it until it is open
	// ckptStore is the store its checkpoint names (String), compared with
	// the store once it is open.
	ckptStore string

	// ckptMu serializes writes of the checkpoint file, which the publisher
	// and DeleteSegment both make.
	ckptMu sync.Mutex

	// Guarded by Spool.mu.
	published uint64              // every entry up to this Seq is in the destination (durably checkpointed)
	last      map[string]lastItem // per stream, the last segment and gap published
	verified  bool
	// floor is what minPublished counts for d until it is verified: no
	// entry d claims may be freed while its check may still send it again.
	floor         uint64
	hasCheckpoint bool   // a readable checkpoint was loaded at Open
	inFlight      *entry // being published now
	failingSince  time.Time
	failures      int
	lastErr       error
	lastLog       time.Time
	lost          []string // "stream/name" the destination lost and the spool no longer has
}

// lastItem is what a destination was last given of a stream. It outlives the
// spooled copy, so that a destination that lost its newest data is noticed
// at the next start even when the spool no longer holds it.
type lastItem struct {
	Segment string `json:"segment,omitempty"`
	Gap     string `json:"gap,omitempty"`
}

// checkpoint is the file dests/<name>.ckpt.
type checkpoint struct {
	Format    string              `json:"format"` // ckptFormat
	Version   int                 `json:"version"`
	Dest      string              `json:"dest"`
	Store     string              `json:"store"` // the destination's String(), for people and to notice a change
	Published uint64              `json:"published"`
	Last      map[string]lastItem `json:"last,omitempty"`
}

func readCheckpoint(path string) (checkpoint, error) {
	var c checkpoint
	data, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := decodeSummed(data, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if c.Format != ckptFormat {
		return c, fmt.Errorf("%s: not a spool destination checkpoint", path)
	}
	if c.Version > formatVersion {
		return c, fmt.Errorf("%s: format version %d is newer than this program's %d", path, c.Version, formatVersion)
	}
	return c, nil
}

// saveCheckpoint writes d's checkpoint with published and last. The caller
// changes d's state under mu only after this returns nil: the spool frees an
// entry only once a durable checkpoint covers it.
func (s *Spool) saveCheckpoint(d *dest, published uint64, last map[string]lastItem) error {
	data, err := encodeSummed(checkpoint{
		Format: ckptFormat, Version: formatVersion, Dest: d.name, Store: d.String(),
		Published: published, Last: last,
	})
	if err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(s.dir, destsDir), d.name+ckptSuffix, data); err != nil {
		return fmt.Errorf("write checkpoint of destination %s: %w", d.name, err)
	}
	return nil
}

// setPosition makes published and last d's durable position, then its
// in-memory one. edit changes a copy of last.
func (s *Spool) setPosition(d *dest, published func(uint64) uint64, edit func(map[string]lastItem)) error {
	d.ckptMu.Lock()
	defer d.ckptMu.Unlock()
	s.mu.Lock()
	pub := published(d.published)
	last := make(map[string]lastItem, len(d.last)+1)
	for k, v := range d.last {
		last[k] = v
	}
	s.mu.Unlock()
	if edit != nil {
		edit(last)
	}
	if err := s.saveCheckpoint(d, pub, last); err != nil {
		return err
	}
	s.mu.Lock()
	d.published, d.last = pub, last
	s.broadcast()
	s.mu.Unlock()
	return nil
}
