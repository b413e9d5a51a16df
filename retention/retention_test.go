package retention

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/plan"
	"github.com/tidelog/tidelog/segment"
)

func ts(i uint32) oplog.Timestamp { return oplog.Timestamp{T: 1000, I: i} }

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	var snaps []Snapshot
	for i := range 6 { // one a day, the newest finished an hour ago
		snaps = append(snaps, Snapshot{Base: plan.Base{ID: fmt.Sprint("s", i), Start: ts(uint32(10 * i)), End: ts(uint32(10*i + 5))},
			Finished: now.Add(-time.Hour - time.Duration(5-i)*24*time.Hour)})
	}
	ids := func(ss []Snapshot) (out []string) {
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	// One chain through every snapshot's End: all are usable.
	h := segment.Header{OpStart: ts(0), OpEnd: ts(60), Count: 61}
	s := &catalog.Stream{Name: "rs0", Segments: []catalog.Segment{{Name: segment.Name(h.OpStart, h.OpEnd), Header: h}}}
	s.Link()
	cases := []struct {
		p    Policy
		keep []string
	}{
		{Policy{}, []string{"s0", "s1", "s2", "s3", "s4", "s5"}},
		{Policy{Keep: 2}, []string{"s4", "s5"}},
		{Policy{KeepFor: 50 * time.Hour}, []string{"s3", "s4", "s5"}},
		{Policy{Keep: 1, KeepFor: 30 * time.Hour}, []string{"s4", "s5"}},
		{Policy{KeepFor: time.Minute}, []string{"s5"}}, // the newest always stays
	}
	for _, c := range cases {
		keep, drop := Decide(s, snaps, c.p, now)
		if !slices.Equal(ids(keep), c.keep) || len(keep)+len(drop) != len(snaps) {
			t.Errorf("%s: keep %v drop %v, want keep %v", c.p, ids(keep), ids(drop), c.keep)
		}
	}

	// Segments reach only s3's End: s4 and s5 are not usable yet. They are
	// kept and not counted, so keeping 1 keeps s3, the newest usable one.
	h.OpEnd, h.Count = ts(40), 41
	short := &catalog.Stream{Name: "rs0", Segments: []catalog.Segment{{Name: segment.Name(h.OpStart, h.OpEnd), Header: h}}}
	short.Link()
	keep, _ := Decide(short, snaps, Policy{Keep: 1}, now)
	if got := ids(keep); !slices.Equal(got, []string{"s3", "s4", "s5"}) {
		t.Errorf("keep 1 with s4 and s5 not yet usable: kept %v, want s3 s4 s5", got)
	}
}

// randomStream: consecutive segments of 1..20 entries, sometimes a gap.
func randomStream(rng *rand.Rand) *catalog.Stream {
	s := &catalog.Stream{Name: "rs0"}
	next := uint32(1)
	for i := range 5 + rng.IntN(30) {
		if i > 0 && rng.IntN(10) == 0 {
			next += uint32(1 + rng.IntN(20)) // a gap: the chain starts again
		}
		n := uint32(1 + rng.IntN(20))
		h := segment.Header{OpStart: ts(next), OpEnd: ts(next + n - 1), Count: uint64(n)}
		if i > 0 && s.Segments[i-1].Header.OpEnd == ts(next-1) {
			h.Prev = segment.Link{OpEnd: ts(next - 1), Checksum: 1}
		}
		s.Segments = append(s.Segments, catalog.Segment{Name: segment.Name(h.OpStart, h.OpEnd), Header: h})
		next += n
	}
	s.Link()
	return s
}

// Pruning never takes a window of a kept snapshot: for random streams (with
// gaps), snapshots and policies, every window restorable from a kept
// snapshot before pruning is restorable, identically, after it.
func TestPruningKeepsKeptWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	now := time.Now()
	pruned := 0
	for round := range 2000 {
		s := randomStream(rng)
		last := s.Segments[len(s.Segments)-1].Header.OpEnd.I
		var snaps []Snapshot
		for i := range rng.IntN(6) {
			start := uint32(1 + rng.IntN(int(last)+10))
			snaps = append(snaps, Snapshot{Base: plan.Base{ID: fmt.Sprint("s", i), Start: ts(start), End: ts(start + uint32(rng.IntN(15)))},
				Finished: now.Add(-time.Duration(rng.IntN(100)) * time.Hour)})
		}
		keep, _ := Decide(s, snaps, Policy{Keep: rng.IntN(3), KeepFor: time.Duration(rng.IntN(60)) * time.Hour}, now)
		bases := make([]plan.Base, len(keep))
		for i := range keep {
			bases[i] = keep[i].Base
		}
		before := snapshotWindows(plan.Windows(s, bases))
		all := make([]plan.Base, len(snaps))
		for i := range snaps {
			all[i] = snaps[i].Base
		}
		if len(snapshotWindows(plan.Windows(s, all))) > 0 && len(before) == 0 {
			t.Fatalf("round %d: retention dropped every usable snapshot", round)
		}
		drop := Prunable(s, keep)
		pruned += len(drop)
		after := &catalog.Stream{Name: s.Name}
		for _, seg := range s.Segments {
			if !slices.Contains(drop, seg.Name) {
				after.Segments = append(after.Segments, seg)
			}
		}
		after.Link()
		if got := snapshotWindows(plan.Windows(after, bases)); !slices.Equal(got, before) {
			t.Fatalf("round %d: pruning %v changed the snapshot windows:\n before %v\n after  %v", round, drop, before, got)
		}
	}
	if pruned == 0 {
		t.Fatal("nothing was ever pruned: the test exercises nothing")
	}
}

func snapshotWindows(ws []plan.Window) []string {
	var out []string
	for _, w := range ws {
		if w.Base != nil {
			out = append(out, w.String())
		}
	}
	return out
}
