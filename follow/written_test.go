package follow

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// Killed before a commit while a transaction opened before a rename of
// d.a to d.b is still open, a follower restarts from a resume point
// before the transaction, so before the rename; and d.a was created again
// after the rename. The checkpoint's written position keeps the restart
// from running the rename again (which would replace d.b, the renamed
// collection, with the new d.a): it ends equal to the source.
func TestFollowRestartRunsNoRenameTwice(t *testing.T) {
	fx := newFixture(t)
	m := model{}
	s1 := fx.put(append(inserts(t, m, 1, 3), insIn(t, "d.a", ts(T0, 4), 1, "a1"), insIn(t, "d.a", ts(T0, 5), 2, "a2"))...)
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

	// The transaction opens; d.a becomes d.b (a cycle of its own) and d.a
	// is created again by an insert.
	rename := renameEntry(t, ts(T0, 12), "d.a", "d.b", false)
	s2 := fx.put(txnPart(t, ts(T0, 11), ts(0, 0), 0, 100), rename, insIn(t, "d.a", ts(T0, 13), 3, "new a"))
	fx.waitThrough(r, s2.OpEnd)

	// s3 commits the transaction; the kill comes after its writes reached
	// the target, before the commit.
	kill.Store(true)
	s3 := fx.put(txnPart(t, ts(T0, 14), ts(T0, 11), 2, 101), upd(t, ts(T0, 15), 1, "one"))
	m[100], m[101], m[1] = "txn", "txn", "one"
	if _, err := r.wait(t); !errors.Is(err, errKilled) {
		t.Fatalf("the follower was to be killed before its commit: %v", err)
	}
	ck, err := OpenCheckpoint(fx.ckpt, fx.log.Logger())
	if err != nil {
		t.Fatal(err)
	}
	state, _, err := ck.Load()
	ck.Close()
	if err != nil || state.Applied != ts(T0, 10) || state.Written != s2.OpEnd {
		t.Fatalf("checkpoint after the kill: %+v, %v; want resume point %s (before the transaction), written %s", state, err, ts(T0, 10), s2.OpEnd)
	}

	r = fx.start(nil)
	fx.waitThrough(r, s3.OpEnd)
	fx.check(m)
	for ns, want := range map[string]string{"d.a": "[3=new a]", "d.b": "[1=a1 2=a2]"} {
		if got := fmt.Sprint(fx.docsIn(ns)); got != want {
			t.Errorf("target %s: %s, want %s (the rename ran twice?)\n%s", ns, got, want, fx.log)
		}
	}
	if st := r.f.Status(); st.OpenTxns != 0 {
		t.Errorf("after the restart: %d transactions open, want 0", st.OpenTxns)
	}
}

// The state keeps Written; a checkpoint written before tidelog kept it
// decodes with Written zero (every entry after Applied written again).
func TestStateKeepsWritten(t *testing.T) {
	s := State{Store: "dir", Stream: stream, Target: "t", Phase: PhaseFollowing, Applied: ts(T0, 5), Written: ts(T0, 13), Through: ts(T0, 13)}
	b, err := encodeState(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"written":"1700000000.13"`) {
		t.Errorf("encoded state lacks written: %s", b)
	}
	got, err := decodeState(b)
	if err != nil || got.Written != s.Written || got.Applied != s.Applied {
		t.Fatalf("decoded %+v, %v; want written %s, applied %s", got, err, s.Written, s.Applied)
	}
	old := `{"version":1,"store":"dir","stream":"rs0","target":"t","phase":"following","applied":"1700000000.5","through":"1700000000.13","committed":"2024-01-01T00:00:00Z"}`
	got, err = decodeState([]byte(old))
	if err != nil || !got.Written.IsZero() || got.Applied != ts(T0, 5) {
		t.Fatalf("an older state: %+v, %v; want written zero, applied %s", got, err, ts(T0, 5))
	}
}
