package follow

import (
	"errors"
	"strings"
	"testing"
)

// A follower restores what the store holds, then applies each new segment
// as it lands: inserts, updates, deletes, and a transaction whose entries
// span two segments, applied whole at its commit and not before. A stop
// commits and returns where the target is.
func TestFollowAppliesNewSegments(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	fx.put(inserts(t, m, 1, 10)...)
	s2 := fx.put(inserts(t, m, 11, 10)...)
	r := fx.start(nil)
	fx.waitThrough(r, s2.OpEnd)
	fx.check(m)

	s3 := fx.put(upd(t, ts(T0, 21), 3, "three"), del(t, ts(T0, 22), 4), txnPart(t, ts(T0, 23), ts(0, 0), 0, 100, 101))
	m[3] = "three"
	delete(m, 4)
	fx.waitThrough(r, s3.OpEnd)
	fx.check(m) // the transaction is open: none of it yet
	if st := r.f.Status(); st.OpenTxns != 1 || st.ResumePoint != ts(T0, 22).String() {
		t.Errorf("open transactions %d, resume point %s: want 1 and %s (before the transaction)", st.OpenTxns, st.ResumePoint, ts(T0, 22))
	}

	s4 := fx.put(txnPart(t, ts(T0, 24), ts(T0, 23), 3, 102), ins(t, ts(T0, 25), 200, "after"))
	m[100], m[101], m[102], m[200] = "txn", "txn", "txn", "after"
	fx.waitThrough(r, s4.OpEnd)
	fx.check(m)

	st := r.f.Status()
	if st.SegmentsApplied != 2 || st.EntriesApplied != 25 || !st.Ready || !st.CaughtUp || st.Segment != s4.Name {
		t.Errorf("status after 2 segments and 25 entries (20 by the initial restore): %+v", st)
	}
	res, err := r.stop(t)
	if err != nil || res.Reason != ReasonStopped || res.Through != s4.OpEnd {
		t.Fatalf("stop: %+v, %v; want stopped through %s", res, err, s4.OpEnd)
	}
}

// A second follower on the same checkpoint is refused while the first runs;
// a checkpoint made for another stream or target is refused with what to
// do; a directory holding something else is never used.
func TestFollowRefusesForeignCheckpoint(t *testing.T) {
	fx := newFixture(t)
	s1 := fx.put(inserts(t, model{}, 1, 3)...)
	r := fx.start(nil)
	fx.waitThrough(r, s1.OpEnd)
	second := fx.start(nil)
	if _, err := second.wait(t); err == nil || !strings.Contains(err.Error(), "lock") {
		t.Errorf("a second follower on a checkpoint in use: %v", err)
	}
	r.stop(t)

	other := fx.start(func(o *Options) { o.TargetName = "another" })
	_, err := other.wait(t)
	var me *MismatchError
	if !errors.As(err, &me) || me.What != "target" || !strings.Contains(err.Error(), "own --checkpoint") {
		t.Errorf("a checkpoint made for another target: %v", err)
	}
	other = fx.start(func(o *Options) { o.Stream = "rs1" })
	if _, err := other.wait(t); !errors.As(err, &me) || me.What != "stream" {
		t.Errorf("a checkpoint made for another stream: %v", err)
	}
	foreign := fx.start(func(o *Options) { o.CheckpointDir = t.TempDir() + "/x"; o.Stream = "" })
	foreign.wait(t) // a fresh directory is fine (and restores); a file is not:
	notDir := fx.start(func(o *Options) { o.CheckpointDir = fx.st.Root() + "/tidelog-store.json" })
	if _, err := notDir.wait(t); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("a file as the checkpoint: %v", err)
	}
}
