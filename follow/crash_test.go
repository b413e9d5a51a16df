package follow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

var errKilled = errors.New("simulated kill")

// Killed after the target acknowledged a cycle's writes and before the
// checkpoint commit, a follower restarts from its last commit: it reads
// again from the resume point, which lies before a transaction open there,
// so the transaction (begun in a committed segment, committed in the one
// whose commit was lost) is rebuilt and applied whole, the writes made
// after the commit are made again, and the target ends equal to the source
// with nothing doubled or lost.
func TestFollowResumesAfterKillBetweenApplyAndCommit(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	s1 := fx.put(inserts(t, m, 1, 10)...)
	var kill atomic.Bool
	r := fx.start(func(o *Options) {
		o.beforeCommit = func(s State) error {
			if kill.Load() {
				return errKilled
			}
			return nil
		}
	})
	fx.waitThrough(r, s1.OpEnd)

	// A transaction begins and stays open across the commit of s2.
	s2 := fx.put(txnPart(t, ts(T0, 11), ts(0, 0), 0, 100, 101), upd(t, ts(T0, 12), 1, "one"), ins(t, ts(T0, 13), 50, "fifty"))
	m[1], m[50] = "one", "fifty"
	fx.waitThrough(r, s2.OpEnd)

	// s3 commits it, deletes a document and re-inserts another: the kill
	// comes after these writes reached the target, before the commit.
	kill.Store(true)
	s3 := fx.put(txnPart(t, ts(T0, 14), ts(T0, 11), 3, 102), del(t, ts(T0, 15), 50), del(t, ts(T0, 16), 2), ins(t, ts(T0, 17), 2, "two again"),
		upd(t, ts(T0, 18), 100, "changed in txn doc"), upd(t, ts(T0, 19), 3, "three"))
	m[100], m[101], m[102], m[2], m[3] = "changed in txn doc", "txn", "txn", "two again", "three"
	delete(m, 50)
	if _, err := r.wait(t); !errors.Is(err, errKilled) {
		t.Fatalf("the follower was to be killed before its commit: %v", err)
	}
	fx.check(m) // the writes reached the target; the checkpoint does not say so

	ck, err := OpenCheckpoint(fx.ckpt, fx.log.Logger())
	if err != nil {
		t.Fatal(err)
	}
	state, _, err := ck.Load()
	if err != nil || state.Segment != s2.Name || state.Applied != ts(T0, 10) || state.Through != s2.OpEnd {
		t.Fatalf("checkpoint after the kill: %+v, %v; want segment %s, resume point before the transaction", state, err, s2.Name)
	}
	// The journal holds the pre-images of what the lost cycle wrote (the
	// documents that existed: 2, 3 and 50), and of those named after the
	// resume point, which lies before the transaction (1); and the newest
	// entry the lost cycle applied.
	j, err := ck.Journal()
	ck.Close()
	var ids []int32
	for _, p := range j.pre {
		ids = append(ids, p.Doc.Lookup("_id").Int32())
	}
	slices.Sort(ids)
	if err != nil || !slices.Equal(ids, []int32{1, 2, 3, 50}) || j.upTo != s3.OpEnd {
		t.Fatalf("journal after the kill: ids %v, up to %s, %v; want 1, 2, 3, 50 up to %s", ids, j.upTo, err, s3.OpEnd)
	}
	// A write cut short on FerretDB (deleteMany done, insertMany not) leaves
	// an updated document absent: the restart puts it back before applying
	// its update again.
	if _, err := fx.client.Database("d").Collection("c").DeleteOne(context.Background(), bson.D{{Key: "_id", Value: int32(3)}}); err != nil {
		t.Fatal(err)
	}

	r = fx.start(nil)
	fx.waitThrough(r, s3.OpEnd)
	fx.check(m)
	if !strings.Contains(fx.log.String(), `"put_back":2`) {
		t.Errorf("the restart did not put back the absent documents (3, and 50, deleted again since):\n%s", fx.log)
	}
	st := r.f.Status()
	if st.EntriesApplied != 6 || st.SegmentsApplied != 1 || st.OpenTxns != 0 {
		t.Errorf("after the restart: entries %d segments %d open %d; want 6 new entries, 1 new segment (what was read again is not counted twice), 0 open",
			st.EntriesApplied, st.SegmentsApplied, st.OpenTxns)
	}
}
