package follow

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
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

// The position a cut cycle may have written up to stays recorded until a
// commit passes it, not only until the next cycle: a restart re-reads
// from a resume point held back by an open transaction, and its first
// cycles end at a namespace command it applied before, well before where
// the cut cycle wrote. Had their journal and commit dropped that position,
// a later start with --until inside what the cut cycle wrote would have
// reported it reached, the target holding entries after it.
func TestFollowKeepsUnfinishedCycleAcrossEarlierCycles(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 5)...)
	var kill atomic.Bool
	var commits atomic.Int32
	hook := func(o *Options) {
		o.beforeCommit = func(State) error {
			if kill.Load() && commits.Add(1) > 1 {
				return errKilled
			}
			return nil
		}
	}
	r := fx.start(hook)
	fx.waitThrough(r, s1.OpEnd)
	// A transaction left open holds the resume point at s1's end; the
	// create ends a cycle of its own wherever it is re-read.
	create := raw(t, bson.D{{Key: "ts", Value: ts(T0, 7).BSON()}, {Key: "op", Value: "c"}, {Key: "ns", Value: "d.$cmd"},
		{Key: "o", Value: bson.D{{Key: "create", Value: "x"}}}})
	s2 := fx.put(txnPart(t, ts(T0, 6), ts(0, 0), 0, 100), create, ins(t, ts(T0, 8), 8, "v8"))
	m[8] = "v8"
	fx.waitThrough(r, s2.OpEnd)
	kill.Store(true)
	commits.Store(1) // the next commit is the cut one
	cut := fx.put(inserts(t, model{}, 9, 4)...)
	if _, err := r.wait(t); !errors.Is(err, errKilled) {
		t.Fatalf("the follower was to be killed before its commit: %v", err)
	}

	// Restarted, it commits the re-read transaction entry's cycle, then is
	// killed before the next (the create's) commits.
	commits.Store(0)
	r = fx.start(hook)
	if _, err := r.wait(t); !errors.Is(err, errKilled) {
		t.Fatalf("the restart was to be killed at its second commit: %v", err)
	}
	if st := loadState(t, fx); st.Through != s2.OpEnd || st.Applied != s1.OpEnd {
		t.Fatalf("checkpoint after the restart: %+v; want through %s, resume point %s", st, s2.OpEnd, s1.OpEnd)
	}

	kill.Store(false)
	r = fx.start(func(o *Options) { o.Until = ts(T0, 10) })
	res, err := r.wait(t)
	var ue *UnfinishedCycleError
	if !errors.As(err, &ue) || ue.UpTo != cut.OpEnd {
		t.Fatalf("--until %s inside what the cut cycle wrote (up to %s): %+v, %v; want an *UnfinishedCycleError", ts(T0, 10), cut.OpEnd, res, err)
	}

	r = fx.start(nil)
	fx.waitThrough(r, cut.OpEnd)
	for i := int32(9); i <= 12; i++ {
		m[i] = "v" + itoa(i)
	}
	fx.check(m)
	if _, err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	ck, err := OpenCheckpoint(fx.ckpt, fx.log.Logger())
	if err != nil {
		t.Fatal(err)
	}
	j, err := ck.Journal()
	ck.Close()
	if err != nil || !j.upTo.IsZero() || len(j.pre) != 0 {
		t.Fatalf("journal once a commit passed the cut cycle: %+v, %v; want none", j, err)
	}
}
