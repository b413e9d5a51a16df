package follow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// A gap recorded in the store right after the last segment applied stops
// the follower with a *GapError that says what was lost and what to do;
// nothing after the gap is applied and the checkpoint stays where it was.
func TestFollowStopsAtGap(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 5)...)
	r := fx.start(nil)
	fx.waitThrough(r, s1.OpEnd)

	gap := store.Gap{After: s1.OpEnd, Next: ts(T0, 100), Detected: time.Now(), Reason: "the oplog rolled over"}
	if err := fx.st.PutGap(context.Background(), stream, gap); err != nil {
		t.Fatal(err)
	}
	fx.prev = segment.Link{} // tailerd --accept-gap: a new chain
	after := fx.put(ins(t, ts(T0, 100), 100, "after the gap"))

	_, err := r.wait(t)
	var ge *GapError
	if !errors.As(err, &ge) || ge.Segment != after.Name || ge.Gap.After != s1.OpEnd || ge.Through != s1.OpEnd {
		t.Fatalf("a gap in the store: %v; want a *GapError naming %s", err, after.Name)
	}
	for _, want := range []string{"gap after " + s1.OpEnd.String(), "rolled over", "snapshot", "move the --checkpoint directory aside", "--drop"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the gap error does not say %q:\n%v", want, err)
		}
	}
	fx.check(m)
	if st := r.f.Status(); st.Phase != "failed" || st.Ready || st.ApplyErrors != 1 {
		t.Errorf("status after the gap: %+v", st)
	}

	// A restart stops at the same place, before writing anything.
	r = fx.start(nil)
	if _, err := r.wait(t); !errors.As(err, &ge) {
		t.Fatalf("restart at a gap: %v", err)
	}
	fx.check(m)
}

// A segment that does not link to the one applied before it, with no gap
// recorded, is a broken chain (damage): a *ChainError matching
// segment.ErrCorrupt; so is a damaged segment. Nothing of either is applied.
func TestFollowStopsAtBrokenChain(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 5)...)
	r := fx.start(nil)
	fx.waitThrough(r, s1.OpEnd)
	fx.prev.Checksum ^= 1
	fx.put(ins(t, ts(T0, 6), 6, "six"))
	_, err := r.wait(t)
	var ce *ChainError
	if !errors.As(err, &ce) || !errors.Is(err, segment.ErrCorrupt) || !strings.Contains(err.Error(), "replayer verify") {
		t.Fatalf("a broken chain: %v", err)
	}
	fx.check(m)
}

// A segment whose bytes are damaged is refused before any of its entries
// is applied.
func TestFollowStopsAtDamagedSegment(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 5)...)
	r := fx.start(nil)
	fx.waitThrough(r, s1.OpEnd)

	w := segment.NewWriter(stream)
	w.Start(fx.prev)
	for _, e := range inserts(t, model{}, 6, 50) {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	info, data, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-40] ^= 0xff
	if err := fx.st.PutSegment(context.Background(), stream, info.Name, data); err != nil {
		t.Fatal(err)
	}
	if _, err := r.wait(t); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("a damaged segment: %v", err)
	}
	fx.check(m)
}

// Segments pruned (or deleted) right after the last one applied are not
// damage: the follower says they are gone and that the standby must start
// over, with ErrPruned (exit 3 in replayer), at once and after a restart.
func TestFollowStopsAtPrunedSegments(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 5)...)
	fx.followThrough(s1.OpEnd)

	s2 := fx.put(ins(t, ts(T0, 6), 6, "six"))
	fx.put(ins(t, ts(T0, 7), 7, "seven"))
	if err := fx.st.DeleteSegment(context.Background(), stream, s2.Name); err != nil {
		t.Fatal(err)
	}
	r := fx.start(nil)
	_, err := r.wait(t)
	if !errors.Is(err, ErrPruned) || errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("segments gone after the resume point: %v; want ErrPruned, not damage", err)
	}
	for _, want := range []string{"gone", s1.OpEnd.String(), "--drop"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	fx.check(m)
}

// A segment that stops the follower (after a gap, or not linked) and is
// fetched in the same cycle as segments before it that verify: those are
// applied and committed first, and the error reports where the target
// truly is, the newest entry applied, not the resume point the session
// started from (it lies before a transaction still open).
func TestFollowAppliesWhatItVerifiedBeforeAStop(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(fx *fixture, after segment.Info)
		check func(err error) (oplog.Timestamp, bool)
	}{
		{"gap", func(fx *fixture, after segment.Info) {
			gap := store.Gap{After: after.OpEnd, Next: ts(T0, 100), Detected: time.Now(), Reason: "the oplog rolled over"}
			if err := fx.st.PutGap(context.Background(), stream, gap); err != nil {
				fx.t.Fatal(err)
			}
			fx.prev = segment.Link{}
		}, func(err error) (oplog.Timestamp, bool) {
			var ge *GapError
			if !errors.As(err, &ge) {
				return oplog.Timestamp{}, false
			}
			return ge.Through, true
		}},
		{"broken chain", func(fx *fixture, _ segment.Info) { fx.prev.Checksum ^= 1 }, func(err error) (oplog.Timestamp, bool) {
			var ce *ChainError
			if !errors.As(err, &ce) {
				return oplog.Timestamp{}, false
			}
			return ce.Through, true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			m := model{}
			s1 := fx.put(inserts(t, m, 1, 5)...)
			fx.followThrough(s1.OpEnd)
			// One listing shows both: the next start fetches them in one cycle.
			s2 := fx.put(txnPart(t, ts(T0, 6), ts(0, 0), 0, 100), ins(t, ts(T0, 7), 7, "v7"), ins(t, ts(T0, 8), 8, "v8"))
			m[7], m[8] = "v7", "v8"
			tc.spoil(fx, s2)
			fx.put(ins(t, ts(T0, 100), 100, "after"))

			r := fx.start(nil)
			_, err := r.wait(t)
			through, ok := tc.check(err)
			if !ok || through != s2.OpEnd || !strings.Contains(err.Error(), "holds the stream through "+s2.OpEnd.String()) {
				t.Fatalf("stopped after %s: %v (through %s); want the error saying the target holds the stream through %s", tc.name, err, through, s2.OpEnd)
			}
			fx.check(m)
			if st := loadState(t, fx); st.Through != s2.OpEnd || st.Applied != s1.OpEnd || st.Segment != s2.Name {
				t.Fatalf("checkpoint: %+v; want through %s (segment %s), resume point %s before the open transaction", st, s2.OpEnd, s2.Name, s1.OpEnd)
			}
		})
	}
}
