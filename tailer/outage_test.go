package tailer

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/internal/testlog"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store"
)

// hangingStore is a store whose segment puts block, as Kafka's do while
// the broker is away, until it is brought back or the put's ctx ends.
type hangingStore struct {
	store.Store
	down     atomic.Bool
	attempts atomic.Int32
}

func (h *hangingStore) PutSegment(ctx context.Context, stream, name string, data []byte) error {
	h.attempts.Add(1)
	for h.down.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return h.Store.PutSegment(ctx, stream, name, data)
}

// runHanging starts a tailer over a hanging store, with short timers.
func runHanging(t *testing.T, f *fixture, grace time.Duration) (*hangingStore, *testlog.Buffer, func() error) {
	t.Helper()
	hs := &hangingStore{Store: f.store}
	hs.down.Store(true)
	logs := &testlog.Buffer{}
	ck, err := checkpoint.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tl := New(f.client, hs, ck, Config{CutAge: 200 * time.Millisecond}, zerolog.New(logs))
	tl.slowPutEvery, tl.shutdownGrace = 100*time.Millisecond, grace
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tl.Run(ctx) }()
	return hs, logs, func() error {
		cancel()
		err := <-errc
		ck.Close()
		return err
	}
}

// A put that hangs (no error, no progress) is reported while it lasts, so
// an outage never looks like an idle source; stopping then stores the
// segment if the store comes back within the grace.
func TestHangingStoreIsReportedAndShutdownKeepsTheSegment(t *testing.T) {
	f := newFixture(t)
	last := f.write(10)
	hs, logs, stop := runHanging(t, f, 10*time.Second)
	waitUntil(t, "the hanging put is reported twice", func() bool {
		return strings.Count(logs.String(), "store write still waiting") >= 2
	})
	errc := make(chan error, 1)
	go func() { errc <- stop() }()
	waitUntil(t, "the shutdown attempt begins", func() bool { return strings.Contains(logs.String(), "one last attempt") })
	hs.down.Store(false)
	if err := <-errc; err != nil {
		t.Fatalf("Run returned %v; with the store back during the grace, the segment must be stored", err)
	}
	s, err := catalog.LoadStream(context.Background(), f.store, testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Segments); n == 0 || s.Segments[n-1].Header.OpEnd != last {
		t.Fatalf("store holds %d segments, want them to end at %s", n, last)
	}
}

// Stopped during an outage that outlasts the grace, Run says the segment
// was not stored instead of reporting a clean stop.
func TestShutdownDuringOutageSaysWhatWasNotStored(t *testing.T) {
	f := newFixture(t)
	f.write(10)
	hs, logs, stop := runHanging(t, f, 300*time.Millisecond)
	waitUntil(t, "a put hangs", func() bool { return strings.Contains(logs.String(), "store write still waiting") })
	err := stop()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "at shutdown") {
		t.Fatalf("Run returned %v, want the shutdown put's failure", err)
	}
	if n := hs.attempts.Load(); n < 2 {
		t.Errorf("%d put attempts, want the interrupted one and the shutdown one", n)
	}
}
