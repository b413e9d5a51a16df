package follow

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// --delay applies an entry only once its ts is at least the delay old: the
// initial restore stops at that horizon, and later entries, whole segments
// or part of one, wait until the clock moves past their ts plus the delay.
func TestFollowDelay(t *testing.T) {
	fx := newFixture(t)
	const delay = 1000 * time.Second
	at := func(sec uint32) time.Time { return time.Unix(int64(sec), 0) }
	clock := &fakeClock{now: at(T0 + 1500)}
	m := model{}
	s1 := fx.put(ins(t, ts(T0+100, 1), 1, "a"), ins(t, ts(T0+100, 2), 2, "b"))
	s2 := fx.put(ins(t, ts(T0+1000, 1), 3, "c"), upd(t, ts(T0+1000, 2), 1, "a2"))
	s3 := fx.put(ins(t, ts(T0+2000, 1), 4, "d"), ins(t, ts(T0+2001, 1), 5, "e"))

	r := fx.start(func(o *Options) { o.Delay, o.Clock = delay, clock })
	fx.waitThrough(r, s1.OpEnd)
	waitPolls(t, r, 5)
	m[1], m[2] = "a", "b"
	fx.check(m) // s2's entries are 500s old, under the delay
	if st := r.f.Status(); st.Applied != s1.OpEnd.String() || !st.CaughtUp || st.LagSeconds != 1400 {
		t.Errorf("held back: %+v", st)
	}

	clock.set(at(T0 + 2000)) // s2's second is exactly 1000s old
	fx.waitThrough(r, s2.OpEnd)
	waitPolls(t, r, 5)
	m[3], m[1] = "c", "a2"
	fx.check(m)

	clock.set(at(T0 + 3000).Add(500 * time.Millisecond)) // half of s3
	fx.waitThrough(r, ts(T0+2000, 1))
	waitPolls(t, r, 5)
	m[4] = "d"
	fx.check(m)
	if st := r.f.Status(); st.Applied != ts(T0+2000, 1).String() || st.Segment != s2.Name {
		t.Errorf("half a segment applied: %+v", st)
	}

	clock.set(at(T0 + 3001))
	fx.waitThrough(r, s3.OpEnd)
	m[5] = "e"
	fx.check(m)
	if res, err := r.stop(t); err != nil || res.Through != s3.OpEnd {
		t.Fatalf("stop: %+v %v", res, err)
	}
}
