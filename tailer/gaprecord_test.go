package tailer

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/store"
)

// gapRefusingStore refuses gap records while refuse is set, as a store in
// an outage longer than putGap's retries does.
type gapRefusingStore struct {
	store.Store
	refuse atomic.Bool
}

func (s *gapRefusingStore) PutGap(ctx context.Context, stream string, gap store.Gap) error {
	if s.refuse.Load() {
		return errors.New("store refuses writes (test outage)")
	}
	return s.Store.PutGap(ctx, stream, gap)
}

// A late entry found when neither the checkpoint nor the store can record
// it stops capture with an error that says the gap is not recorded, and a
// restart once they work finds the entry again and records it.
func TestUnrecordedGapStopsLoudlyAndIsFoundAgain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.putEntry(1, fakeWall.Add(-10*time.Second))
	third := f.putEntry(3, fakeWall)
	var clock atomic.Int64
	clock.Store(fakeWall.Add(time.Second).UnixNano())
	gs := &gapRefusingStore{Store: f.store}
	gs.refuse.Store(true)
	ckDir := t.TempDir()
	start := func() (*Tailer, *checkpoint.DB, chan error, context.CancelFunc) {
		ck, err := checkpoint.Open(ckDir)
		if err != nil {
			t.Fatal(err)
		}
		tl := New(f.client, gs, ck, Config{CutAge: 100 * time.Millisecond}, zerolog.Nop())
		tl.clock = func() time.Time { return time.Unix(0, clock.Load()) }
		tl.gapPutFor = 300 * time.Millisecond
		runCtx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- tl.Run(runCtx) }()
		return tl, ck, errc, cancel
	}
	tl, ck, errc, cancel := start()
	defer cancel()
	waitUntil(t, "the settled entries are stored", func() bool { return tl.Stats().Durable == third })
	ck.Close() // every later checkpoint write fails

	late := f.putEntry(2, fakeWall.Add(-time.Millisecond))
	clock.Store(fakeWall.Add(2500 * time.Millisecond).UnixNano())
	var err error
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("capture went on past a late entry")
	}
	var gap *GapError
	var unrecorded *GapNotRecordedError
	if !errors.As(err, &gap) || gap.Late == nil || *gap.Late != late {
		t.Fatalf("Run returned %v, want a gap naming late entry %s (so tailerd stops with exit 3)", err, late)
	}
	if !errors.As(err, &unrecorded) || !errors.Is(err, checkpoint.ErrClosed) ||
		!strings.Contains(err.Error(), "NOT RECORDED in the checkpoint and the store") || !strings.Contains(err.Error(), "test outage") {
		t.Fatalf("Run returned %q, want it to say the gap is recorded nowhere, and why", err)
	}
	if gaps, _ := f.store.Gaps(ctx, testserver.ReplicaSet); len(gaps) != 0 {
		t.Fatalf("store gaps %+v with the store refusing them", gaps)
	}

	gs.refuse.Store(false)
	_, ck, errc, cancel = start()
	defer cancel()
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("the restarted tailer went on past the late entry it could not record")
	}
	ck.Close()
	if !errors.As(err, &gap) || gap.Late == nil || *gap.Late != late || errors.As(err, &unrecorded) {
		t.Fatalf("restart returned %v, want the recorded gap naming %s", err, late)
	}
	gaps, gerr := f.store.Gaps(ctx, testserver.ReplicaSet)
	if gerr != nil || len(gaps) != 1 || gaps[0].Late == nil || *gaps[0].Late != late {
		t.Fatalf("store gaps %+v (%v) after the restart, want the late entry recorded", gaps, gerr)
	}
	ck, err = checkpoint.Open(ckDir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if cg, _ := ck.Gaps(testserver.ReplicaSet); len(cg) != 1 || cg[0].Late == nil || *cg[0].Late != late {
		t.Fatalf("checkpoint gaps %+v after the restart, want the late entry recorded", cg)
	}
}
