package chaos

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/internal/procs"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
)

// rollover takes tailerd down (SIGKILL) and writes a burst larger than the
// source's capped oplog, so that the oplog rolls past tailerd's checkpoint.
// The positions tailerd must report are computed here, independently: its
// last durable position L from the segments themselves (the last entry of
// the newest segment in the store and in the mirror, once the exiting
// tailerd has published what its spool held), the oldest entry O from the
// source. Then
// tailerd must exit 3 naming L and O, record that gap in the store, stop
// again without --accept-gap, and with it start a new chain at O; a fresh
// snapshot makes the new chain restorable.
func (r *run) rollover() {
	r.t.Helper()
	r.alive("before a rollover")
	if !r.d.Kill() {
		r.t.Fatalf("tailerd was not ended by SIGKILL (%s)", r.d.State())
	}
	// Nothing after this can be in tailerd's hands.
	down := r.newest()
	// The burst's first writes are the oldest: the trim takes them, so a
	// point recorded among them lies inside the gap.
	burst := int(r.p.oplogMax + r.p.oplogMax/4)
	if err := r.w.Burst(20, "inside the rollover gap"); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.w.Record("inside the rollover gap"); err != nil {
		r.t.Fatal(err)
	}
	if err := r.w.Burst(burst-20, "during the rollover burst"); err != nil {
		r.t.Fatal(err)
	}
	if err := r.w.Pause(); err != nil {
		r.t.Fatal(err)
	}
	// FerretDB trims the capped oplog every second: wait until it no longer
	// holds down, then until it is stable (nothing is written meanwhile).
	r.waitForSource("the oplog to roll past "+down.String(), func() bool { return r.oldest().After(down) })
	var oldest oplog.Timestamp
	var since time.Time
	r.waitForSource("the oplog to stop trimming", func() bool {
		o := r.oldest()
		if o != oldest {
			oldest, since = o, time.Now()
			return false
		}
		return time.Since(since) >= 3*time.Second
	})
	if _, err := r.w.Record("after the rollover, before the new chain's snapshot"); err != nil {
		r.t.Fatal(err)
	}

	// The first start may be killed while it finds and records the gap
	// (the checkpoint first, then the store): the next one must still
	// report the same gap.
	r.start()
	r.pause(0, 1500*time.Millisecond)
	if r.d.Kill() {
		r.fig.kills++
		r.fig.killsInFaults++
		r.start()
	}
	code, ok := r.d.Wait(2 * time.Minute)
	if !ok || code != 3 {
		r.t.Fatalf("tailerd after the oplog rolled past its checkpoint: exit %d (exited: %v), want 3 (gap)\n%s", code, ok, procs.Tail(r.logPath, 40))
	}
	durable := r.durableBefore(down)
	want := gap{After: durable, Next: oldest}
	if now := r.oldest(); now != oldest {
		r.t.Fatalf("the source's oldest entry moved from %s to %s with nothing written", oldest, now)
	}
	r.checkGapReported(want)
	c, err := list(r.st.env(), r.st.loc())
	if err != nil {
		r.t.Fatal(err)
	}
	if len(c.Gaps) != len(r.gaps)+1 || c.Gaps[len(c.Gaps)-1] != want {
		r.t.Fatalf("the store records gaps %v; want %v then %s", c.Gaps, r.gaps, want)
	}
	r.gaps = append(r.gaps, want)
	r.fig.rollovers++
	r.t.Logf("rollover %d: tailerd exit 3, gap %s (source's newest when tailerd went down: %s)", len(r.gaps), want, down)

	// The gap is not forgotten: a start without --accept-gap stops again.
	r.start()
	if code, ok := r.d.Wait(2 * time.Minute); !ok || code != 3 {
		r.t.Fatalf("second start after the gap without --accept-gap: exit %d (exited %v), want 3\n%s", code, ok, procs.Tail(r.logPath, 40))
	}
	r.checkGapReported(want)

	// The operator accepts the gap: a new chain from O, then a base snapshot.
	r.acceptGap = true
	mark := r.logMark()
	r.start()
	// Killed, it is started again with --accept-gap (a start after the new
	// chain's first segment ignores it); one of the two starts the chain.
	r.killWithin(2 * time.Second)
	r.waitTailing()
	if !r.loggedSince(mark, "--accept-gap: starting a new chain", `"from":"`+oldest.String()+`"`) {
		r.t.Errorf("tailerd --accept-gap did not say it starts the new chain at %s\n%s", oldest, procs.Tail(r.logPath, 20))
	}
	if err := r.d.Signal(syscall.SIGUSR1); err != nil {
		r.t.Fatal(err)
	}
	if err := r.w.Resume(); err != nil {
		r.t.Fatal(err)
	}
	r.catchUp("the new chain's start")
	r.acceptGap = false // the new chain has a segment: later starts need no --accept-gap
	r.poll("a snapshot of the new chain", 3*time.Minute, time.Second, true, func() bool {
		c, err := list(r.st.env(), r.st.loc())
		if err != nil {
			return false
		}
		for _, s := range c.Snapshots {
			if !s.From.Before(oldest) {
				return true
			}
		}
		return false
	})
}

