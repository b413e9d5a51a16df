package tailer

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
)

// More entries than recheck's range holds pass on faster than the window
// lets them go: a late entry behind the oldest of them is still caught,
// because capture waits instead of dropping them from the range.
func TestPollFullRecheckRangeStillCatchesLateEntry(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-10*time.Second))
	now := fakeWall.Add(time.Second)
	r := f.pollReader(start, &now)
	r.recentCap = 3
	for i := uint32(3); i <= 7; i++ {
		f.putEntry(i, fakeWall)
	}
	if _, _, err := readOnce(t, r); err != nil {
		t.Fatal(err)
	}

	late := f.putEntry(2, fakeWall.Add(-time.Millisecond))
	var err error
	for range 3 {
		now = now.Add(recheckEvery)
		if _, _, err = readOnce(t, r); err != nil {
			break
		}
	}
	var gap *GapError
	if !errors.As(err, &gap) || gap.Late == nil || *gap.Late != late {
		t.Fatalf("polls after a late entry behind more entries than the range holds: err %v, want a gap naming %s", err, late)
	}
}

// A full range delays entries and never loses one: each is passed on once,
// in order, as the window lets the oldest go, and the range never holds
// more than it may.
func TestPollFullRecheckRangePassesEverythingInTime(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-10*time.Second))
	now := fakeWall.Add(time.Second)
	r := f.pollReader(start, &now)
	r.recentCap = 3
	var holds atomic.Uint64
	r.holds = &holds
	var want []oplog.Timestamp
	for i := uint32(2); i <= 9; i++ {
		want = append(want, f.putEntry(i, fakeWall))
	}
	var got []oplog.Timestamp
	for i := 0; len(got) < len(want) && i < 40; i++ {
		g, wait, err := readOnce(t, r)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.recent) > r.recentCap {
			t.Fatalf("recheck range holds %d entries, more than its %d", len(r.recent), r.recentCap)
		}
		if len(got)+len(g) < len(want) && wait <= 0 {
			t.Fatalf("poll %d passed on %v of %d left and asked for no wait", i, g, len(want)-len(got))
		}
		got = append(got, g...)
		now = now.Add(recheckEvery / 2)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("passed on %v, want %v", got, want)
	}
	if holds.Load() == 0 {
		t.Fatal("capture was held back, but no hold was counted")
	}
}

// Through Run: a catch-up faster than the range allows is held back, the
// holds show in Stats, and every entry is stored in one chain.
func TestRecheckHoldsShowInStats(t *testing.T) {
	f := newFixture(t)
	first := f.putEntry(1, fakeWall.Add(-10*time.Second))
	var last oplog.Timestamp
	for i := uint32(2); i <= 12; i++ {
		last = f.putEntry(i, fakeWall)
	}
	began := time.Now()
	tl, stop := f.runWith(t.TempDir(), Config{CutAge: 100 * time.Millisecond}, func(tl *Tailer) {
		tl.recentCap = 4
		// Ten times real time: the recheck window passes in 0.3 s, while
		// the entries FerretDB logs for the inserts above never settle.
		tl.clock = func() time.Time { return fakeWall.Add(time.Second + 10*time.Since(began)) }
	})
	waitUntil(t, "every entry is stored", func() bool { return tl.Stats().Durable == last })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if h := tl.Stats().RecheckHolds; h == 0 {
		t.Fatalf("Stats().RecheckHolds %d after 12 entries through a range of 4, want holds counted", h)
	}
	s, err := catalog.LoadStream(context.Background(), f.store, testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := s.Restorable(); !ok || len(s.Windows) != 1 || w.From != first || w.To != last || w.Entries != 12 {
		t.Fatalf("windows %+v, want one of 12 entries from %s to %s", s.Windows, first, last)
	}
}
