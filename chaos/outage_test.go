package chaos

import (
	"context"
	"time"
)

// storeOutage stops MinIO for a random time in the profile's range. Capture
// must go on into the spool (the mirror stays current) and tailerd must say
// the store fails. At a random moment of the outage tailerd is killed and
// started again: the new process cannot open the store; it says so and
// waits, without exiting, however long the outage lasts (an exit would run
// into systemd's start limit). Once MinIO is back the store must catch up
// with everything the spool held.
func (r *run) storeOutage() {
	r.t.Helper()
	down := r.p.outageMin + time.Duration(r.rng.Int64N(int64(r.p.outageMax-r.p.outageMin)+1))
	// The fault is an outage under a running tailerd: one still starting
	// (after a kill just before, on a loaded machine) would meet it at its
	// start instead, which the kill inside the outage below covers.
	r.waitTailing()
	mark := r.logMark()
	began := time.Now()
	if err := r.st.minio.Stop(); err != nil {
		r.t.Fatalf("stop MinIO: %v", err)
	}
	r.fig.storeOutages++
	p, err := r.w.Record("store down")
	if err != nil {
		r.t.Fatal(err)
	}
	// The spool takes the segments: the mirror reaches a position written
	// after the store went down, while it is still down.
	r.waitFor("the mirror to pass "+p.TS.String()+" while the store is down", down+30*time.Second, func() bool {
		m, err := r.st.mirrorEnd(context.Background())
		return err == nil && !m.Before(p.TS)
	})
	r.waitFor("tailerd to report the store failing", time.Minute, func() bool {
		return r.loggedSince(mark, "store request failed; retrying", "connection refused")
	})
	r.killWithin(max(down-time.Since(began), 0))
	// The new process meets the outage at its start: it must say so, and wait.
	r.waitFor("the restarted tailerd to report the unreachable store and wait", time.Minute, func() bool {
		return r.d.Logged("the store cannot be reached; tailerd keeps trying and does not exit", "connection refused")
	})
	r.fig.storeWaits++
	if rest := down - time.Since(began); rest > 0 {
		time.Sleep(rest) // the outage's length is the fault
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.st.minio.Restart(ctx); err != nil {
		r.t.Fatalf("restart MinIO: %v", err)
	}
	r.fig.outageTime += time.Since(began)
	r.waitFor("the restarted tailerd to reach the store again", 2*time.Minute, func() bool {
		return r.d.Logged("the store can be reached again")
	})
	r.catchUp("a store outage")
}
