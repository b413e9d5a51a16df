package chaos

import (
	"context"
	"time"

	"github.com/tidelog/tidelog/internal/procs"
)

// killAtRandom lets tailerd run for a random time (from its start, or from
// the last event: any moment of its life, starting up included), SIGKILLs
// it and starts it again, as systemd's Restart=on-failure would.
func (r *run) killAtRandom() {
	r.t.Helper()
	r.pause(0, r.p.killAfterMax)
	r.alive("before a kill")
	if !r.d.Kill() {
		r.t.Fatalf("tailerd was not ended by SIGKILL (%s)\n%s", r.d.State(), procs.Tail(r.logPath, 40))
	}
	r.fig.kills++
	r.start()
}

// restartSource restarts FerretDB (same port and data) under tailerd. The
// writer pauses across it, so that every write is acknowledged or not sent:
// the model stays exact. tailerd must ride it out without exiting.
func (r *run) restartSource() {
	r.t.Helper()
	if err := r.w.Pause(); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.src.Restart(ctx); err != nil {
		r.t.Fatalf("restart the source: %v", err)
	}
	r.fig.sourceRestarts++
	if err := r.w.Resume(); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.w.Record("after a source restart"); err != nil {
		r.t.Fatal(err)
	}
	r.alive("after a source restart")
	r.catchUp("a source restart")
}

// killWithin SIGKILLs tailerd at a random moment in the next d (the
// fault's remaining time) and starts it again at once; it returns when the
// new process has started.
func (r *run) killWithin(d time.Duration) {
	r.t.Helper()
	r.pause(0, d)
	r.alive("before a kill inside a fault")
	if !r.d.Kill() {
		r.t.Fatalf("tailerd was not ended by SIGKILL (%s)", r.d.State())
	}
	r.fig.kills++
	r.fig.killsInFaults++
	r.start()
}

// rotateKey restarts tailerd, as an operator would (SIGTERM, then a start),
// with a new key first in its ring: from then on it seals with the new key,
// and everything sealed with the old one stays readable with it.
func (r *run) rotateKey() {
	r.t.Helper()
	// A SIGTERM before tailerd has set up its signal handling (a start
	// still under way after a kill just before, on a loaded machine) would
	// end it with the signal's default action: wait until it runs.
	r.waitTailing()
	if code, ok := r.d.Stop(time.Minute); !ok || code != 0 {
		r.t.Fatalf("tailerd on SIGTERM for a key rotation: exit %d (exited %v), want 0\n%s", code, ok, procs.Tail(r.logPath, 40))
	}
	r.st.rotate()
	r.fig.keyRotations++
	r.start()
	r.catchUp("a key rotation")
}
