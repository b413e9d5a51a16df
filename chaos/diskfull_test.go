package chaos

import (
	"context"
	"strings"
	"time"

	"github.com/tidelog/tidelog/oplog"
)

// diskFull fills the spool's filesystem until writes fail with ENOSPC and
// holds it full. tailerd must say so, loudly (log and `tailerd status`),
// and pause: nothing new reaches the stores while the source goes on. Half
// way, tailerd is killed and started again on the full disk: the new
// process must start, report the full disk and pause too. Once space is
// freed capture must resume by itself and catch up; that nothing was lost
// or damaged is proven at the end (entries, verify, restores).
func (r *run) diskFull() {
	r.t.Helper()
	filler, size, err := fillFS(r.fsDir)
	if err != nil {
		r.t.Fatalf("fill the spool's filesystem: %v", err)
	}
	r.fig.diskFulls++
	r.holdFull(r.p.diskFullHold / 2)
	r.killWithin(time.Second)
	// The restart may free a crashed write's temporary file: fill again.
	if _, _, err := fillFS(r.fsDir); err != nil {
		r.t.Fatalf("fill the spool's filesystem again: %v", err)
	}
	stable := r.holdFull(r.p.diskFullHold / 2)
	out, err := r.status()
	if err != nil || !strings.Contains(out, "WARNING") {
		r.t.Errorf("tailerd status with the spool's disk full: %v, want WARNING lines\n%s", err, out)
	}
	r.t.Logf("disk full: %d MiB filler; the stores held at %s", size>>20, stable)
	if err := freeFS(filler); err != nil {
		r.t.Fatal(err)
	}
	r.catchUp("the spool's disk was freed")
}

// holdFull waits for this run of tailerd to report the full disk and for
// the mirror to stop advancing, then holds the disk full for d and checks
// that the mirror stayed where it was while the source went on.
func (r *run) holdFull(d time.Duration) oplog.Timestamp {
	r.t.Helper()
	r.waitFor("tailerd to report the full disk", time.Minute, func() bool {
		return r.d.Logged("store write failed", "no space left on device")
	})
	// What the spool held before the disk filled may still reach the
	// mirror; then nothing moves.
	ctx := context.Background()
	var stable oplog.Timestamp
	var since time.Time
	r.waitFor("the mirror to stop advancing with the disk full", time.Minute, func() bool {
		m, err := r.st.mirrorEnd(ctx)
		if err != nil {
			return false
		}
		if m != stable || since.IsZero() {
			stable, since = m, time.Now()
			return false
		}
		return time.Since(since) >= 3*time.Second
	})
	held := r.newest()
	time.Sleep(d) // the episode's length is the fault
	r.alive("with the spool's disk full")
	after, err := r.st.mirrorEnd(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	if after != stable {
		r.t.Errorf("the mirror advanced from %s to %s with the spool's disk full: capture did not pause", stable, after)
	}
	if !r.newest().After(held) {
		r.t.Errorf("the source did not advance during the disk-full episode: the pause proves nothing")
	}
	return stable
}
