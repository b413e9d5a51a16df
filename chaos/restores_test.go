package chaos

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

// verdict is what a restore to a recorded point must do, decided from the
// gaps the run computed and the snapshots the store lists.
type verdict int

const (
	restorable verdict = iota
	inGap              // history there is lost
	noBase             // after a gap, before the new chain's first snapshot ends
)

func (v verdict) String() string {
	return [...]string{"restorable", "inside a gap", "after a gap, before its first snapshot"}[v]
}

// judge decides a point: in chain 0 (from the start of capture) every
// position is restorable; in a later chain only from the end of a snapshot
// that started in that chain.
func judge(ts oplog.Timestamp, gaps []gap, snaps []span) verdict {
	if inAnyGap(ts, gaps) {
		return inGap
	}
	var chainStart oplog.Timestamp
	chain := 0
	for _, g := range gaps {
		if !ts.Before(g.Next) {
			chain++
			chainStart = g.Next
		}
	}
	if chain == 0 {
		return restorable
	}
	for _, s := range snaps {
		if !s.From.Before(chainStart) && !ts.Before(s.To) {
			return restorable
		}
	}
	return noBase
}

// restoreAndCompare restores the store to p's position into a fresh target
// server and compares the target with p's recorded state.
func (r *run) restoreAndCompare(p point) error {
	dir, err := os.MkdirTemp(r.work, "target-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	target, err := testserver.Start(ctx, testserver.Options{Dir: dir, NoOplog: true})
	if err != nil {
		return err
	}
	defer target.Close()
	res, err := replayer(r.st.env(), "restore", "--store", r.st.loc(), "--target", target.URI, "--to", p.TS.String())
	if err != nil {
		return err
	}
	if res.Code != 0 {
		return fmt.Errorf("restore to %s (%s): %s", p.TS, p.Why, res)
	}
	c, err := target.Client()
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	got, err := workload.Dump(ctx, c)
	if err != nil {
		return err
	}
	if diff := workload.Diff(p.State, got); diff != "" {
		return fmt.Errorf("restore to %s (%s) differs from the state recorded then (%d documents):\n%s", p.TS, p.Why, p.State.Documents(), diff)
	}
	return nil
}

// restoreRefused checks that a restore to p's position into target is
// refused (exit 3) with a message naming the position and the gap: inside
// it, that the history there is lost; after it, that a snapshot is needed.
func (r *run) restoreRefused(p point, v verdict, target string) error {
	res, err := replayer(r.st.env(), "restore", "--store", r.st.loc(), "--target", target, "--to", p.TS.String())
	if err != nil {
		return err
	}
	want := "restorable only from a base snapshot taken after it"
	if v == inGap {
		want = p.TS.String() + " is inside a gap"
	}
	if res.Code != 3 || !strings.Contains(res.Stderr, p.TS.String()) || !strings.Contains(res.Stderr, want) {
		return fmt.Errorf("restore to %s (%s) should be refused with exit 3, naming the position and saying %q: %s", p.TS, p.Why, want, res)
	}
	return nil
}
