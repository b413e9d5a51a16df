package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/tidelog/tidelog/internal/procs"
)

// alive fails the run if tailerd exited by itself or the writer failed.
func (r *run) alive(when string) {
	r.t.Helper()
	if r.d.Exited() {
		r.t.Fatalf("%s: tailerd exited by itself (%s)\n%s", when, r.d.State(), procs.Tail(r.logPath, 40))
	}
	if r.w == nil {
		return
	}
	if err := r.w.Err(); err != nil {
		r.t.Fatalf("%s: writer: %v", when, err)
	}
}

// waitFor polls cond every 100 ms until it holds, failing the run after
// limit or when tailerd dies.
func (r *run) waitFor(what string, limit time.Duration, cond func() bool) {
	r.t.Helper()
	r.poll(what, limit, 100*time.Millisecond, true, cond)
}

// poll checks cond every interval until it holds, failing the run after
// limit or, with live, when tailerd dies or the writer fails.
func (r *run) poll(what string, limit, every time.Duration, live bool, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if live {
			r.alive("waiting for " + what)
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("waited %s for %s\n%s", limit, what, procs.Tail(r.logPath, 40))
		}
		time.Sleep(every)
	}
}

// catchUp waits until both destinations hold the source's newest entry of
// now: capture, the spool and both publishers all progress. A run that
// does not within the profile's bound has hung.
func (r *run) catchUp(after string) {
	r.t.Helper()
	target := r.newest()
	began := time.Now()
	ctx := context.Background()
	r.poll(fmt.Sprintf("both stores to reach %s after %s (a hang?)", target, after), r.p.catchUp, 250*time.Millisecond, true, func() bool {
		p, err := r.st.primaryEnd(ctx)
		if err != nil || p.Before(target) {
			return false
		}
		m, err := r.st.mirrorEnd(ctx)
		return err == nil && !m.Before(target)
	})
	r.fig.noteCatchUp(time.Since(began))
}

// pause lets the writer write for a random time in [lo, hi]: the time
// between two faults, or before a kill. It is the schedule, not a wait
// for a condition.
func (r *run) pause(lo, hi time.Duration) {
	d := lo
	if hi > lo {
		d += time.Duration(r.rng.Int64N(int64(hi - lo)))
	}
	time.Sleep(d)
}
