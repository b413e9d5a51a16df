package checkpoint

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// Commit adds info to its stream's catalog and makes it the chain head, in
// one synced batch. Call it only after the store's PutSegment of the same
// segment returned nil.
//
// The chain invariant is checked first; if it does not hold, Commit returns
// an error wrapping ErrChain and writes nothing:
//
//   - if the stream has a head, info.OpStart must be after head.OpEnd, and
//     info.Prev must be head.Link(), or zero when a gap was recorded right
//     after the head (a gap whose After is head.OpEnd: capture lost history
//     and starts a new chain);
//   - if the stream has no head, info.Prev is not checked: the first segment
//     of a stream starts a chain (zero Prev), and a checkpoint rebuilt or
//     started next to an existing store may begin with a segment that links
//     to segments the store already had.
//
// Committing the current head again is a no-op, so a retry after an error
// whose outcome was unknown is safe. A malformed info (empty name, invalid
// stream, OpEnd before OpStart, Prev not before OpStart) is refused too.
func (d *DB) Commit(info segment.Info) error {
	if err := checkInfo(info); err != nil {
		return fmt.Errorf("checkpoint %s: commit %s: %w", d.dir, info.Name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return d.errClosed("commit " + info.Name)
	}
	head, ok, err := d.head(info.Stream)
	if err != nil {
		return fmt.Errorf("checkpoint %s: commit %s: %w", d.dir, info.Name, err)
	}
	if ok {
		if head == info {
			return nil
		}
		if err := d.checkChain(head, info); err != nil {
			return fmt.Errorf("checkpoint %s: commit %s/%s: %w", d.dir, info.Stream, info.Name, err)
		}
	}
	b := d.pdb.NewBatch()
	defer b.Close()
	v := encodeInfo(info)
	err = errors.Join(
		b.Set(segKey(info.Stream, info.OpStart), v, nil),
		b.Set(headKey(info.Stream), v, nil),
		b.Set(streamKey(info.Stream), emptyValue(), nil),
	)
	if err == nil {
		err = b.Commit(pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: commit %s/%s: %w", d.dir, info.Stream, info.Name, err)
	}
	return nil
}

// checkInfo refuses an info that no tailer should produce.
func checkInfo(info segment.Info) error {
	if err := validStream(info.Stream); err != nil {
		return err
	}
	switch {
	case info.Name == "":
		return errors.New("segment has no name")
	case info.OpEnd.Before(info.OpStart):
		return fmt.Errorf("segment ends (%s) before it starts (%s)", info.OpEnd, info.OpStart)
	case !info.Prev.IsZero() && !info.OpStart.After(info.Prev.OpEnd):
		return fmt.Errorf("%w: it starts at %s, not after its previous segment's end %s", ErrChain, info.OpStart, info.Prev.OpEnd)
	}
	return nil
}

// checkChain checks that info may follow head (see Commit).
func (d *DB) checkChain(head, info segment.Info) error {
	if !info.OpStart.After(head.OpEnd) {
		return fmt.Errorf("%w: it starts at %s, not after the head %s, which ends at %s",
			ErrChain, info.OpStart, head.Name, head.OpEnd)
	}
	if info.Prev == head.Link() {
		return nil
	}
	if !info.Prev.IsZero() {
		return fmt.Errorf("%w: it links to %s/%08x, but the head %s is %s/%08x",
			ErrChain, info.Prev.OpEnd, info.Prev.Checksum, head.Name, head.OpEnd, head.Checksum)
	}
	_, found, err := d.gapAfter(info.Stream, head)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: it starts a new chain, but no gap was recorded after the head %s (ending at %s)",
			ErrChain, head.Name, head.OpEnd)
	}
	return nil
}

// gapAfter returns the gap recorded right after head, if any.
func (d *DB) gapAfter(stream string, head segment.Info) (store.Gap, bool, error) {
	key := gapKey(stream, head.OpEnd)
	v, closer, err := d.pdb.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return store.Gap{}, false, nil
	}
	if err != nil {
		return store.Gap{}, false, err
	}
	defer closer.Close()
	gap, err := decodeGap(key, v)
	if err != nil {
		return store.Gap{}, false, err
	}
	return gap, true, nil
}

// RecordGap records, durably, that stream lost the history after gap.After
// up to gap.Next. A gap recorded with After equal to the head's OpEnd lets
// the next Commit start a new chain. Recording a gap with the same After
// again replaces it. gap.Next must be after gap.After. RecordGap does not
// compare the gap with the head: a rebuilt checkpoint may record older gaps
// copied from the store.
func (d *DB) RecordGap(stream string, gap store.Gap) error {
	if err := validStream(stream); err != nil {
		return fmt.Errorf("checkpoint %s: record gap: %w", d.dir, err)
	}
	if !gap.Next.After(gap.After) {
		return fmt.Errorf("checkpoint %s: record gap %s/%s-%s: next must be after after", d.dir, stream, gap.After, gap.Next)
	}
	v, err := encodeGap(gap)
	if err != nil {
		return fmt.Errorf("checkpoint %s: record gap %s/%s: %w", d.dir, stream, gap.After, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return d.errClosed("record gap")
	}
	b := d.pdb.NewBatch()
	defer b.Close()
	err = errors.Join(
		b.Set(gapKey(stream, gap.After), v, nil),
		b.Set(streamKey(stream), emptyValue(), nil),
	)
	if err == nil {
		err = b.Commit(pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: record gap %s/%s: %w", d.dir, stream, gap.After, err)
	}
	return nil
}

// DeleteSegments removes the named segments from stream's catalog in one
// synced batch; names not in the catalog are ignored. It is for pruning,
// after the segments were deleted from (or expired in) the store. The head
// cannot be deleted, since it is the stream's position: asking to is an
// error, and nothing is deleted.
func (d *DB) DeleteSegments(stream string, names []string) error {
	if err := validStream(stream); err != nil {
		return fmt.Errorf("checkpoint %s: delete segments: %w", d.dir, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return d.errClosed("delete segments")
	}
	drop := make(map[string]bool, len(names))
	for _, n := range names {
		drop[n] = true
	}
	head, ok, err := d.head(stream)
	if err != nil {
		return fmt.Errorf("checkpoint %s: delete segments of %s: %w", d.dir, stream, err)
	}
	if ok && drop[head.Name] {
		return fmt.Errorf("checkpoint %s: delete segments of %s: %s is the chain head and cannot be deleted", d.dir, stream, head.Name)
	}
	b := d.pdb.NewBatch()
	defer b.Close()
	lower, upper := segRange(stream)
	err = d.scan(lower, upper, func(key, v []byte) error {
		info, err := decodeInfo(key, v)
		if err != nil {
			return err
		}
		if drop[info.Name] {
			return b.Delete(key, nil)
		}
		return nil
	})
	if err == nil && !b.Empty() {
		err = b.Commit(pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: delete segments of %s: %w", d.dir, stream, err)
	}
	return nil
}
