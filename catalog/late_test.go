package catalog

import (
	"testing"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// A window whose segments lack a late entry ends just before it: a restore
// past it would miss the entry and still report success.
func TestWindowEndsBeforeLateEntry(t *testing.T) {
	ts := func(t uint32) oplog.Timestamp { return oplog.Timestamp{T: t, I: 1} }
	seg := func(from, to uint32, prev *segment.Header) Segment {
		h := segment.Header{OpStart: ts(from), OpEnd: ts(to), Count: uint64(to - from + 1)}
		if prev != nil {
			h.Prev = segment.Link{OpEnd: prev.OpEnd, Checksum: 1}
		}
		return Segment{Name: segment.Name(h.OpStart, h.OpEnd), Header: h}
	}
	s1 := seg(10, 20, nil)
	s2 := seg(21, 30, &s1.Header)
	s3 := seg(31, 40, &s2.Header)
	late := oplog.Timestamp{T: 25, I: 0}
	s := &Stream{Segments: []Segment{s1, s2, s3}, Gaps: []store.Gap{{After: ts(40), Next: ts(40).Next(), Late: &late}}}
	s.Link()
	if len(s.Windows) != 1 {
		t.Fatalf("windows %+v, want one", s.Windows)
	}
	w := s.Windows[0]
	if w.To != late.Prev() || w.Last != 1 || w.From != ts(10) {
		t.Fatalf("window %+v, want it to end at %s in the second segment", w, late.Prev())
	}
}
