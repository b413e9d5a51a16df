// Package catalog tells what a store can restore: per stream, its segments,
// its recorded gaps, and the windows of unbroken history between them. It is
// built from the store alone (names and segment headers), so a machine that
// lost tailerd's checkpoint can still plan a restore.
package catalog

import (
	"context"
	"fmt"
	"slices"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// Segment is one stored segment as its header describes it.
type Segment struct {
	Name   string
	Header segment.Header
}

// Window is a run of segments in which each links to the one before it: any
// position in [From, To] is reachable by replaying its segments in order.
type Window struct {
	From, To oplog.Timestamp
	First    int // index of its first segment in Stream.Segments
	Last     int // index of its last segment
	Entries  uint64
}

// Break is where one window ends and the next begins.
type Break struct {
	After  string     // last segment before the break
	Before string     // first segment after it
	Gap    *store.Gap // the recorded gap that explains it; nil: unexplained (damage)
	// Reason says why Before cannot continue the chain although it may
	// link to After (ReasonPlaintextAfterEncrypted); empty: it does not
	// link. A break with a reason is unexplained whatever gap is recorded.
	Reason string
}

// ReasonPlaintextAfterEncrypted is the Reason of the break before a
// plaintext segment that follows encrypted segments of its stream. Once a
// stream is encrypted it stays so: such a segment needs no key to forge
// (its link to the encrypted one before it is in that segment's clear
// header), and no flag makes it part of the chain.
const ReasonPlaintextAfterEncrypted = "plaintext segment after encrypted ones: forged, or written by a tailerd without its key"

// Stream is everything the store holds for one stream.
type Stream struct {
	Name     string
	Segments []Segment
	Gaps     []store.Gap
	Windows  []Window
	Breaks   []Break
}

// Restorable is the window a restore onto an empty target can reach: the first
// one, since replay must start where capture started. Later windows need a
// base snapshot taken after their gap.
func (s *Stream) Restorable() (Window, bool) {
	if len(s.Windows) == 0 {
		return Window{}, false
	}
	return s.Windows[0], true
}

// EncryptedFrom is where the stream's first encrypted segment starts;
// false when none is. Plaintext objects of the stream are its own only
// before it (snapshot.ReadOptions.SegmentsEncryptedFrom).
func (s *Stream) EncryptedFrom() (oplog.Timestamp, bool) {
	if i := s.firstEncrypted(); i >= 0 {
		return s.Segments[i].Header.OpStart, true
	}
	return oplog.Timestamp{}, false
}

// firstEncrypted is the index of the stream's first encrypted segment; -1
// when none is.
func (s *Stream) firstEncrypted() int {
	return slices.IndexFunc(s.Segments, func(seg Segment) bool { return seg.Header.Encrypted })
}

// refused reports whether segment i is a plaintext segment after the
// stream's first encrypted one, first (firstEncrypted): once a stream is
// encrypted it stays so, and Link and VerifyWith refuse such a segment.
func (s *Stream) refused(i, first int) bool {
	return first >= 0 && i > first && !s.Segments[i].Header.Encrypted
}

// Load reads the catalog of every stream in st.
func Load(ctx context.Context, st store.Store) ([]*Stream, error) {
	names, err := st.Streams(ctx)
	if err != nil {
		return nil, fmt.Errorf("list streams in %s: %w", st, err)
	}
	out := make([]*Stream, 0, len(names))
	for _, name := range names {
		s, err := LoadStream(ctx, st, name)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// LoadStream reads the catalog of one stream: the header of each segment
// (not its body) and the gap records.
func LoadStream(ctx context.Context, st store.Store, stream string) (*Stream, error) {
	names, err := st.Segments(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("list segments of %s in %s: %w", stream, st, err)
	}
	gaps, err := st.Gaps(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("list gaps of %s in %s: %w", stream, st, err)
	}
	s := &Stream{Name: stream, Gaps: gaps}
	for _, name := range names {
		h, err := readHeader(ctx, st, stream, name)
		if err != nil {
			return nil, err
		}
		s.Segments = append(s.Segments, Segment{Name: name, Header: h})
	}
	s.Link()
	return s, nil
}

func readHeader(ctx context.Context, st store.Store, stream, name string) (segment.Header, error) {
	rc, err := st.OpenSegment(ctx, stream, name)
	if err != nil {
		return segment.Header{}, fmt.Errorf("open %s/%s in %s: %w", stream, name, st, err)
	}
	defer rc.Close()
	h, _, err := segment.ReadHeader(rc)
	if err != nil {
		return segment.Header{}, fmt.Errorf("%s/%s in %s: %w", stream, name, st, err)
	}
	if start, end, err := segment.ParseName(name); err != nil || start != h.OpStart || end != h.OpEnd {
		return segment.Header{}, fmt.Errorf("%s/%s in %s: %w", stream, name, st,
			&segment.CorruptError{Segment: name, Reason: fmt.Sprintf("header says %s-%s, the name disagrees (renamed or swapped file)", h.OpStart, h.OpEnd)})
	}
	return h, nil
}

// Link splits the segments into windows (Load does it; call it again after
// changing Segments). Headers carry the previous
// segment's opEnd, which is enough to find breaks; the checksum half of each
// link is checked by Verify and by every restore, which read whole segments.
//
// A plaintext segment after an encrypted one of the stream always starts a
// window after an unexplained break (ReasonPlaintextAfterEncrypted), even
// where it links and a gap is recorded (gap records are not authenticated),
// so that no restore crosses into it and verify reports it.
func (s *Stream) Link() {
	s.Windows, s.Breaks = nil, nil
	first := s.firstEncrypted()
	for i, seg := range s.Segments {
		h := seg.Header
		refused := s.refused(i, first)
		if i > 0 && !refused && h.Prev.OpEnd == s.Segments[i-1].Header.OpEnd && !h.Prev.IsZero() {
			w := &s.Windows[len(s.Windows)-1]
			w.To, w.Last = h.OpEnd, i
			w.Entries += h.Count
			continue
		}
		if i > 0 {
			b := Break{After: s.Segments[i-1].Name, Before: seg.Name}
			for j := range s.Gaps {
				if s.Gaps[j].After == s.Segments[i-1].Header.OpEnd {
					b.Gap = &s.Gaps[j]
				}
			}
			if refused {
				b.Gap, b.Reason = nil, ReasonPlaintextAfterEncrypted
			}
			s.Breaks = append(s.Breaks, b)
		}
		s.Windows = append(s.Windows, Window{From: h.OpStart, To: h.OpEnd, First: i, Last: i, Entries: h.Count})
	}
	for _, g := range s.Gaps {
		if g.Late != nil {
			s.endBeforeLate(*g.Late)
		}
	}
}

// endBeforeLate ends the window that lacks the entry at late just before
// it: a restore to a later position of that window would miss the entry
// and report success. Entries keeps counting the segments' whole content.
func (s *Stream) endBeforeLate(late oplog.Timestamp) {
	for k := range s.Windows {
		w := &s.Windows[k]
		if !late.After(w.From) || late.After(w.To) {
			continue
		}
		w.To = late.Prev()
		for w.Last > w.First && s.Segments[w.Last].Header.OpStart.After(w.To) {
			w.Last--
		}
	}
}
