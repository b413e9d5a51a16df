package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/tidelog/tidelog/internal/durable"
)

// What a failing destination's publisher waits for, in its log lines.
const (
	waitOpen   = "opening the store"
	waitVerify = "check of what the destination holds"
)

// publisher copies the queue to d in sequence order until ctx ends. It first
// opens d's store if it is not open yet, then checks what d's checkpoint says
// d holds against d's listing. Every failure is retried with backoff,
// forever: nothing is skipped.
func (s *Spool) publisher(ctx context.Context, d *dest) {
	if d.opened() == nil && !s.retry(ctx, d, waitOpen, func(ctx context.Context) error { return s.openDest(ctx, d) }) {
		return
	}
	st := d.opened()
	log := s.log.With().Str("dest", d.name).Str("store", st.String()).Logger()
	if !s.retry(ctx, d, waitVerify, func(ctx context.Context) error { return s.verify(ctx, d) }) {
		return
	}
	// Checked, d counts with its whole position: entries that only waited
	// for the check (every destination holds them) are freed now, not
	// after the next put, and Close need not wait for them.
	s.collect()
	for {
		e := s.next(ctx, d)
		if e == nil {
			return
		}
		var data []byte // the segment's bytes, read once per entry: one segment in memory
		ok := s.retry(ctx, d, e.String(), func(ctx context.Context) error {
			if e.Kind == kindGap {
				return st.PutGap(ctx, e.Stream, *e.Gap)
			}
			if data == nil {
				b, err := s.readSpooled(ctx, e)
				if err != nil {
					return err
				}
				data = b
			}
			return st.PutSegment(ctx, e.Stream, e.Name, data)
		})
		data = nil
		if !ok {
			return
		}
		// Published; now durable in the checkpoint, then freed if done.
		ok = s.retry(ctx, d, e.String(), func(context.Context) error {
			return s.setPosition(d, func(uint64) uint64 { return e.Seq }, func(last map[string]lastItem) {
				l := last[e.Stream]
				if e.Kind == kindSegment {
					l.Segment = e.Name
				} else {
					l.Gap = e.Name
				}
				last[e.Stream] = l
			})
		})
		if !ok {
			return
		}
		log.Debug().Uint64("seq", e.Seq).Str("stream", e.Stream).Str(e.Kind, e.Name).Msg("published")
		s.collect()
	}
}

// next waits for the first entry d does not hold yet, or returns nil when
// ctx ends.
func (s *Spool) next(ctx context.Context, d *dest) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Seq > d.published })
		if i < len(s.entries) {
			d.inFlight = s.entries[i]
			return s.entries[i]
		}
		d.inFlight = nil
		if s.wait(ctx) != nil {
			return nil
		}
	}
}

// readSpooled reads a spooled segment's bytes and checks them against the
// entry: damaged bytes are never published.
func (s *Spool) readSpooled(ctx context.Context, e *entry) ([]byte, error) {
	rc, err := s.data.OpenSegment(ctx, e.Stream, e.Name)
	if err != nil {
		return nil, fmt.Errorf("read the spooled copy: %w", err)
	}
	defer rc.Close()
	b, err := readAll(rc, e.Size)
	if err != nil {
		return nil, fmt.Errorf("read the spooled copy of %s/%s: %w", e.Stream, e.Name, err)
	}
	if got := crcHex(b); got != e.CRC32C {
		return nil, fmt.Errorf("the spooled copy of %s/%s is damaged (CRC-32C %s, put with %s); not publishing it", e.Stream, e.Name, got, e.CRC32C)
	}
	return b, nil
}

// retry runs op until it succeeds (true) or ctx ends (false), with backoff
// between RetryMin and RetryMax, each attempt bounded by AttemptTimeout.
// Failures are logged at most once per LogEvery per destination, with what
// waits; the first success after failures is logged too.
func (s *Spool) retry(ctx context.Context, d *dest, waiting string, op func(context.Context) error) bool {
	backoff := s.opts.RetryMin
	for {
		actx, cancel := context.WithTimeout(ctx, s.opts.AttemptTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			s.recovered(d)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		s.failed(d, waiting, err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
		backoff = min(backoff*2, s.opts.RetryMax)
	}
}

func (s *Spool) failed(d *dest, waiting string, err error) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.failingSince.IsZero() {
		d.failingSince = now
	}
	d.failures++
	d.lastErr = err
	if !d.lastLog.IsZero() && now.Sub(d.lastLog) < s.opts.LogEvery {
		return
	}
	d.lastLog = now
	st := s.destStatus(d, now)
	s.log.Error().Err(err).Str("dest", d.name).Str("store", d.String()).
		Int("attempts", d.failures).Dur("failing_for", now.Sub(d.failingSince)).
		Int("pending", st.Pending).Int64("pending_bytes", st.PendingBytes).Dur("oldest_pending_age", st.OldestAge).
		Str("waiting", waiting).
		Msg("destination failing; retrying (what it lacks waits in the spool, nothing is dropped; a full spool pauses puts)")
}

func (s *Spool) recovered(d *dest) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.failures == 0 {
		return
	}
	s.log.Info().Str("dest", d.name).Str("store", d.String()).Int("failed_attempts", d.failures).
		Dur("failed_for", now.Sub(d.failingSince)).Msg("destination back; catching up")
	d.failures, d.failingSince, d.lastErr, d.lastLog = 0, time.Time{}, nil, time.Time{}
}

