package tailer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/dirstore"
)

type fixture struct {
	t      *testing.T
	src    *testserver.Server
	client *mongo.Client
	store  store.Store
	next   int32
}

func newFixture(t *testing.T) *fixture {
	src := testserver.StartT(t, testserver.Options{})
	c, err := src.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	st, err := dirstore.Open(filepath.Join(t.TempDir(), "store"), true)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, src: src, client: c, store: st}
}

func (f *fixture) write(n int) oplog.Timestamp {
	f.t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		f.next++
		if _, err := f.client.Database("d").Collection("c").InsertOne(ctx, bson.D{{Key: "_id", Value: f.next}}); err != nil {
			f.t.Fatal(err)
		}
	}
	ts, err := f.src.LastTS(ctx, f.client)
	if err != nil {
		f.t.Fatal(err)
	}
	return oplog.Timestamp{T: ts.T, I: ts.I}
}

// run starts a tailer with its own checkpoint dir and returns a stop func
// that cancels it and returns Run's error.
func (f *fixture) run(ckptDir string, cfg Config) (*Tailer, func() error) {
	f.t.Helper()
	return f.runWith(ckptDir, cfg, nil)
}

// runWith is run with set, when not nil, applied to the tailer before it
// runs (a test's clock, a smaller recheck range).
func (f *fixture) runWith(ckptDir string, cfg Config, set func(*Tailer)) (*Tailer, func() error) {
	f.t.Helper()
	ck, err := checkpoint.Open(ckptDir)
	if err != nil {
		f.t.Fatal(err)
	}
	tl := New(f.client, f.store, ck, cfg, zerolog.Nop())
	if set != nil {
		set(tl)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tl.Run(ctx) }()
	return tl, func() error {
		cancel()
		err := <-errc
		ck.Close()
		return err
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Shutdown must cut and commit what was read, even when no cut is due.
func TestShutdownCutsOpenSegment(t *testing.T) {
	f := newFixture(t)
	last := f.write(25)
	tl, stop := f.run(t.TempDir(), Config{CutAge: time.Hour})
	waitUntil(t, "the tailer has read every entry", func() bool { c, _ := tl.Progress(); return c == last })
	if _, durable := tl.Progress(); !durable.IsZero() {
		t.Fatalf("a segment was cut at %s before any cut was due", durable)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v on shutdown, want nil", err)
	}
	s, err := catalog.LoadStream(context.Background(), f.store, testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Segments) != 1 || s.Segments[0].Header.OpEnd != last || s.Segments[0].Header.Count != 25 {
		t.Fatalf("after shutdown the store holds %+v, want one segment of 25 entries ending at %s", s.Segments, last)
	}
}

// With the checkpoint lost, the tailer rebuilds its position from the store
// and continues the same chain: nothing captured twice, nothing missing.
func TestLostCheckpointIsRebuiltFromStore(t *testing.T) {
	f := newFixture(t)
	cfg := Config{CutAge: 100 * time.Millisecond, CutBytes: 2048}
	first := f.write(40)
	tl, stop := f.run(t.TempDir(), cfg)
	waitUntil(t, "the first run stored everything", func() bool { _, d := tl.Progress(); return d == first })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	second := f.write(30)
	tl, stop = f.run(t.TempDir(), cfg) // a new, empty checkpoint directory
	waitUntil(t, "the second run stored everything", func() bool { _, d := tl.Progress(); return d == second })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	s, err := catalog.LoadStream(context.Background(), f.store, testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	if problems := catalog.Verify(context.Background(), f.store, s, nil); len(problems) != 0 {
		t.Fatalf("store after rebuild: %v", problems)
	}
	w, _ := s.Restorable()
	if len(s.Windows) != 1 || w.Entries != 70 || w.To != second {
		t.Fatalf("windows %+v, want one window of 70 entries ending at %s", s.Windows, second)
	}
}

// A store that lost the checkpoint's newest segment (a lost spool, an
// expired object) is not resumed over: capture would leave a hole there
// that nothing reports. The tailer stops and says how to recover, and
// moving the checkpoint aside recovers without a hole.
func TestStoreMissingTheCheckpointHeadStops(t *testing.T) {
	f := newFixture(t)
	cfg := Config{CutAge: 100 * time.Millisecond, CutBytes: 2048}
	first := f.write(40)
	ckpt := t.TempDir()
	tl, stop := f.run(ckpt, cfg)
	waitUntil(t, "the first run stored everything", func() bool { _, d := tl.Progress(); return d == first })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	names, err := f.store.Segments(ctx, testserver.ReplicaSet)
	if err != nil || len(names) < 2 {
		t.Fatalf("segments %v, %v: want at least 2", names, err)
	}
	lost := names[len(names)-1]
	if err := f.store.DeleteSegment(ctx, testserver.ReplicaSet, lost); err != nil {
		t.Fatal(err)
	}

	f.write(10)
	ck, err := checkpoint.Open(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = New(f.client, f.store, ck, cfg, zerolog.Nop()).Run(runCtx)
	cancel()
	ck.Close()
	if !errors.Is(err, ErrStoreMismatch) || !strings.Contains(err.Error(), lost) {
		t.Fatalf("Run over a store that lost %s returned %v, want ErrStoreMismatch naming it", lost, err)
	}
	if after, _ := f.store.Segments(ctx, testserver.ReplicaSet); len(after) != len(names)-1 {
		t.Fatalf("the refused run wrote to the store: %v", after)
	}

	// The advice: a new checkpoint, rebuilt from the store, re-reads what
	// the lost segment held.
	last := f.write(5)
	tl, stop = f.run(t.TempDir(), cfg)
	waitUntil(t, "the rebuilt run stored everything", func() bool { _, d := tl.Progress(); return d == last })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s, err := catalog.LoadStream(ctx, f.store, testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	if problems := catalog.Verify(ctx, f.store, s, nil); len(problems) != 0 {
		t.Fatalf("store after recovery: %v", problems)
	}
	if w, _ := s.Restorable(); len(s.Windows) != 1 || w.Entries != 55 || w.To != last {
		t.Fatalf("windows %+v, want one window of all 55 entries ending at %s", s.Windows, last)
	}
}
