package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

func ts(i uint32) oplog.Timestamp { return oplog.Timestamp{T: 100, I: i} }

// stream builds a catalog of segments [a,b] given as pairs; a segment links
// to the one before unless it follows a gap (then its chain starts afresh);
// pruned says the first segment links to one no longer in the store.
func stream(t *testing.T, pruned bool, gapsBefore map[int]bool, ranges ...[2]uint32) *catalog.Stream {
	t.Helper()
	s := &catalog.Stream{Name: "rs0"}
	for i, r := range ranges {
		h := segment.Header{OpStart: ts(r[0]), OpEnd: ts(r[1]), Count: uint64(r[1] - r[0] + 1), RawSize: 100}
		switch {
		case i == 0 && pruned:
			h.Prev = segment.Link{OpEnd: ts(r[0] - 1), Checksum: 1}
		case i > 0 && !gapsBefore[i]:
			h.Prev = segment.Link{OpEnd: ts(ranges[i-1][1]), Checksum: 1}
		case i > 0:
			s.Gaps = append(s.Gaps, store.Gap{After: ts(ranges[i-1][1]), Next: ts(r[0])})
		}
		s.Segments = append(s.Segments, catalog.Segment{Name: segment.Name(h.OpStart, h.OpEnd), Header: h})
	}
	s.Link()
	return s
}

func TestWindows(t *testing.T) {
	cases := []struct {
		name  string
		s     *catalog.Stream
		bases []Base
		want  []string
	}{
		{"capture only", stream(t, false, nil, [2]uint32{1, 10}, [2]uint32{11, 20}), nil,
			[]string{"100.1..100.20 (start of capture)"}},
		{"capture and a snapshot", stream(t, false, nil, [2]uint32{1, 10}, [2]uint32{11, 20}),
			[]Base{{ID: "s1", Start: ts(5), End: ts(12)}},
			[]string{"100.1..100.20 (start of capture)", "100.12..100.20 (snapshot s1)"}},
		{"pruned: only snapshots are bases", stream(t, true, nil, [2]uint32{11, 20}, [2]uint32{21, 30}),
			[]Base{{ID: "s1", Start: ts(5), End: ts(12)}, {ID: "s2", Start: ts(15), End: ts(18)}},
			[]string{"100.18..100.30 (snapshot s2)"}},
		{"snapshot not yet covered by segments", stream(t, false, nil, [2]uint32{1, 10}),
			[]Base{{ID: "s1", Start: ts(8), End: ts(12)}},
			[]string{"100.1..100.10 (start of capture)"}},
		{"a gap ends a window; a snapshot after it opens one", stream(t, false, map[int]bool{2: true}, [2]uint32{1, 10}, [2]uint32{11, 20}, [2]uint32{40, 50}),
			[]Base{{ID: "s1", Start: ts(41), End: ts(45)}, {ID: "s0", Start: ts(15), End: ts(30)}},
			[]string{"100.1..100.20 (start of capture)", "100.45..100.50 (snapshot s1)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, w := range Windows(c.s, c.bases) {
				got = append(got, w.String())
			}
			if strings.Join(got, "; ") != strings.Join(c.want, "; ") {
				t.Errorf("windows:\n got  %v\n want %v", got, c.want)
			}
		})
	}
}

func TestRestorePicksLatestBase(t *testing.T) {
	s := stream(t, false, nil, [2]uint32{1, 10}, [2]uint32{11, 20}, [2]uint32{21, 30}, [2]uint32{31, 40})
	bases := []Base{{ID: "s1", Start: ts(12), End: ts(14)}, {ID: "s2", Start: ts(25), End: ts(33)}}
	cases := []struct {
		to       oplog.Timestamp
		base     string
		from     oplog.Timestamp
		segments int
	}{
		{ts(9), "", oplog.Timestamp{}, 1},
		{ts(13), "", oplog.Timestamp{}, 2}, // before s1's end: capture start
		{ts(14), "s1", ts(12), 1},          // s1's own end
		{ts(32), "s1", ts(12), 3},          // before s2's end
		{ts(33), "s2", ts(25), 2},
		{oplog.Max, "s2", ts(25), 2},
	}
	for _, c := range cases {
		p, err := Restore(s, bases, c.to)
		if err != nil {
			t.Fatalf("to %s: %v", c.to, err)
		}
		base := ""
		if p.Base != nil {
			base = p.Base.ID
		}
		if base != c.base || p.From != c.from || len(p.Segments) != c.segments {
			t.Errorf("to %s: base %q from %s, %d segments; want %q from %s, %d", c.to, base, p.From, len(p.Segments), c.base, c.from, c.segments)
		}
	}
}

func TestRestoreOutsideWindows(t *testing.T) {
	s := stream(t, true, nil, [2]uint32{11, 20}, [2]uint32{21, 30})
	bases := []Base{{ID: "s1", Start: ts(15), End: ts(18)}}
	for _, to := range []oplog.Timestamp{ts(12), ts(31)} {
		_, err := Restore(s, bases, to)
		var we *WindowError
		if !errors.As(err, &we) || !strings.Contains(err.Error(), "100.18..100.30 (snapshot s1)") {
			t.Errorf("to %s: %v, want a WindowError listing the window", to, err)
		}
	}
	if _, err := Restore(&catalog.Stream{Name: "rs0"}, nil, oplog.Max); err == nil || !strings.Contains(err.Error(), "nothing is restorable") {
		t.Errorf("empty stream: %v", err)
	}
}

// A position inside a recorded gap is refused with the gap named: the
// entries there are lost, and no snapshot can bring them back. A position
// after the gap (not yet covered by a snapshot) gets the advice to take
// one instead.
func TestRestoreInsideAGap(t *testing.T) {
	s := stream(t, false, map[int]bool{1: true}, [2]uint32{1, 10}, [2]uint32{40, 50})
	s.Gaps[0].Reason = "oplog no longer reaches back to the last durable position"
	s.Link()
	for _, c := range []struct {
		to          oplog.Timestamp
		inGap       bool
		want, wantN string
	}{
		{ts(11), true, "100.11 is inside a gap: the oplog entries after 100.10 and before 100.40 were lost (oplog no longer reaches back", "snapshot taken after it"},
		{ts(39), true, "inside a gap", "snapshot taken after it"},
		{ts(45), false, "restorable only from a base snapshot taken after it", "inside a gap"},
	} {
		_, err := Restore(s, nil, c.to)
		var we *WindowError
		if !errors.As(err, &we) || (we.InGap != nil) != c.inGap {
			t.Fatalf("to %s: %v, want a WindowError (inside a gap: %v)", c.to, err, c.inGap)
		}
		if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, c.wantN) || !strings.Contains(msg, "100.1..100.10 (start of capture)") {
			t.Errorf("to %s: %q\nwant it to contain %q and the window, not %q", c.to, msg, c.want, c.wantN)
		}
	}
}
