package cycle

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/retention"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

// clock is a settable time source for the schedule.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	client *mongo.Client
	st     *dirstore.Store
	clock  *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := testserver.StartT(t, testserver.Options{})
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	if _, err := c.Database("app").Collection("c").InsertOne(t.Context(), bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	st, err := dirstore.Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	return &env{client: c, st: st, clock: &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
}

func (e *env) runner(t *testing.T, st store.Store, cfg Config) *Runner {
	r := New(e.client, st, nil, cfg, zerolog.New(zerolog.NewTestWriter(t)))
	r.now = e.clock.Now
	r.usableWait = 0 // no tailer here: what the test stored is all there is
	return r
}

func ids(t *testing.T, st store.Store) (complete []string, incomplete []string) {
	t.Helper()
	ms, inc, err := snapshot.List(t.Context(), st, "rs0")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		complete = append(complete, m.ID)
	}
	return complete, inc
}

func TestScheduleCountsFromTheNewestSnapshot(t *testing.T) {
	e := newEnv(t)
	r := e.runner(t, e.st, Config{Every: time.Hour})
	wait, err := r.untilDue(t.Context(), "rs0")
	if err != nil || wait != 0 {
		t.Fatalf("no snapshot yet: untilDue = %v, %v; want 0 (take one now)", wait, err)
	}
	if _, err := r.Cycle(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(20 * time.Minute)
	if wait, err := r.untilDue(t.Context(), "rs0"); err != nil || wait != 40*time.Minute {
		t.Fatalf("20 min after a snapshot: untilDue = %v, %v; want 40m", wait, err)
	}
	e.clock.Add(3 * time.Hour)
	if wait, err := r.untilDue(t.Context(), "rs0"); err != nil || wait != 0 {
		t.Fatalf("overdue: untilDue = %v, %v; want 0", wait, err)
	}
	onDemand := e.runner(t, e.st, Config{})
	if wait, err := onDemand.untilDue(t.Context(), "rs0"); err != nil || wait >= 0 {
		t.Fatalf("on demand only: untilDue = %v, %v; want negative (never due)", wait, err)
	}
}

// captureOplog stores the source's whole oplog as the stream's one segment,
// as tailerd would have: it makes the snapshots taken so far restorable.
func (e *env) captureOplog(t *testing.T) {
	t.Helper()
	cur, err := e.client.Database("local").Collection("oplog.rs").Find(t.Context(), bson.D{},
		options.Find().SetSort(bson.D{{Key: "ts", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	w := segment.NewWriter("rs0")
	w.Start(segment.Link{})
	for cur.Next(t.Context()) {
		if err := w.Append(cur.Current); err != nil {
			t.Fatal(err)
		}
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	info, data, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutSegment(t.Context(), "rs0", info.Name, data); err != nil {
		t.Fatal(err)
	}
}

func TestRetentionKeepsTheNewest(t *testing.T) {
	e := newEnv(t)
	e.captureOplog(t)
	r := e.runner(t, e.st, Config{Retention: retention.Policy{Keep: 2}})
	var taken []string
	for i := 0; i < 4; i++ {
		m, err := r.Cycle(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, m.ID)
		e.clock.Add(time.Hour)
	}
	complete, incomplete := ids(t, e.st)
	if strings.Join(complete, ",") != strings.Join(taken[2:], ",") || len(incomplete) != 0 {
		t.Fatalf("after 4 cycles keeping 2: complete %v incomplete %v; want %v", complete, incomplete, taken[2:])
	}
}

// Until segments reach a snapshot's end it cannot be restored from, so it
// must not push out the snapshots that can.
func TestRetentionKeepsUsableSnapshots(t *testing.T) {
	e := newEnv(t)
	e.captureOplog(t)
	r := e.runner(t, e.st, Config{Retention: retention.Policy{Keep: 1}})
	first, err := r.Cycle(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Hour)
	// A write the segments do not hold: the next snapshot ends after them.
	if _, err := e.client.Database("app").Collection("c").InsertOne(t.Context(), bson.D{{Key: "_id", Value: 2}}); err != nil {
		t.Fatal(err)
	}
	second, err := r.Cycle(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	complete, _ := ids(t, e.st)
	if strings.Join(complete, ",") != first.ID+","+second.ID {
		t.Fatalf("keeping 1 with the newest not yet restorable: kept %v, want %s (usable) and %s (pending)", complete, first.ID, second.ID)
	}
}

// failManifest is a store that refuses to store manifests, so every Take
// fails after its data files are stored.
type failManifest struct{ *dirstore.Store }

func (f failManifest) PutSnapshotFile(ctx context.Context, stream, id, name string, r io.Reader) (int64, error) {
	if name == snapshot.ManifestName {
		return 0, errors.New("injected: disk full")
	}
	return f.Store.PutSnapshotFile(ctx, stream, id, name, r)
}

func TestFailedSnapshotLeavesNothing(t *testing.T) {
	e := newEnv(t)
	r := e.runner(t, failManifest{e.st}, Config{})
	_, err := r.Cycle(t.Context())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Cycle = %v, want the store's error", err)
	}
	complete, incomplete := ids(t, e.st)
	if len(complete)+len(incomplete) != 0 {
		t.Fatalf("after a failed snapshot: complete %v incomplete %v; want none", complete, incomplete)
	}
}

func TestStartRemovesInterruptedKeepsDamaged(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	put := func(id, name, data string) {
		if _, err := e.st.PutSnapshotFile(ctx, "rs0", id, name, strings.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	put("interrupted", "app.c.0.bson.lz4", "partial")
	put("damaged", "app.c.0.bson.lz4", "data")
	put("damaged", snapshot.ManifestName, `{"version":1,"broken`)

	r := e.runner(t, e.st, Config{Snapshot: snapshot.Options{Stream: "rs0"}})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	r.Trigger()
	deadline := time.Now().Add(time.Minute)
	for {
		complete, incomplete := ids(t, e.st)
		if len(complete) == 1 && strings.Join(incomplete, ",") == "damaged" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after start and a trigger: complete %v incomplete %v; want one new snapshot and only the damaged one left", complete, incomplete)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
}

func TestTriggersMerge(t *testing.T) {
	r := New(nil, nil, nil, Config{}, zerolog.Nop())
	for i := 0; i < 5; i++ {
		r.Trigger() // must not block
	}
	if n := len(r.trigger); n != 1 {
		t.Fatalf("%d pending triggers, want 1", n)
	}
}

// A snapshot the cycle cannot read (its key was dropped from tailerd's key
// file) is neither counted nor deleted by retention: it may well be the
// only copy of that data, readable with the old key.
func TestRetentionKeepsSnapshotsItCannotRead(t *testing.T) {
	e := newEnv(t)
	e.captureOplog(t)
	oldKeys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	newKeys, err := crypt.NewKeyring(crypt.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	old, err := e.runner(t, e.st, Config{Snapshot: snapshot.Options{Keys: oldKeys}}).Cycle(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r := e.runner(t, e.st, Config{Retention: retention.Policy{Keep: 1}, Prune: true, Snapshot: snapshot.Options{Keys: newKeys}})
	var taken []string
	for range 2 {
		e.clock.Add(time.Hour)
		m, err := r.Cycle(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, m.ID)
	}
	both, err := crypt.NewKeyring(newKeys.Primary(), oldKeys.Primary())
	if err != nil {
		t.Fatal(err)
	}
	l, err := snapshot.ListWith(t.Context(), e.st, "rs0", snapshot.ReadOptions{Keys: both})
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, m := range l.Complete {
		kept = append(kept, m.ID)
	}
	if want := old.ID + "," + taken[1]; strings.Join(kept, ",") != want || len(l.Unreadable)+len(l.Incomplete) != 0 {
		t.Fatalf("after two cycles keeping 1, with the old key dropped: kept %v (unreadable %v, incomplete %v); want %s: the old-key snapshot kept, the newest kept",
			kept, l.Unreadable, l.Incomplete, want)
	}
	if names, err := e.st.Segments(t.Context(), "rs0"); err != nil || len(names) != 1 {
		t.Fatalf("segments after pruning with an unreadable snapshot: %v, %v; want the one segment kept", names, err)
	}
}

// countingFail fails every snapshot (at its manifest) and notes when.
type countingFail struct {
	failManifest
	mu    *sync.Mutex
	tries *[]time.Time
}

func (f countingFail) PutSnapshotFile(ctx context.Context, stream, id, name string, r io.Reader) (int64, error) {
	if name == snapshot.ManifestName {
		f.mu.Lock()
		*f.tries = append(*f.tries, time.Now())
		f.mu.Unlock()
	}
	return f.failManifest.PutSnapshotFile(ctx, stream, id, name, r)
}

// With no complete snapshot one is always due; a snapshot that keeps
// failing must be retried after a growing wait, not in a loop.
func TestFailedSnapshotsBackOff(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var tries []time.Time
	r := e.runner(t, countingFail{failManifest{e.st}, &mu, &tries}, Config{Every: time.Hour})
	r.now = time.Now
	r.retryMin, r.retryMax = 2*time.Second, time.Minute
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	seen := func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), tries...)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := seen()
	if len(got) < 3 {
		t.Fatalf("%d tries in 30s; want the failed snapshot retried", len(got))
	}
	// Each wait starts after a failure, so the tries are at least the
	// backoff apart: 2 s, then 4 s (a try itself takes well under 2 s here).
	for i, want := range []time.Duration{2 * time.Second, 4 * time.Second} {
		if gap := got[i+1].Sub(got[i]); gap < want {
			t.Errorf("try %d came %s after the one before; want at least %s (backoff)", i+2, gap, want)
		}
	}
}

// failSegments fails every listing of segments, as a store whose segment
// headers cannot all be read does to the schedule.
type failSegments struct{ *dirstore.Store }

func (failSegments) Segments(context.Context, string) ([]string, error) {
	return nil, errors.New("injected: segment listing fails")
}

// A schedule that cannot be worked out takes no snapshot every time it
// retries: after one, the next waits --snapshot-every.
func TestUnlistableScheduleCountsFromTheLastSnapshot(t *testing.T) {
	e := newEnv(t)
	r := e.runner(t, failSegments{e.st}, Config{Every: time.Hour})
	r.now = time.Now
	r.listRetry = 20 * time.Millisecond
	var taken atomic.Int32
	r.OnSnapshot(func(ok bool) {
		if ok {
			taken.Add(1)
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for taken.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// No event can show that a snapshot is not taken: give the loop many
	// retries' time to take another.
	time.Sleep(50 * r.listRetry)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := taken.Load(); n != 1 {
		t.Fatalf("%d snapshots taken while the schedule could not be listed; want 1, then none for --snapshot-every", n)
	}
}
