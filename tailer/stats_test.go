package tailer

import (
	"testing"
	"time"
)

// Stats are what the metrics endpoint and `tailerd status` show: they must
// follow capture, not sit at their zero values.
func TestStatsFollowCapture(t *testing.T) {
	f := newFixture(t)
	first := f.write(30)
	tl, stop := f.run(t.TempDir(), Config{CutAge: 100 * time.Millisecond, ProbeEvery: 50 * time.Millisecond})
	defer stop()
	waitUntil(t, "everything is stored and the oplog probed", func() bool {
		s := tl.Stats()
		return s.Durable == first && s.SourceNewest == first && !s.SourceOldest.IsZero()
	})
	s := tl.Stats()
	if s.Entries != 30 || s.Segments == 0 || s.Bytes == 0 || s.Pending != 0 {
		t.Fatalf("after storing 30 entries: %+v", s)
	}
	if s.LastCommit.IsZero() || time.Since(s.LastCommit) > time.Minute {
		t.Fatalf("last commit %v, want just now", s.LastCommit)
	}
	if s.LagSeconds() != 0 {
		t.Fatalf("lag %v s with everything stored, want 0", s.LagSeconds())
	}
	if h, ok := s.HeadroomSeconds(); !ok || h < 0 || h != float64(s.Durable.T-s.SourceOldest.T) {
		t.Fatalf("headroom %v (ok %v) with oldest %s and durable %s", h, ok, s.SourceOldest, s.Durable)
	}
	if s.Stream == "" || s.Cursor != CursorPoll {
		t.Fatalf("stream %q cursor %q", s.Stream, s.Cursor)
	}

	second := f.write(20)
	waitUntil(t, "the new entries are stored", func() bool { return tl.Stats().Durable == second })
	if got := tl.Stats().Entries; got != 50 {
		t.Fatalf("entries %d after 50 written, want 50", got)
	}
}

func TestLagSeconds(t *testing.T) {
	s := Stats{}
	s.SourceNewest.T, s.SourceOldest.T = 100, 50
	if s.LagSeconds() != 0 {
		t.Fatalf("lag %v before anything is stored, want 0", s.LagSeconds())
	}
	if h, ok := s.HeadroomSeconds(); ok {
		t.Fatalf("headroom %v before anything is read, want none", h)
	}
	s.Durable.T, s.SourceNewest.T = 100, 107
	if s.LagSeconds() != 7 {
		t.Fatalf("lag %v, want 7", s.LagSeconds())
	}
	s.Captured.T = 110 // read past the last probe
	if s.LagSeconds() != 10 {
		t.Fatalf("lag %v, want 10", s.LagSeconds())
	}
}
