package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/internal/workload"
	"github.com/tidelog/tidelog/oplog"
)

// point is a recorded source state: after the first Writes writes of the
// log were acknowledged and nothing else was written, the source's newest
// oplog entry was TS and its data was State. A restore to TS must give State.
type point struct {
	TS     oplog.Timestamp
	State  workload.State
	Writes int
	Why    string // what the run was doing when it was recorded
}

// writer applies the workload at a steady rate from one goroutine, keeps the
// model and the log of acknowledged writes, and records points at random
// moments. The harness steers it between writes (pause, record, burst).
type writer struct {
	src    *testserver.Server
	client *mongo.Client
	rng    *rand.Rand
	rate   float64
	// recordChance is the chance, after a write, to record a point.
	recordChance float64

	m   *model
	seq int64

	ctl  chan func()
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex // guards what other goroutines read
	log    []write
	points []point
	err    error
	paused bool
}

func newWriter(src *testserver.Server, client *mongo.Client, seed uint64, rate float64, recordGap time.Duration) *writer {
	return &writer{
		src: src, client: client, rng: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)),
		rate: rate, recordChance: 1 / (rate * recordGap.Seconds()),
		m: newModel(), ctl: make(chan func()), stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// run writes until Close; the first failure stops it (Err reports it).
func (w *writer) run() {
	defer close(w.done)
	tick := time.NewTicker(time.Duration(float64(time.Second) / w.rate))
	defer tick.Stop()
	for {
		var ticks <-chan time.Time
		w.mu.Lock()
		if !w.paused && w.err == nil {
			ticks = tick.C
		}
		w.mu.Unlock()
		select {
		case <-w.stop:
			return
		case f := <-w.ctl:
			f()
		case <-ticks:
			if err := w.step(true); err != nil {
				w.fail(err)
			}
		}
	}
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// Err is the writer's first failure.
func (w *writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// do runs f in the writer's goroutine, between two writes.
func (w *writer) do(f func() error) error {
	errc := make(chan error, 1)
	select {
	case w.ctl <- func() { errc <- f() }:
	case <-w.done:
		return errors.New("writer stopped")
	}
	return <-errc
}

// step makes one write and, by chance, records a point after it.
func (w *writer) step(mayRecord bool) error {
	w.seq++
	c := w.m.next(w.rng, w.seq)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.send(ctx, c); err != nil {
		return fmt.Errorf("write %d (%c %s %d): %w", c.w.Seq, c.w.Op, c.w.NS, c.w.ID, err)
	}
	w.m.apply(c)
	w.mu.Lock()
	w.log = append(w.log, c.w)
	w.mu.Unlock()
	if mayRecord && w.rng.Float64() < w.recordChance {
		return w.record(ctx, "steady writes")
	}
	return nil
}

func (w *writer) send(ctx context.Context, c change) error {
	db, name, _ := strings.Cut(c.w.NS, ".")
	coll := w.client.Database(db).Collection(name)
	filter := bson.D{{Key: "_id", Value: c.w.ID}}
	var n int64
	switch {
	case c.w.Op == opInsert:
		if _, err := coll.InsertOne(ctx, c.doc); err != nil {
			return err
		}
		n = 1
	case c.w.Op == opUpdate && c.update != nil:
		res, err := coll.UpdateOne(ctx, filter, c.update)
		if err != nil {
			return err
		}
		n = res.ModifiedCount
	case c.w.Op == opUpdate:
		res, err := coll.ReplaceOne(ctx, filter, c.doc)
		if err != nil {
			return err
		}
		n = res.ModifiedCount
	default:
		res, err := coll.DeleteOne(ctx, filter)
		if err != nil {
			return err
		}
		n = res.DeletedCount
	}
	if n != 1 {
		return fmt.Errorf("the server changed %d documents, the model expected 1", n)
	}
	return nil
}

// record reads the source's newest oplog position and keeps it with the
// model's state. The source's data must equal the model: a mismatch is a
// fault of the harness or the server, not of tidelog, and stops the run.
func (w *writer) record(ctx context.Context, why string) error {
	ts, err := w.src.LastTS(ctx, w.client)
	if err != nil {
		return fmt.Errorf("record a point: %w", err)
	}
	want, err := w.m.state()
	if err != nil {
		return err
	}
	got, err := workload.Dump(ctx, w.client)
	if err != nil {
		return fmt.Errorf("record a point: %w", err)
	}
	if diff := workload.Diff(want, got); diff != "" {
		return fmt.Errorf("the source differs from the writer's model after write %d (the harness or the server is wrong):\n%s", w.seq, diff)
	}
	w.mu.Lock()
	w.points = append(w.points, point{TS: oplog.Timestamp{T: ts.T, I: ts.I}, State: want, Writes: len(w.log), Why: why})
	w.mu.Unlock()
	return nil
}

// Record records a point now.
func (w *writer) Record(why string) (point, error) {
	var p point
	err := w.do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.record(ctx, why); err != nil {
			return err
		}
		p = w.points[len(w.points)-1]
		return nil
	})
	return p, err
}

// Pause stops the steady writes until Resume; the last write is acknowledged when it returns.
func (w *writer) Pause() error {
	return w.do(func() error { w.mu.Lock(); w.paused = true; w.mu.Unlock(); return nil })
}

// Resume restarts the steady writes.
func (w *writer) Resume() error {
	return w.do(func() error { w.mu.Lock(); w.paused = false; w.mu.Unlock(); return nil })
}

// Burst makes n writes as fast as the source takes them, recording about
// a dozen points spread among them at random (labelled why).
func (w *writer) Burst(n int, why string) error {
	return w.do(func() error {
		for i := 0; i < n; i++ {
			if err := w.step(false); err != nil {
				return err
			}
			if w.rng.IntN(n/12+1) == 0 {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := w.record(ctx, why)
				cancel()
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Close stops the writer.
func (w *writer) Close() {
	select {
	case <-w.done:
	default:
		close(w.stop)
		<-w.done
	}
}

// Writes and Points are copies of the log and the recorded points.
func (w *writer) Writes() []write {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]write(nil), w.log...)
}

func (w *writer) Points() []point {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]point(nil), w.points...)
}