// checkGapReported checks that this run of tailerd logged the gap with its
// exact positions: in the message (or the error of the line that stops
// capture, when the gap was already on record from a run killed after
// finding it), and in the after and next fields where the line has them.
func (r *run) checkGapReported(want gap) {
	r.t.Helper()
	holds, oldest := "no longer holds "+want.After.String(), "oldest entry is "+want.Next.String()
	found := false
	for _, l := range r.d.records(`"level":"error"`, "gap in stream") {
		text := l.Message + " " + l.Error
		if !strings.Contains(text, "gap in stream") {
			continue
		}
		if !strings.Contains(text, holds) || !strings.Contains(text, oldest) ||
			l.After != "" && l.After != want.After.String() || l.Next != "" && l.Next != want.Next.String() {
			r.t.Fatalf("tailerd reported the gap as %q (after %q, next %q); the store and the source say %s", text, l.After, l.Next, want)
		}
		found = true
	}
	if !found {
		r.t.Fatalf("tailerd exited 3 without logging the gap\n%s", procs.Tail(r.logPath, 40))
	}
}

// waitForSource polls a condition on the source with a bounded deadline
// (tailerd is down, so waitFor's liveness check does not apply).
func (r *run) waitForSource(what string, cond func() bool) {
	r.t.Helper()
	r.poll(what, 2*time.Minute, 100*time.Millisecond, false, cond)
}

// durableBefore is tailerd's last durable position, read from the segments:
// the ts of the last entry of the newest segment at or before down, in the
// store and in the mirror (which must agree).
func (r *run) durableBefore(down oplog.Timestamp) oplog.Timestamp {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary, err := r.st.primary(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	mirror, err := r.st.mirrorStore()
	if err != nil {
		r.t.Fatal(err)
	}
	var got []oplog.Timestamp
	keys, err := r.st.ring()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, st := range []store.Store{primary, mirror} {
		ts, err := lastEntryAtOrBefore(ctx, st, keys, down)
		if err != nil {
			r.t.Fatalf("%s: %v", st, err)
		}
		got = append(got, ts)
	}
	if got[0] != got[1] {
		r.t.Fatalf("after the gap's exit the store's last entry is %s and the mirror's %s: the spool did not publish everything", got[0], got[1])
	}
	return got[0]
}

// lastEntryAtOrBefore reads the newest segment ending at or before limit
// and returns the ts of its last entry.
func lastEntryAtOrBefore(ctx context.Context, st store.Store, keys *crypt.Keyring, limit oplog.Timestamp) (oplog.Timestamp, error) {
	names, err := st.Segments(ctx, stream)
	if err != nil {
		return oplog.Timestamp{}, err
	}
	for i := len(names) - 1; i >= 0; i-- {
		var last oplog.Timestamp
		_, err := readSegment(ctx, st, names[i], keys, func(raw bson.Raw) error {
			ts, err := oplog.EntryTS(raw)
			last = ts
			return err
		})
		if err != nil {
			return oplog.Timestamp{}, err
		}
		if !last.After(limit) {
			return last, nil
		}
	}
	return oplog.Timestamp{}, fmt.Errorf("no segment ends at or before %s", limit)
}
