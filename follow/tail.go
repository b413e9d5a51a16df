package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// tail reads one stream's segments in order from a position. It remembers
// the newest name listed, so a poll costs one listing of names and fetches
// only the segments after it; each is fetched once, verified in full and
// checked against the chain before any of its entries is handed out.
type tail struct {
	st      store.Store
	stream  string
	pending []string        // listed, not fetched yet, in order
	listed  string          // newest name listed
	newest  oplog.Timestamp // end of the newest segment listed

	// link is the last fetched segment's end and checksum: the next segment
	// must carry it. linked is false while re-reading segments from before
	// the checkpoint's segment, whose predecessors the checkpoint does not
	// describe.
	link   segment.Link
	linked bool
	// anchor, while re-reading, is the checkpoint's segment: it must still
	// be the segment that was applied (anchorLink, and encrypted if it was).
	anchor          string
	anchorLink      segment.Link
	anchorEncrypted bool
	// applied is the resume point the reading started from.
	applied oplog.Timestamp
	// opts read the segments (keys).
	opts segment.ReaderOptions
	// encrypted: a segment of the chain before the next one is encrypted
	// (one accepted, or the checkpoint's when the next links to it), so a
	// plaintext one is refused, --allow-unencrypted or not: its link to the
	// encrypted one is in that one's clear header, so anyone who can write
	// to the store can forge it.
	encrypted bool
}

// openTail lists the stream and positions the tail after state: at the
// first segment holding an entry after the resume point. That may be the
// checkpoint's segment or one before it (a transaction open at the commit
// holds the resume point back), which are then read again.
func openTail(ctx context.Context, st store.Store, state State, opts segment.ReaderOptions) (*tail, error) {
	t := &tail{st: st, stream: state.Stream, applied: state.Applied, opts: opts}
	names, err := t.list(ctx)
	if err != nil {
		return nil, err
	}
	start := len(names)
	for i, name := range names {
		if _, end, err := segment.ParseName(name); err == nil && end.After(state.Applied) {
			start = i
			break
		}
	}
	t.pending = append([]string(nil), names[start:]...)
	if !state.Link.OpEnd.After(state.Applied) {
		t.link, t.linked, t.encrypted = state.Link, true, state.Encrypted
		return t, nil
	}
	// Re-reading: the checkpoint's segment holds entries after the resume
	// point. Those before it may be the stream's plaintext prefix: the
	// checkpoint's segment counts once it is read again (accept).
	t.anchor, t.anchorLink, t.anchorEncrypted = state.Segment, state.Link, state.Encrypted
	if i := sort.SearchStrings(t.pending, state.Segment); i == len(t.pending) || t.pending[i] != state.Segment {
		return nil, fmt.Errorf("stream %s: segment %s holds entries after the resume point %s, which must be read again: %w (was it pruned? start the standby over: move the --checkpoint directory aside and run with --drop)",
			state.Stream, state.Segment, state.Applied, ErrPruned)
	}
	return t, nil
}

// list reads the stream's segment names and notes the newest.
func (t *tail) list(ctx context.Context) ([]string, error) {
	names, err := t.st.Segments(ctx, t.stream)
	if err != nil {
		return nil, fmt.Errorf("list segments of %s in %s: %w", t.stream, t.st, err)
	}
	if n := len(names); n > 0 && names[n-1] > t.listed {
		t.listed = names[n-1]
		if _, end, err := segment.ParseName(t.listed); err == nil {
			t.newest = end
		}
	}
	return names, nil
}

// refresh lists the stream and queues the segments after the newest one
// seen before.
func (t *tail) refresh(ctx context.Context) error {
	last := t.listed
	names, err := t.list(ctx)
	if err != nil {
		return err
	}
	i := sort.SearchStrings(names, last)
	if i < len(names) && names[i] == last {
		i++
	}
	t.pending = append(t.pending, names[i:]...)
	return nil
}

// next is the next segment to fetch and the position of its first entry.
func (t *tail) next() (string, oplog.Timestamp, bool) {
	if len(t.pending) == 0 {
		return "", oplog.Timestamp{}, false
	}
	start, _, err := segment.ParseName(t.pending[0])
	if err != nil {
		// The store lists only valid names; fetch reports the damage.
		return t.pending[0], oplog.Timestamp{}, true
	}
	return t.pending[0], start, true
}

// fetch reads and verifies the next segment, checks that it continues the
// chain and moves past it.
func (t *tail) fetch(ctx context.Context, name string) (*loaded, error) {
	l, err := t.read(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := t.accept(ctx, l.info); err != nil {
		return nil, err
	}
	t.pending = t.pending[1:]
	return l, nil
}

// read fetches one segment whole and verifies every checksum before any
// entry is handed out.
func (t *tail) read(ctx context.Context, name string) (*loaded, error) {
	rc, err := t.st.OpenSegment(ctx, t.stream, name)
	if errors.Is(err, store.ErrNotExist) {
		return nil, fmt.Errorf("stream %s: segment %s was listed and is gone: %w (is retention pruning segments the standby has not applied yet?)", t.stream, name, ErrPruned)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s/%s in %s: %w", t.stream, name, t.st, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s in %s: %w", t.stream, name, t.st, err)
	}
	return decode(data, name, t.opts)
}

