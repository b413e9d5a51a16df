package chaos

import (
	"context"
	"time"

	"github.com/tidelog/tidelog/internal/procs"
)

// storeOutage stops MinIO for a random time in the profile's range. Capture
// must go on into the spool (the mirror stays current) and tailerd must say
// the store fails. At a random moment of the outage tailerd is killed and
// started again: the new process cannot open the store; it retries, loudly,
// and gives up with exit 1 (which systemd retries) when the outage outlasts
// its retries, in which case it is started again once MinIO is back, as
// systemd would (see docs/reliability.md). Once
// MinIO is back the store must catch up with everything the spool held.
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
	// The new process meets the outage at its start: it must say so.
	r.waitForStart("the restarted tailerd to report the unreachable store", func() bool {
		return r.d.Logged("store request failed; retrying", "connection refused")
	})
	if rest := down - time.Since(began); rest > 0 {
		time.Sleep(rest) // the outage's length is the fault
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.st.minio.Restart(ctx); err != nil {
		r.t.Fatalf("restart MinIO: %v", err)
	}
	r.fig.outageTime += time.Since(began)
	if r.d.Exited() {
		if code := r.d.State().ExitCode(); code != 1 || !r.d.Logged("cannot use the store", "connection refused") {
			r.t.Fatalf("tailerd started during the store outage exited %d, want 1 (retried by systemd) saying it cannot use the store\n%s", code, procs.Tail(r.logPath, 20))
		}
		r.fig.refusedStarts++
		r.start()
	}
	r.catchUp("a store outage")
}
