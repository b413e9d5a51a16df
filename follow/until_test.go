package follow

import (
	"errors"
	"testing"
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
