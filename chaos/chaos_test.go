package chaos

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tidelog/tidelog/internal/procs"
	"github.com/tidelog/tidelog/internal/testserver"
)

// TestChaos is the chaos run: see the package comment and docs/reliability.md.
func TestChaos(t *testing.T) {
	p, seed, err := runProfile()
	if err != nil {
		t.Fatal(err)
	}
	r := &run{t: t, p: p, seed: seed, rng: rand.New(rand.NewPCG(seed, 1)), began: time.Now(), work: t.TempDir()}
	r.fsDir = filepath.Join(r.work, "spoolfs")
	if err := mountSmallFS(t, r.fsDir, p.spoolFSMiB); err == errMountPermission {
		rerunInUserNS(t)
		return
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("chaos %s run, seed %d (CHAOS_SEED=%d replays the schedule)", p.name, seed, seed)
	r.setUp()
	r.inject()
	r.finish()
	r.check()
	t.Log(r.fig.line(p, seed, time.Since(r.began)))
}

// setUp starts the source, MinIO and tailerd, and the writer.
func (r *run) setUp() {
	t := r.t
	r.spool = filepath.Join(r.fsDir, "spool")
	r.ckpt = filepath.Join(r.work, "checkpoint")
	r.logPath = filepath.Join(r.work, "tailerd.log")
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("CHAOS_KEEP_LOG") != "" {
			t.Logf("tailerd's log is kept at %s", keepLog(r.logPath))
		}
	})
	var err error
	if r.httpAddr, err = freePort(); err != nil {
		t.Fatal(err)
	}
	r.src = testserver.StartT(t, testserver.Options{OplogMax: r.p.oplogMax, CappedCleanup: time.Second})
	if r.client, err = r.src.Client(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.client.Disconnect(context.Background()) })
	r.st = &stores{minio: testserver.StartMinIOT(t, testserver.MinIOOptions{}), prefix: "prod/rs0", mirror: filepath.Join(r.work, "mirror")}
	r.st.rotate() // the first key
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.st.minio.MakeBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	// The database has data before the backup starts, as in production.
	r.w = newWriter(r.src, r.client, r.seed, r.p.writeRate, r.p.recordGap)
	go r.w.run()
	t.Cleanup(r.w.Close)
	r.pause(time.Second, time.Second)
	r.start()
	t.Cleanup(func() { r.d.Kill() })
	r.waitTailing()
	r.pause(2*time.Second, 2*time.Second) // some history before the first fault
	r.catchUp("the start")
}

// schedule is the run's faults in a random order: kills, source restarts,
// store outages and disk-full episodes shuffled, the rollovers spread
// through them so that there is history before and after each.
func (r *run) schedule() []string {
	var evs []string
	add := func(n int, name string) {
		for range n {
			evs = append(evs, name)
		}
	}
	add(r.p.kills, "kill")
	add(r.p.sourceRestarts, "source restart")
	add(r.p.storeOutages, "store outage")
	add(r.p.diskFulls, "disk full")
	r.rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	for k := r.p.rollovers; k >= 1; k-- {
		at := len(evs) * k / (r.p.rollovers + 1)
		evs = slices.Insert(evs, at, "rollover")
	}
	// One key rotation, mid-run, so that both keys seal a good share.
	return slices.Insert(evs, len(evs)/2, "key rotation")
}

// inject runs the schedule. Capture must catch up after every fault but
// kills (and after every fifth kill): a run that stops progressing fails
// there, naming the fault.
func (r *run) inject() {
	evs := r.schedule()
	kills := 0
	for i, ev := range evs {
		r.t.Logf("%6.1fs fault %d/%d: %s", time.Since(r.began).Seconds(), i+1, len(evs), ev)
		switch ev {
		case "kill":
			r.killAtRandom()
			if kills++; kills%5 == 0 {
				r.catchUp("five kills")
			}
		case "source restart":
			r.restartSource()
		case "store outage":
			r.storeOutage()
		case "disk full":
			r.diskFull()
		case "rollover":
			r.rollover()
		case "key rotation":
			r.rotateKey()
		}
		r.alive("after " + ev)
		r.pause(r.p.calmMin, r.p.calmMax)
	}
}

// finish stops the writer at a last recorded point, lets capture catch up
// and stops tailerd cleanly.
func (r *run) finish() {
	if err := r.w.Pause(); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.w.Record("the end"); err != nil {
		r.t.Fatal(err)
	}
	r.catchUp("the end")
	if code, ok := r.d.Stop(time.Minute); !ok || code != 0 {
		r.t.Fatalf("tailerd on SIGTERM at the end: exit %d (exited %v), want 0\n%s", code, ok, procs.Tail(r.logPath, 40))
	}
	r.w.Close()
}
