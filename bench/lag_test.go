package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/follow"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
	"github.com/tidelog/tidelog/tailer"
)

// BenchmarkLag measures what a standby's operator cares about: how long
// after a write returns to its client the write is in a stored segment
// (write→segment) and applied to the standby (write→applied: the target
// acknowledged it and the follower committed it). A writer inserts at a
// steady rate into a FerretDB source; a tailer cuts segments into a
// directory store; a follower applies them to a second FerretDB.
//
//	go test -run='^$' -bench=Lag -benchtime=1x -timeout=30m ./bench
//
// LAG_RATE (writes/s, default 500) and LAG_SECONDS (default 60) change the
// load. The sub-benchmarks run side by side: two tailer cut ages (the knob
// that trades objects per hour for lag) onto a PostgreSQL-backed FerretDB
// target, and the short cut onto a SQLite-backed one. Reported:
// p50, p99 and max of each latency, in milliseconds, over every write
// after the first 5 s (the follower's initial restore).
//
// Positions are sampled every 5 ms from the tailer's and the follower's own
// figures (Stats, Status) and matched to each write's oplog ts afterwards,
// so the measurement adds no query to either server.
func BenchmarkLag(b *testing.B) {
	rate := envInt(b, "LAG_RATE", 500)
	seconds := envInt(b, "LAG_SECONDS", 60)
	for _, c := range []struct {
		cut    time.Duration
		target string
	}{{200 * time.Millisecond, "postgresql"}, {time.Second, "postgresql"}, {200 * time.Millisecond, "sqlite"}} {
		b.Run(fmt.Sprintf("cut=%s/target=%s", c.cut, c.target), func(b *testing.B) {
			for range b.N {
				r := runLag(b, rate, time.Duration(seconds)*time.Second, c.cut, c.target == "postgresql")
				seg, app := r.percentiles(5 * time.Second)
				b.ReportMetric(ms(seg[0]), "seg-p50-ms")
				b.ReportMetric(ms(seg[1]), "seg-p99-ms")
				b.ReportMetric(ms(seg[2]), "seg-max-ms")
				b.ReportMetric(ms(app[0]), "applied-p50-ms")
				b.ReportMetric(ms(app[1]), "applied-p99-ms")
				b.ReportMetric(ms(app[2]), "applied-max-ms")
				b.Logf("cut %s, target on %s, %d writes at %.0f/s (target %d/s): write→segment p50 %s p99 %s max %s; write→applied p50 %s p99 %s max %s",
					c.cut, c.target, len(r.writes), r.achieved(), rate, seg[0], seg[1], seg[2], app[0], app[1], app[2])
			}
		})
	}
}

// lagOplogMax bounds the source's oplog to about 5 s of writes at 500/s:
// FerretDB answers the poll query by reading and sorting its whole oplog
// (about 0.1 ms an entry here), so the oplog's size, not tidelog, would set
// the lag of a bigger one. MongoDB reads a tailable cursor from its position.
const lagOplogMax = 2500

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// lagRun is one run's record: each write's acknowledgement time and oplog
// ts, and the tailer's and follower's positions over time.
type lagRun struct {
	mu      sync.Mutex // guards durable and applied while sampling
	start   time.Time
	writes  []lagWrite
	durable []sample // tailer: last entry stored and committed
	applied []sample // follower: target holds the source as of this ts
}

type lagWrite struct {
	acked time.Time
	ts    oplog.Timestamp
}

type sample struct {
	at time.Time
	ts oplog.Timestamp
}

func (r *lagRun) achieved() float64 {
	if len(r.writes) < 2 {
		return 0
	}
	return float64(len(r.writes)-1) / r.writes[len(r.writes)-1].acked.Sub(r.writes[0].acked).Seconds()
}

// reached is when a position series first reached ts (false: never).
func reached(series []sample, ts oplog.Timestamp) (time.Time, bool) {
	i, _ := slices.BinarySearchFunc(series, ts, func(s sample, ts oplog.Timestamp) int {
		if s.ts.Before(ts) {
			return -1
		}
		return 1
	})
	if i == len(series) {
		return time.Time{}, false
	}
	return series[i].at, true
}

// percentiles returns p50, p99 and max of write→segment and write→applied
// over the writes acknowledged after warmup. A write never reached counts
// as the whole rest of the run, so a stall cannot improve the figures.
func (r *lagRun) percentiles(warmup time.Duration) (seg, app [3]time.Duration) {
	var ds, da []time.Duration
	end := r.applied[len(r.applied)-1].at
	for _, w := range r.writes {
		if w.acked.Sub(r.start) < warmup {
			continue
		}
		s, ok := reached(r.durable, w.ts)
		if !ok {
			s = end
		}
		a, ok := reached(r.applied, w.ts)
		if !ok {
			a = end
		}
		ds = append(ds, max(0, s.Sub(w.acked)))
		da = append(da, max(0, a.Sub(w.acked)))
	}
	return pct(ds), pct(da)
}

func pct(d []time.Duration) [3]time.Duration {
	if len(d) == 0 {
		return [3]time.Duration{}
	}
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return [3]time.Duration{at(0.50), at(0.99), d[len(d)-1]}
}

