package checkpoint

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// Head returns stream's chain head: the last committed segment, whose OpEnd
// is the last durable position. ok is false if nothing was committed to the
// stream. A damaged value yields an error wrapping ErrCorrupt.
func (d *DB) Head(stream string) (info segment.Info, ok bool, err error) {
	if err := validStream(stream); err != nil {
		return segment.Info{}, false, fmt.Errorf("checkpoint %s: head: %w", d.dir, err)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return segment.Info{}, false, d.errClosed("head of " + stream)
	}
	info, ok, err = d.head(stream)
	if err != nil {
		return segment.Info{}, false, fmt.Errorf("checkpoint %s: head of %s: %w", d.dir, stream, err)
	}
	return info, ok, nil
}

// head is Head without the lock; d.mu must be held.
func (d *DB) head(stream string) (segment.Info, bool, error) {
	key := headKey(stream)
	v, closer, err := d.pdb.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return segment.Info{}, false, nil
	}
	if err != nil {
		return segment.Info{}, false, d.readErr(err)
	}
	defer closer.Close()
	info, err := decodeInfo(key, v)
	if err != nil {
		return segment.Info{}, false, err
	}
	if info.Stream != stream {
		return segment.Info{}, false, corruptValue(key, fmt.Sprintf("holds a segment of stream %q", info.Stream))
	}
	return info, true, nil
}

// Segments returns stream's committed segments in order of OpStart (chain
// order). A stream with none has an empty catalog, not an error.
func (d *DB) Segments(stream string) ([]segment.Info, error) {
	if err := validStream(stream); err != nil {
		return nil, fmt.Errorf("checkpoint %s: segments: %w", d.dir, err)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, d.errClosed("segments of " + stream)
	}
	var infos []segment.Info
	lower, upper := segRange(stream)
	err := d.scan(lower, upper, func(key, v []byte) error {
		info, err := decodeInfo(key, v)
		if err != nil {
			return err
		}
		if !bytes.Equal(key, segKey(stream, info.OpStart)) || info.Stream != stream {
			return corruptValue(key, fmt.Sprintf("holds segment %s of stream %q starting at %s", info.Name, info.Stream, info.OpStart))
		}
		infos = append(infos, info)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: segments of %s: %w", d.dir, stream, err)
	}
	return infos, nil
}

// Gaps returns stream's recorded gaps ordered by After.
func (d *DB) Gaps(stream string) ([]store.Gap, error) {
	if err := validStream(stream); err != nil {
		return nil, fmt.Errorf("checkpoint %s: gaps: %w", d.dir, err)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, d.errClosed("gaps of " + stream)
	}
	var gaps []store.Gap
	lower, upper := gapRange(stream)
	err := d.scan(lower, upper, func(key, v []byte) error {
		gap, err := decodeGap(key, v)
		if err != nil {
			return err
		}
		if !bytes.Equal(key, gapKey(stream, gap.After)) {
			return corruptValue(key, fmt.Sprintf("holds a gap after %s", gap.After))
		}
		gaps = append(gaps, gap)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: gaps of %s: %w", d.dir, stream, err)
	}
	return gaps, nil
}

// Streams returns, sorted, the streams that have had a commit or a gap.
func (d *DB) Streams() ([]string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, d.errClosed("streams")
	}
	var streams []string
	lower, upper := prefixRange(streamsPrefix)
	err := d.scan(lower, upper, func(key, v []byte) error {
		if err := checkEmpty(key, v); err != nil {
			return err
		}
		streams = append(streams, string(key[len(streamsPrefix):]))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: streams: %w", d.dir, err)
	}
	return streams, nil
}

// scan calls fn for each key in [lower, upper) in order, stopping at the
// first error. key and v are valid only during the call.
func (d *DB) scan(lower, upper []byte, fn func(key, v []byte) error) (err error) {
	it, err := d.pdb.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return d.readErr(err)
	}
	defer func() {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		err = d.readErr(err)
	}()
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return it.Error()
}

// readErr marks a read that found a damaged Pebble file as ErrCorrupt,
// naming the directory and what to do, like a damaged value.
func (d *DB) readErr(err error) error {
	if err != nil && pebble.IsCorruptionError(err) && !errors.Is(err, ErrCorrupt) {
		return corruptDir(d.dir, err)
	}
	return err
}
