package tailer

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store"
)

// A hole behind entries stored just before a cut, i.e. not in the head
// segment but in the one before, is still looked for after a restart.
func TestLateEntryBeforeTheHeadSegmentIsCaughtAfterRestart(t *testing.T) {
	f := newFixture(t)
	f.putEntry(1, fakeWall.Add(-10*time.Second))
	third := f.putEntry(3, fakeWall)
	var clock atomic.Int64
	clock.Store(fakeWall.Add(time.Second).UnixNano())
	ckDir := t.TempDir()
	run := func() (*Tailer, chan error, context.CancelFunc) {
		ck, err := checkpoint.Open(ckDir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ck.Close() })
		tl := New(f.client, f.store, ck, Config{CutAge: 100 * time.Millisecond}, zerolog.Nop())
		tl.clock = func() time.Time { return time.Unix(0, clock.Load()) }
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- tl.Run(ctx); ck.Close() }()
		return tl, errc, cancel
	}
	tl, errc, cancel := run()
	waitUntil(t, "the first segment is stored", func() bool { return tl.Stats().Durable == third })
	fifth := f.putEntry(5, fakeWall)
	waitUntil(t, "a second segment is stored", func() bool { return tl.Stats().Durable == fifth })
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if names, _ := f.store.Segments(context.Background(), testserver.ReplicaSet); len(names) != 2 {
		t.Fatalf("segments %v, want entry 5 alone in the head segment", names)
	}

	late := f.putEntry(2, fakeWall.Add(-time.Millisecond))
	_, errc, cancel = run()
	defer cancel()
	clock.Store(fakeWall.Add(2500 * time.Millisecond).UnixNano())
	select {
	case err := <-errc:
		var gap *GapError
		if !errors.As(err, &gap) || gap.Late == nil || *gap.Late != late || gap.After != fifth {
			t.Fatalf("restarted run returned %v, want a gap naming %s after %s", err, late, fifth)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the restarted tailer went on past an entry that appeared behind the segment before its head")
	}
}

// countingStore counts the opens of each stored segment.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	opens map[string]int
}

func (c *countingStore) OpenSegment(ctx context.Context, stream, name string) (io.ReadCloser, error) {
	c.mu.Lock()
	c.opens[name]++
	c.mu.Unlock()
	return c.Store.OpenSegment(ctx, stream, name)
}

// A restart reads the head segment from the store once (each read is a
// request on S3 or Kafka, and the head may be 16 MiB), not once for each
// use of it.
func TestRestartReadsTheHeadSegmentOnce(t *testing.T) {
	f := newFixture(t)
	cfg := Config{CutAge: 100 * time.Millisecond}
	first := f.write(20)
	ckDir := t.TempDir()
	tl, stop := f.run(ckDir, cfg)
	waitUntil(t, "the first run stored everything", func() bool { return tl.Stats().Durable == first })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	names, err := f.store.Segments(ctx, testserver.ReplicaSet)
	if err != nil || len(names) == 0 {
		t.Fatalf("segments %v (%v)", names, err)
	}
	head := names[len(names)-1]

	cs := &countingStore{Store: f.store, opens: map[string]int{}}
	ck, err := checkpoint.Open(ckDir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	tl = New(f.client, cs, ck, cfg, zerolog.Nop())
	runCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- tl.Run(runCtx) }()
	second := f.write(5)
	waitUntil(t, "the restarted run stored the new entries", func() bool { return tl.Stats().Durable == second })
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if n := cs.opens[head]; n != 1 {
		t.Fatalf("the head segment %s was opened %d times at the restart, want once (opens: %v)", head, n, cs.opens)
	}
}