// collect removes the entries every destination holds: first the bytes in
// data/ (unless another entry or a put in progress needs them), then the
// queue files. A crash in between leaves queue files that the next Open
// removes, since every checkpoint covers them.
func (s *Spool) collect() {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	s.mu.Lock()
	m := s.minPublished()
	var done []*entry
	for len(s.entries) > 0 && s.entries[0].Seq <= m {
		e := s.entries[0]
		s.entries[0] = nil
		s.entries = s.entries[1:]
		done = append(done, e)
		k := e.key()
		ks := s.keys[k]
		ks.entries--
		if ks.entries > 0 {
			continue
		}
		s.bytes -= ks.size
		ks.size = 0
		if ks.writers > 0 {
			continue // a put of the same object is writing its bytes again
		}
		delete(s.keys, k)
		if k.kind == kindSegment {
			// Under mu, so that no put of the same name starts meanwhile.
			if err := s.data.DeleteSegment(context.Background(), k.stream, k.name); err != nil {
				s.log.Warn().Err(err).Str("stream", k.stream).Str("segment", k.name).
					Msg("could not remove a published segment from the spool; the next start publishes it again (harmless)")
			}
		}
	}
	if len(done) > 0 {
		s.broadcast()
	}
	s.mu.Unlock()
	if len(done) == 0 {
		return
	}
	queue := filepath.Join(s.dir, queueDir)
	for _, e := range done {
		if err := os.Remove(filepath.Join(queue, entryFileName(e.Seq))); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn().Err(err).Uint64("seq", e.Seq).Msg("could not remove a finished queue entry; the next start does")
		}
	}
	if err := durable.SyncDir(queue); err != nil {
		s.log.Warn().Err(err).Msg("fsync of the queue directory failed; the next start removes finished entries again")
	}
}

// verify checks, before d's publisher sends anything, that d still holds
// what its checkpoint says it was given:
//   - an entry still in the spool that d lacks moves d's position back to
//     just before it, so that it (and what follows) is published again;
//   - the last segment and gap d was given of each stream, if the spool no
//     longer has them, are looked for in d's listing; one missing is logged
//     as an error naming stream and item and kept in Status: the spool cannot
//     give it back (copy it from another destination).
func (s *Spool) verify(ctx context.Context, d *dest) error {
	s.mu.Lock()
	claimed := map[string][]*entry{}
	inSpool := map[itemKey]bool{}
	for _, e := range s.entries {
		if e.Seq <= d.published {
			claimed[e.Stream] = append(claimed[e.Stream], e)
			inSpool[e.key()] = true
		}
	}
	last := make(map[string]lastItem, len(d.last))
	for k, v := range d.last {
		last[k] = v
	}
	s.mu.Unlock()
	streams := make([]string, 0, len(claimed)+len(last))
	for st := range claimed {
		streams = append(streams, st)
	}
	for st := range last {
		streams = append(streams, st)
	}
	slices.Sort(streams)
	streams = slices.Compact(streams)

	st := d.opened()
	var rewindTo uint64 // the first entry d lacks, 0 if none
	var lost []string
	for _, stream := range streams {
		segs, err := st.Segments(ctx, stream)
		if err != nil {
			return fmt.Errorf("check destination %s: %w", d.name, err)
		}
		gaps, err := st.Gaps(ctx, stream)
		if err != nil {
			return fmt.Errorf("check destination %s: %w", d.name, err)
		}
		has := map[itemKey]bool{}
		for _, n := range segs {
			has[itemKey{stream, kindSegment, n}] = true
		}
		for _, g := range gaps {
			has[itemKey{stream, kindGap, gapName(g)}] = true
		}
		for _, e := range claimed[stream] {
			if !has[e.key()] && (rewindTo == 0 || e.Seq < rewindTo) {
				rewindTo = e.Seq
				s.log.Warn().Str("dest", d.name).Str("store", st.String()).Str("missing", e.String()).
					Msg("destination lacks an item it was given; publishing it again from the spool")
			}
		}
		l := last[stream]
		for _, k := range []itemKey{{stream, kindSegment, l.Segment}, {stream, kindGap, l.Gap}} {
			if k.name == "" || has[k] || inSpool[k] {
				continue
			}
			lost = append(lost, k.kind+" "+stream+"/"+k.name)
			s.log.Error().Str("dest", d.name).Str("store", st.String()).Str("stream", stream).Str(k.kind, k.name).
				Msg("DATA LOST: the destination no longer holds an item it was given, and the spool no longer has it; " +
					"copy it from another destination (or the primary), then run `replayer verify` against this store")
		}
	}
	if rewindTo > 0 {
		if err := s.setPosition(d, func(p uint64) uint64 { return min(p, rewindTo-1) }, nil); err != nil {
			return err
		}
	}
	s.mu.Lock()
	d.lost = append(d.lost, lost...)
	d.verified = true
	s.broadcast()
	s.mu.Unlock()
	return nil
}