// accept checks a fetched segment's place in the chain.
func (t *tail) accept(ctx context.Context, info segment.Info) error {
	if t.anchor == info.Name {
		if info.Link() != t.anchorLink {
			return &ChainError{Stream: t.stream, Segment: info.Name, Reason: fmt.Sprintf(
				"is not the segment applied before the restart: it ends %s with checksum %08x, the checkpoint recorded %s with checksum %08x (the store was rewritten, or is another one)",
				info.OpEnd, info.Checksum, t.anchorLink.OpEnd, t.anchorLink.Checksum)}
		}
		if t.anchorEncrypted && !info.Encrypted {
			// Its end and checksum match, but a checksum is no proof.
			return &ChainError{Stream: t.stream, Segment: info.Name,
				Reason: "is plaintext, but the segment applied under its name before the restart was encrypted (" + catalog.ReasonPlaintextAfterEncrypted + ")"}
		}
		t.anchor = ""
	}
	if t.encrypted && !info.Encrypted {
		return &ChainError{Stream: t.stream, Segment: info.Name,
			Reason: "is plaintext, but the stream's segments before it are encrypted (" + catalog.ReasonPlaintextAfterEncrypted + ")"}
	}
	switch {
	case !t.linked && !info.Prev.IsZero() && info.Prev.OpEnd.After(t.applied):
		return fmt.Errorf("stream %s: segment %s continues %s, after the resume point %s: the segments between are gone: %w (start the standby over: move the --checkpoint directory aside and run with --drop)",
			t.stream, info.Name, info.Prev.OpEnd, t.applied, ErrPruned)
	case t.linked && !info.Prev.IsZero() && info.Prev.OpEnd.After(t.link.OpEnd):
		// The segments between are not listed any more: pruned, not damaged
		// (a damaged chain links to the wrong bytes, not to a later end).
		return fmt.Errorf("stream %s: segment %s continues %s, but the last segment applied ends %s: the segments between are gone (pruned by retention, or deleted): %w (start the standby over: move the --checkpoint directory aside and run with --drop)",
			t.stream, info.Name, info.Prev.OpEnd, t.link.OpEnd, ErrPruned)
	case t.linked && info.Prev != t.link:
		return t.broken(ctx, info)
	}
	t.link, t.linked = info.Link(), true
	t.encrypted = t.encrypted || info.Encrypted
	return nil
}

// broken explains a segment that does not link to the one before it: a
// gap the store records there, or damage. The session fills in how far
// the target is (session.placed).
func (t *tail) broken(ctx context.Context, info segment.Info) error {
	if !info.Prev.IsZero() {
		return &ChainError{Stream: t.stream, Segment: info.Name, Reason: fmt.Sprintf(
			"does not link to the segment applied before it: it continues %s (checksum %08x), that one ends %s (checksum %08x)",
			info.Prev.OpEnd, info.Prev.Checksum, t.link.OpEnd, t.link.Checksum)}
	}
	gaps, err := t.st.Gaps(ctx, t.stream)
	if err != nil {
		return fmt.Errorf("list gaps of %s in %s: %w", t.stream, t.st, err)
	}
	for _, g := range gaps {
		if !g.After.Before(t.link.OpEnd) && !g.After.After(info.OpStart) {
			if g.Late != nil {
				return &LateEntryError{Stream: t.stream, Gap: g}
			}
			return &GapError{Stream: t.stream, Gap: g, Segment: info.Name}
		}
	}
	return &ChainError{Stream: t.stream, Segment: info.Name, Reason: fmt.Sprintf(
		"starts a new chain right after the segment applied before it (ending %s), and the store records no gap there", t.link.OpEnd)}
}

// decode verifies a segment's bytes in full and returns its entries.
func decode(data []byte, name string, opts segment.ReaderOptions) (*loaded, error) {
	r, err := segment.NewReaderWith(bytes.NewReader(data), name, opts)
	if err != nil {
		return nil, err
	}
	// The header's raw size sizes the arena, but a plaintext header is only
	// CRC-checked: a forged one could ask for any size. The entries
	// themselves are bounded by the bytes read, so cap the guess by them.
	h := r.Header()
	arena := make([]byte, 0, min(h.RawSize, 64*uint64(len(data))))
	var offs []int
	var tss []oplog.Timestamp
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		ts, err := oplog.EntryTS(e)
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", name, err)
		}
		offs = append(offs, len(arena))
		tss = append(tss, ts)
		arena = append(arena, e...)
	}
	l := &loaded{info: r.Info(), ts: tss, entries: make([][]byte, len(offs))}
	for i, off := range offs {
		end := len(arena)
		if i+1 < len(offs) {
			end = offs[i+1]
		}
		l.entries[i] = arena[off:end]
	}
	return l, nil
}
