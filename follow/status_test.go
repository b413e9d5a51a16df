package follow

import (
	"testing"
	"time"
)

// The checkpoint's age is measured by the follower's clock, as the lag is,
// and commits are stamped by it: with the clock moved 100 s past the last
// commit, /status (and the age series) says 100 s; caught up, the follower
// stays ready.
func TestStatusMeasuresCheckpointAgeByTheClock(t *testing.T) {
	fx := newFixture(t)
	start := time.Unix(T0+3600, 0)
	clock := &fakeClock{now: start}
	s1 := fx.put(inserts(t, model{}, 1, 5)...)
	r := fx.start(func(o *Options) { o.Clock = clock })
	fx.waitThrough(r, s1.OpEnd)
	waitPolls(t, r, 2) // it has seen that nothing more is listed: caught up
	st := r.f.Status()
	if !st.CheckpointCommitted.Equal(start) || st.CheckpointAgeSeconds != 0 || st.LagSeconds != 3600 {
		t.Fatalf("status at the commit: committed %s, age %v s, lag %v s; want %s, 0 s and 3600 s", st.CheckpointCommitted, st.CheckpointAgeSeconds, st.LagSeconds, start)
	}
	clock.set(start.Add(100 * time.Second))
	if st := r.f.Status(); st.CheckpointAgeSeconds != 100 || st.LagSeconds != 3700 || !st.Ready {
		t.Fatalf("status 100 s later: age %v s, lag %v s, ready %v (%s); want 100 s, 3700 s, ready (caught up)", st.CheckpointAgeSeconds, st.LagSeconds, st.Ready, st.NotReady)
	}
}
