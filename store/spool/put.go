package spool

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tidelog/tidelog/store"
)

// PutSegment stores data as segment name of stream in the spool, durably,
// and returns; the publishers copy it to every destination afterwards. When
// the spool holds MaxBytes already (and is not empty), it blocks until the
// destinations free room or ctx ends: back-pressure, never a drop.
func (s *Spool) PutSegment(ctx context.Context, stream, name string, data []byte) error {
	if err := s.checkName(ctx, "put segment", stream, name); err != nil {
		return err
	}
	k := itemKey{stream, kindSegment, name}
	n := int64(len(data))
	if err := s.reserve(ctx, k, n, true); err != nil {
		return fmt.Errorf("spool %s: put segment %s/%s: %w", s.dir, stream, name, err)
	}
	if err := s.data.PutSegment(ctx, stream, name, data); err != nil {
		s.unreserve(k, n)
		return fmt.Errorf("spool %s: put segment %s/%s: %w", s.dir, stream, name, err)
	}
	e := &entry{V: formatVersion, Stream: stream, Kind: kindSegment, Name: name, Size: n, CRC32C: crcHex(data), Added: s.opts.Now().UTC()}
	if err := s.append(ctx, e, n); err != nil {
		s.unreserve(k, n)
		return fmt.Errorf("spool %s: put segment %s/%s: %w", s.dir, stream, name, err)
	}
	return nil
}

// PutGap records a gap of stream in the spool, durably. It never waits for
// room: a gap record is a few hundred bytes, one per oplog roll-over, and the
// tailer does not retry a failed one.
func (s *Spool) PutGap(ctx context.Context, stream string, gap store.Gap) error {
	if err := s.checkStream(ctx, "put gap", stream); err != nil {
		return err
	}
	name := gapName(gap)
	raw, err := json.Marshal(gap)
	if err != nil {
		return fmt.Errorf("spool %s: put gap %s/%s: %w", s.dir, stream, name, err)
	}
	k := itemKey{stream, kindGap, name}
	n := int64(len(raw))
	if err := s.reserve(ctx, k, n, false); err != nil {
		return fmt.Errorf("spool %s: put gap %s/%s: %w", s.dir, stream, name, err)
	}
	g := gap
	e := &entry{V: formatVersion, Stream: stream, Kind: kindGap, Name: name, Size: n, Gap: &g, Added: s.opts.Now().UTC()}
	if err := s.append(ctx, e, n); err != nil {
		s.unreserve(k, n)
		return fmt.Errorf("spool %s: put gap %s/%s: %w", s.dir, stream, name, err)
	}
	return nil
}

// reserve counts n bytes for a put of k, waiting (with wait) while they
// would take the spool past MaxBytes and the spool is not empty.
func (s *Spool) reserve(ctx context.Context, k itemKey, n int64, wait bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return ErrClosed
		}
		if !wait || s.bytes == 0 || s.bytes+n <= s.opts.MaxBytes {
			break
		}
		if s.paused.IsZero() {
			s.paused = s.opts.Now()
			s.pausedBy = s.holders()
			s.log.Warn().Str("held_by", s.pausedBy).Int64("spool_bytes", s.bytes).Int64("max_bytes", s.opts.MaxBytes).
				Int("pending", len(s.entries)).Str("waiting", k.stream+"/"+k.name).
				Msg("spool full: capture is paused until the destination holding it publishes (nothing is dropped)")
		}
		s.waiting++
		err := s.wait(ctx)
		s.waiting--
		if err != nil {
			return fmt.Errorf("spool full (%d of %d bytes, held by destination %s): %w", s.bytes, s.opts.MaxBytes, s.holders(), err)
		}
	}
	if wait && !s.paused.IsZero() {
		s.log.Info().Str("held_by", s.pausedBy).Dur("paused_for", s.opts.Now().Sub(s.paused)).Msg("spool has room again; capture resumed")
		s.paused = time.Time{}
	}
	ks := s.keys[k]
	if ks == nil {
		ks = &keyState{}
		s.keys[k] = ks
	}
	ks.writers++
	s.bytes += n
	return nil
}

// holders names the destinations furthest behind (the ones whose backlog
// keeps the oldest entries in the spool). Call with mu held.
func (s *Spool) holders() string {
	m := s.minPublished()
	var names []string
	for _, d := range s.dests {
		if d.published == m {
			names = append(names, d.name+" ("+d.String()+")")
		}
	}
	return strings.Join(names, ", ")
}

// unreserve undoes reserve after a failed put. Bytes a failed segment put may
// have left in data/ are removed if nothing else refers to them (else a
// restart would queue them).
func (s *Spool) unreserve(k itemKey, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := s.keys[k]
	ks.writers--
	s.bytes -= n
	if ks.entries == 0 && ks.writers == 0 {
		delete(s.keys, k)
		if k.kind == kindSegment {
			if err := s.data.DeleteSegment(context.Background(), k.stream, k.name); err != nil {
				s.log.Warn().Err(err).Str("stream", k.stream).Str("segment", k.name).
					Msg("could not remove the bytes of a failed put; the next start publishes them (harmless)")
			}
		}
	}
	s.broadcast()
}

// append gives e the next sequence number, writes its queue entry durably
// and makes it visible to readers and publishers, in that order.
func (s *Spool) append(ctx context.Context, e *entry, reserved int64) error {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	stopped := s.stopped
	e.Seq = s.nextSeq
	s.mu.Unlock()
	if stopped {
		return ErrClosed
	}
	if err := s.writeEntry(e); err != nil {
		return fmt.Errorf("write queue entry: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextSeq++
	s.entries = append(s.entries, e)
	ks := s.keys[e.key()]
	ks.writers--
	s.bytes -= reserved
	if ks.entries > 0 {
		s.bytes -= ks.size // the same object put again replaced its bytes
	}
	ks.entries++
	ks.size = e.Size
	s.bytes += e.Size
	s.broadcast()
	return nil
}

func (s *Spool) checkStream(ctx context.Context, op, stream string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("spool %s: %s: %w", s.dir, op, err)
	}
	if err := store.ValidStream(stream); err != nil {
		return fmt.Errorf("spool %s: %s: %w", s.dir, op, err)
	}
	return nil
}

func (s *Spool) checkName(ctx context.Context, op, stream, name string) error {
	if err := s.checkStream(ctx, op, stream); err != nil {
		return err
	}
	if err := store.ValidSegment(name); err != nil {
		return fmt.Errorf("spool %s: %s %s/%s: %w", s.dir, op, stream, name, err)
	}
	return nil
}