func runLag(b *testing.B, rate int, dur, cut time.Duration, pgTarget bool) *lagRun {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A bounded oplog: FerretDB's poll query scans the whole oplog, so an
	// unbounded one would make the figures grow with the run's length.
	src := testserver.StartT(b, testserver.Options{OplogMax: lagOplogMax, CappedCleanup: time.Second})
	// The target's backend matters: on SQLite, FerretDB finds a document by
	// _id by reading the whole collection, so each apply costs more as the
	// target grows; PostgreSQL uses the _id index, as MongoDB does.
	dst := testserver.StartT(b, testserver.Options{NoOplog: true, Postgres: pgTarget})
	srcClient, dstClient := client(b, src), client(b, dst)
	dir := b.TempDir()
	st, err := dirstore.Open(filepath.Join(dir, "store"), true)
	if err != nil {
		b.Fatal(err)
	}
	ck, err := checkpoint.Open(filepath.Join(dir, "checkpoint"))
	if err != nil {
		b.Fatal(err)
	}
	defer ck.Close()
	coll := srcClient.Database("bench").Collection("lag")
	// The first write gives the store a segment for the initial restore.
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: -1}}); err != nil {
		b.Fatal(err)
	}
	tl := tailer.New(srcClient, st, ck, tailer.Config{CutAge: cut, ProbeEvery: time.Minute}, zerolog.Nop())
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Go(func() {
		if err := tl.Run(ctx); err != nil {
			errs <- fmt.Errorf("tailer: %w", err)
		}
	})
	fl, err := follow.New(follow.Options{Store: st, Target: dstClient, TargetName: dst.URI,
		CheckpointDir: filepath.Join(dir, "follow"), Poll: 50 * time.Millisecond, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	wg.Go(func() {
		if _, err := fl.Run(ctx); err != nil && ctx.Err() == nil {
			errs <- fmt.Errorf("follower: %w", err)
		}
	})

	r := &lagRun{start: time.Now()}
	sampling, stopSampling := context.WithCancel(ctx)
	wg.Go(func() { r.sample(sampling, tl, fl) })

	// Two writers, each at half the rate on its own connection pool's
	// share: one synchronous writer cannot keep 500/s on FerretDB beside
	// the tailer and the follower, and concurrent writers are what the
	// tailer's poll mode must be exact under.
	const writers = 2
	every := time.Second / time.Duration(rate)
	n := int(dur / every)
	acked := make([]time.Time, n)
	var wwg sync.WaitGroup
	werr := make(chan error, writers)
	for w := range writers {
		wwg.Go(func() {
			for i := w; i < n; i += writers {
				if d := time.Until(r.start.Add(time.Duration(i) * every)); d > 0 {
					time.Sleep(d) // pacing the writer is the benchmark's load, not a wait for a condition
				}
				if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: i}}); err != nil {
					werr <- err
					return
				}
				acked[i] = time.Now()
			}
		})
	}
	wwg.Wait()
	close(werr)
	for err := range werr {
		b.Fatal(err)
	}
	last, err := src.LastTS(ctx, srcClient)
	if err != nil {
		b.Fatal(err)
	}
	newest := oplog.Timestamp{T: last.T, I: last.I}
	deadline := time.Now().Add(time.Minute)
	for !r.appliedReached(newest) {
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("the follower did not apply %s within a minute of the last write; tailer %+v; follower %+v", newest, tl.Stats(), fl.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopSampling()
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	r.writes = writesWithTS(b, st, acked)
	return r
}

func (r *lagRun) appliedReached(ts oplog.Timestamp) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.applied) > 0 && !r.applied[len(r.applied)-1].ts.Before(ts)
}

// sample records the tailer's durable and the follower's applied position
// every 5 ms, keeping only changes.
func (r *lagRun) sample(ctx context.Context, tl *tailer.Tailer, fl *follow.Follower) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			d := tl.Stats().Durable
			var a oplog.Timestamp
			if s := fl.Status().Applied; s != "" {
				a, _ = oplog.Parse(s)
			}
			r.mu.Lock()
			if n := len(r.durable); n == 0 || r.durable[n-1].ts != d {
				r.durable = append(r.durable, sample{at: now, ts: d})
			}
			if n := len(r.applied); n == 0 || r.applied[n-1].ts != a {
				r.applied = append(r.applied, sample{at: now, ts: a})
			}
			r.mu.Unlock()
		}
	}
}

// writesWithTS finds each write's oplog ts in the store's segments (the
// capped source oplog has rolled past the early ones). A write missing from
// the store is a loss, and fails the benchmark.
func writesWithTS(b *testing.B, st store.Store, acked []time.Time) []lagWrite {
	ctx := context.Background()
	s, err := catalog.LoadStream(ctx, st, testserver.ReplicaSet)
	if err != nil {
		b.Fatal(err)
	}
	ts := make([]oplog.Timestamp, len(acked))
	err = catalog.Read(ctx, st, s.Name, s.Segments, func(e bson.Raw) error {
		if ns, _ := oplog.EntryNS(e); ns != "bench.lag" {
			return nil
		}
		id, ok := e.Lookup("o", "_id").Int32OK()
		if !ok || id < 0 || int(id) >= len(ts) {
			return nil
		}
		t, err := oplog.EntryTS(e)
		ts[id] = t
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]lagWrite, 0, len(acked))
	for i, at := range acked {
		if ts[i].IsZero() {
			b.Fatalf("write %d is not in the store", i)
		}
		out = append(out, lagWrite{acked: at, ts: ts[i]})
	}
	return out
}
