package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/tidelog/tidelog/store"
)

// Reads answer from the spool and the primary together. The spool is read
// first: an item leaves the spool only after every destination (the primary
// included) has it, so whatever the spool no longer lists, the primary lists
// by the time it is asked.

// Segments lists stream's segments held by the spool or the primary, sorted,
// each once. It fails when the primary cannot be listed: a listing without it
// would lack history.
func (s *Spool) Segments(ctx context.Context, stream string) ([]string, error) {
	if err := s.checkStream(ctx, "list segments", stream); err != nil {
		return nil, err
	}
	var names []string
	s.mu.Lock()
	for _, e := range s.entries {
		if e.Stream == stream && e.Kind == kindSegment {
			names = append(names, e.Name)
		}
	}
	s.mu.Unlock()
	prim, err := s.primary.Segments(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("spool %s: list segments of %s in the primary: %w", s.dir, stream, err)
	}
	names = append(names, prim...)
	slices.Sort(names)
	return slices.Compact(names), nil
}

// OpenSegment opens the spooled copy if there is one, else the primary's.
func (s *Spool) OpenSegment(ctx context.Context, stream, name string) (io.ReadCloser, error) {
	if err := s.checkName(ctx, "open segment", stream, name); err != nil {
		return nil, err
	}
	rc, err := s.data.OpenSegment(ctx, stream, name)
	if err == nil {
		return rc, nil
	}
	if !errors.Is(err, store.ErrNotExist) {
		return nil, fmt.Errorf("spool %s: %w", s.dir, err)
	}
	rc, err = s.primary.OpenSegment(ctx, stream, name)
	if err != nil {
		return nil, fmt.Errorf("spool %s: open segment %s/%s: %w", s.dir, stream, name, err)
	}
	return rc, nil
}

// Gaps lists stream's gaps held by the spool or the primary, ordered by
// After, each once.
func (s *Spool) Gaps(ctx context.Context, stream string) ([]store.Gap, error) {
	if err := s.checkStream(ctx, "list gaps", stream); err != nil {
		return nil, err
	}
	var gaps []store.Gap
	seen := map[string]bool{}
	s.mu.Lock()
	for _, e := range s.entries {
		if e.Stream == stream && e.Kind == kindGap && !seen[e.Name] {
			seen[e.Name] = true
			gaps = append(gaps, *e.Gap)
		}
	}
	s.mu.Unlock()
	prim, err := s.primary.Gaps(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("spool %s: list gaps of %s in the primary: %w", s.dir, stream, err)
	}
	for _, g := range prim {
		if !seen[gapName(g)] {
			seen[gapName(g)] = true
			gaps = append(gaps, g)
		}
	}
	store.SortGaps(gaps)
	return gaps, nil
}

// Streams lists the streams the spool or the primary holds something of.
func (s *Spool) Streams(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spool %s: list streams: %w", s.dir, err)
	}
	var names []string
	s.mu.Lock()
	for _, e := range s.entries {
		names = append(names, e.Stream)
	}
	s.mu.Unlock()
	prim, err := s.primary.Streams(ctx)
	if err != nil {
		return nil, fmt.Errorf("spool %s: list streams of the primary: %w", s.dir, err)
	}
	names = append(names, prim...)
	slices.Sort(names)
	return slices.Compact(names), nil
}

// DeleteSegment deletes a segment from the spool and from every destination
// (retention pruning). A segment still waiting in the spool for some
// destination is not taken from under its publisher: DeleteSegment waits up
// to Options.DeleteWait (and ctx) for it to be published everywhere, then
// fails with ErrPending, deleting nothing; retention tries again at its next
// pass. The primary is deleted from last, and only when every other
// destination succeeded, so a delete cut short stays listed and is retried.
func (s *Spool) DeleteSegment(ctx context.Context, stream, name string) error {
	if err := s.checkName(ctx, "delete segment", stream, name); err != nil {
		return err
	}
	k := itemKey{stream, kindSegment, name}
	wctx, cancel := context.WithTimeout(ctx, s.opts.DeleteWait)
	defer cancel()
	s.mu.Lock()
	for s.keys[k] != nil && s.keys[k].entries > 0 {
		if err := s.wait(wctx); err != nil {
			lacking := s.lackingKey(k)
			s.mu.Unlock()
			if ctx.Err() != nil {
				return fmt.Errorf("spool %s: delete segment %s/%s: %w", s.dir, stream, name, ctx.Err())
			}
			return fmt.Errorf("spool %s: delete segment %s/%s: waited %s for destination %s: %w",
				s.dir, stream, name, s.opts.DeleteWait, lacking, ErrPending)
		}
	}
	s.mu.Unlock()
	// The spool's copy went when the last destination got it; a put of the
	// same name racing this delete is not ordered against it (as in any store).
	var errs []error
	for _, d := range s.dests[1:] {
		if err := s.deleteFrom(ctx, d, stream, name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := s.deleteFrom(ctx, s.dests[0], stream, name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool %s: delete segment %s/%s: %w", s.dir, stream, name, err)
	}
	return nil
}

// deleteFrom deletes a segment from one destination and, if it was the last
// segment published there, forgets it, so that the next start's check does
// not take the deletion for a loss.
func (s *Spool) deleteFrom(ctx context.Context, d *dest, stream, name string) error {
	st := d.opened()
	if st == nil {
		return fmt.Errorf("destination %s (%s): its store is not open yet (it could not be reached); the delete is retried once it is", d.name, d.loc)
	}
	if err := st.DeleteSegment(ctx, stream, name); err != nil {
		return fmt.Errorf("destination %s: %w", d.name, err)
	}
	s.mu.Lock()
	was := d.last[stream].Segment == name
	s.mu.Unlock()
	if !was {
		return nil
	}
	return s.setPosition(d, func(p uint64) uint64 { return p }, func(last map[string]lastItem) {
		if l := last[stream]; l.Segment == name {
			l.Segment = ""
			if l == (lastItem{}) {
				delete(last, stream)
			} else {
				last[stream] = l
			}
		}
	})
}

// lackingKey names the destinations that lack an entry of k. Call with mu held.
func (s *Spool) lackingKey(k itemKey) string {
	var maxSeq uint64
	for _, e := range s.entries {
		if e.key() == k {
			maxSeq = max(maxSeq, e.Seq)
		}
	}
	return s.lacking(maxSeq)
}

// Snapshots are written by the backup cycle, which retries, and are large:
// they go to the primary directly, not through the spool.

// PutSnapshotFile stores a snapshot file in the primary.
func (s *Spool) PutSnapshotFile(ctx context.Context, stream, id, name string, r io.Reader) (int64, error) {
	return s.primary.PutSnapshotFile(ctx, stream, id, name, r)
}

// OpenSnapshotFile opens a snapshot file of the primary.
func (s *Spool) OpenSnapshotFile(ctx context.Context, stream, id, name string) (io.ReadCloser, error) {
	return s.primary.OpenSnapshotFile(ctx, stream, id, name)
}

// SnapshotFiles lists a snapshot's files in the primary.
func (s *Spool) SnapshotFiles(ctx context.Context, stream, id string) ([]string, error) {
	return s.primary.SnapshotFiles(ctx, stream, id)
}

// Snapshots lists the primary's snapshots of stream.
func (s *Spool) Snapshots(ctx context.Context, stream string) ([]string, error) {
	return s.primary.Snapshots(ctx, stream)
}

// DeleteSnapshot deletes a snapshot from the primary.
func (s *Spool) DeleteSnapshot(ctx context.Context, stream, id string) error {
	return s.primary.DeleteSnapshot(ctx, stream, id)
}
