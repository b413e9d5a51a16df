package follow

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Killed after a cycle wrote entries up to some position and before its
// commit, a follower restarted with a horizon before that position (a
// smaller --until, a larger --delay) is refused before it writes: the
// target may hold writes past the new horizon, which no apply takes back,
// so going on would report the target at a position it has passed. Started
// again with a horizon at or after it, it finishes that apply.
func TestFollowRefusesHorizonBeforeUnfinishedCycle(t *testing.T) {
	at := func(sec uint32) time.Time { return time.Unix(int64(sec), 0) }
	for _, tc := range []struct {
		name string
		edit func(*Options)
		says string
	}{
		{"until", func(o *Options) { o.Until = ts(T0+100, 1) }, "--until " + ts(T0+200, 1).String() + " or later"},
		{"delay", func(o *Options) { o.Delay, o.Clock = 1000*time.Second, &fakeClock{now: at(T0 + 1150)} }, "wait 50s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			m := model{}
			s1 := fx.put(inserts(t, m, 1, 5)...)
			var kill atomic.Bool
			r := fx.start(func(o *Options) {
				o.beforeCommit = func(State) error {
					if kill.Load() {
						return errKilled
					}
					return nil
				}
			})
			fx.waitThrough(r, s1.OpEnd)
			kill.Store(true)
			s2 := fx.put(ins(t, ts(T0+100, 1), 6, "six"), upd(t, ts(T0+150, 1), 1, "one"), ins(t, ts(T0+200, 1), 7, "seven"))
			m[6], m[1], m[7] = "six", "one", "seven"
			if _, err := r.wait(t); !errors.Is(err, errKilled) {
				t.Fatalf("the follower was to be killed before its commit: %v", err)
			}
			fx.check(m) // the writes reached the target; the checkpoint does not say so

			r = fx.start(tc.edit)
			res, err := r.wait(t)
			var ue *UnfinishedCycleError
			if !errors.As(err, &ue) || ue.UpTo != s2.OpEnd || ue.Through != s1.OpEnd {
				t.Fatalf("restart with a horizon before what the cut cycle wrote: %+v, %v; want an *UnfinishedCycleError up to %s", res, err, s2.OpEnd)
			}
			for _, want := range []string{fx.ckpt, "may have written entries up to " + s2.OpEnd.String(), tc.says, "replayer restore --to"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q:\n%v", want, err)
				}
			}
			if st := r.f.Status(); st.Phase != "failed" {
				t.Errorf("status after the refusal: %+v", st)
			}
			fx.check(m)

			r = fx.start(nil)
			fx.waitThrough(r, s2.OpEnd)
			fx.check(m)
			if res, err := r.stop(t); err != nil || res.Through != s2.OpEnd {
				t.Fatalf("restart without the horizon: %+v, %v; want through %s", res, err, s2.OpEnd)
			}
		})
	}
}
