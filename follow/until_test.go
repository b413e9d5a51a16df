package follow

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// --until applies every entry up to it and nothing after, waits while the
// store does not reach it yet, then returns where it stopped. A later
// --until goes on from there; an earlier one is refused.
func TestFollowUntil(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 10)...)
	until := ts(T0, 15)
	r := fx.start(func(o *Options) { o.Until = until })
	fx.waitThrough(r, s1.OpEnd)
	waitPolls(t, r, 5)
	select {
	case <-r.done:
		t.Fatalf("returned before the store reached --until: %+v %v", r.res, r.err)
	default:
	}

	fx.put(inserts(t, m, 11, 10)...) // 11..20; only 11..15 are wanted
	res, err := r.wait(t)
	if err != nil || res.Reason != ReasonUntil || res.Through != until {
		t.Fatalf("--until %s: %+v, %v", until, res, err)
	}
	for i := int32(16); i <= 20; i++ {
		delete(m, i)
	}
	fx.check(m)

	// Until between two segments: the next one, beginning after it, proves
	// nothing more is to come.
	fx.put(inserts(t, model{}, 30, 2)...)
	r = fx.start(func(o *Options) { o.Until = ts(T0, 25) })
	res, err = r.wait(t)
	if err != nil || res.Reason != ReasonUntil || res.Through != ts(T0, 20) {
		t.Fatalf("--until between segments: %+v, %v; want through %s", res, err, ts(T0, 20))
	}
	for i := int32(16); i <= 20; i++ {
		m[i] = "v" + itoa(i)
	}
	fx.check(m)
	// Again: the one cycle fetches the segment past --until and hands no
	// entry to the applier. The resume point stays where it was, not zero
	// (from which a restart would read the whole stream again).
	r = fx.start(func(o *Options) { o.Until = ts(T0, 25) })
	if res, err := r.wait(t); err != nil || res.Reason != ReasonUntil || res.Through != ts(T0, 20) || res.Applied != ts(T0, 20) {
		t.Fatalf("--until between segments again: %+v, %v; want through and resume point %s", res, err, ts(T0, 20))
	}
	if st := loadState(t, fx); st.Applied != ts(T0, 20) || st.Through != ts(T0, 20) {
		t.Fatalf("checkpoint after --until between segments: resume point %s, through %s; want both %s", st.Applied, st.Through, ts(T0, 20))
	}

	r = fx.start(func(o *Options) { o.Until = ts(T0, 12) })
	_, err = r.wait(t)
	var pe *PastUntilError
	if !errors.As(err, &pe) {
		t.Fatalf("--until before what the target holds: %v", err)
	}
}

// On a first start --until before the newest position restores to it.
func TestFollowUntilOnFirstStart(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	fx.put(inserts(t, m, 1, 10)...)
	fx.put(inserts(t, model{}, 11, 10)...)
	r := fx.start(func(o *Options) { o.Until = ts(T0, 7) })
	res, err := r.wait(t)
	if err != nil || res.Reason != ReasonUntil || res.Through != ts(T0, 7) {
		t.Fatalf("--until on a first start: %+v, %v", res, err)
	}
	for i := int32(8); i <= 10; i++ {
		delete(m, i)
	}
	fx.check(m)
}

// loadState reads the checkpoint of a follower that has returned.
func loadState(t *testing.T, fx *fixture) State {
	t.Helper()
	ck, err := OpenCheckpoint(fx.ckpt, fx.log.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	st, ok, err := ck.Load()
	if err != nil || !ok {
		t.Fatalf("checkpoint: %v, committed %v", err, ok)
	}
	return st
}

// --until at the end of a chain's last segment (the store records a gap
// after it, and the next segment starts a new chain) is reached once that
// segment is applied: the segment after the gap proves nothing, the chain
// already reaches --until, and fetching it would stop the follower at the
// gap. So on a restart that applies that segment, and on a first start
// whose restore ends there.
func TestFollowUntilAtTheEndOfAChain(t *testing.T) {
	for _, first := range []bool{false, true} {
		name := map[bool]string{false: "restart", true: "first start"}[first]
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			m := model{}
			s1 := fx.put(inserts(t, m, 1, 3)...)
			if !first {
				fx.followThrough(s1.OpEnd)
			}
			end := fx.put(inserts(t, m, 4, 2)...) // the chain's last segment
			gap := store.Gap{After: end.OpEnd, Next: ts(T0, 100), Detected: time.Now(), Reason: "the oplog rolled over"}
			if err := fx.st.PutGap(context.Background(), stream, gap); err != nil {
				t.Fatal(err)
			}
			fx.prev = segment.Link{}
			fx.put(ins(t, ts(T0, 100), 100, "after the gap"))

			r := fx.start(func(o *Options) { o.Until = end.OpEnd })
			res, err := r.wait(t)
			if err != nil || res.Reason != ReasonUntil || res.Through != end.OpEnd {
				t.Fatalf("--until %s at the end of the chain: %+v, %v; want reached", end.OpEnd, res, err)
			}
			fx.check(m)
		})
	}
}

// --until inside the newest segment of a chain whose store records a late
// entry after --until (tailerd found it missing once it had read past it)
// is reached: the target is the source at --until, which the missing
// entry, later, does not touch.
func TestFollowUntilBeforeALateEntry(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 3)...)
	fx.followThrough(s1.OpEnd)
	s2 := fx.put(ins(t, ts(T0, 4), 4, "v4"), ins(t, ts(T0, 6), 6, "v6"), ins(t, ts(T0, 7), 7, "v7"))
	late := ts(T0, 5)
	gap := store.Gap{After: s2.OpEnd, Next: s2.OpEnd.Next(), Detected: time.Now(), Reason: "late entry", Late: &late}
	if err := fx.st.PutGap(context.Background(), stream, gap); err != nil {
		t.Fatal(err)
	}
	m[4] = "v4"
	r := fx.start(func(o *Options) { o.Until = ts(T0, 4) })
	res, err := r.wait(t)
	if err != nil || res.Reason != ReasonUntil || res.Through != ts(T0, 4) {
		t.Fatalf("--until before the late entry %s: %+v, %v; want reached", late, res, err)
	}
	fx.check(m)
}
