package tailer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/checkpoint"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
)

// fakeT is far in the past, so that the entries these tests put into the
// oplog come before the ones FerretDB logs for those very inserts (which
// carry the real clock and never settle on the tests' clock).
const fakeT = 1_000_000

var fakeWall = time.Unix(fakeT, 0)

// putEntry writes a no-op entry with the given ts counter and wall time
// straight into the source's oplog, as a server with a slow oplog write
// would make it visible: whenever the test says.
func (f *fixture) putEntry(i uint32, wall time.Time) oplog.Timestamp {
	f.t.Helper()
	ts := oplog.Timestamp{T: fakeT, I: i}
	doc := bson.D{{Key: "ts", Value: ts.BSON()}, {Key: "t", Value: int64(1)}, {Key: "op", Value: "n"},
		{Key: "ns", Value: ""}, {Key: "o", Value: bson.D{{Key: "msg", Value: "test"}}}, {Key: "wall", Value: bson.NewDateTimeFromTime(wall)}}
	if _, err := f.client.Database("local").Collection("oplog.rs").InsertOne(context.Background(), doc); err != nil {
		f.t.Fatal(err)
	}
	return ts
}

func (f *fixture) pollReader(last oplog.Timestamp, now *time.Time) *reader {
	f.t.Helper()
	src, err := openSource(context.Background(), f.client, CursorPoll, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return &reader{src: src, stream: "rs0", log: zerolog.Nop(), last: last,
		settle: defaultPollSettle, recheck: defaultRecheck, now: func() time.Time { return *now }}
}

// readOnce runs one poll and returns the timestamps passed on.
func readOnce(t *testing.T, r *reader) ([]oplog.Timestamp, time.Duration, error) {
	t.Helper()
	out := make(chan *batch, 100)
	_, wait, err := r.once(context.Background(), out)
	close(out)
	var got []oplog.Timestamp
	for b := range out {
		for i := 0; i < b.len(); i++ {
			ts, terr := oplog.EntryTS(b.entry(i))
			if terr != nil {
				t.Fatal(terr)
			}
			got = append(got, ts)
		}
	}
	return got, wait, err
}

// An entry that becomes visible after one with a later ts is passed on,
// in order, because the later one waited to settle.
func TestPollWaitsForEntriesToSettle(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-10*time.Second))
	now := fakeWall.Add(100 * time.Millisecond)
	r := f.pollReader(start, &now)

	b := f.putEntry(3, fakeWall) // visible first, 100ms old
	got, wait, err := readOnce(t, r)
	if err != nil || len(got) != 0 {
		t.Fatalf("first poll passed on %v (err %v); an entry 100ms old must wait to settle", got, err)
	}
	if wait <= 0 || wait > defaultPollSettle {
		t.Fatalf("wait %v, want until the entry settles", wait)
	}

	a := f.putEntry(2, fakeWall.Add(-time.Millisecond)) // the hole closes
	now = fakeWall.Add(defaultPollSettle + 100*time.Millisecond)
	got, _, err = readOnce(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("passed on %v, want [%s %s]", got, a, b)
	}
}

// An entry that shows up behind the position later than settle is caught
// by the recheck and stops capture as a gap naming it, never skipped.
func TestPollRecheckCatchesLateEntry(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-10*time.Second))
	now := fakeWall.Add(time.Second)
	r := f.pollReader(start, &now)
	b := f.putEntry(3, fakeWall)
	got, _, err := readOnce(t, r)
	if err != nil || len(got) != 1 || got[0] != b {
		t.Fatalf("passed on %v (err %v), want [%s]", got, err, b)
	}

	late := f.putEntry(2, fakeWall.Add(-time.Millisecond))
	now = now.Add(recheckEvery)
	got, _, err = readOnce(t, r)
	var gap *GapError
	if !errors.As(err, &gap) || gap.Late == nil || *gap.Late != late || gap.After != b || gap.Next != b.Next() {
		t.Fatalf("poll after a late entry: passed %v, err %v; want a GapError with Late %s after %s", got, err, late, b)
	}
}

// Without the defences (single-writer setting), the same late entry is
// skipped: the case the defences exist for.
func TestPollWithoutSettleSkipsLateEntry(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-10*time.Second))
	now := fakeWall
	r := f.pollReader(start, &now)
	r.settle = 0
	f.putEntry(3, fakeWall)
	if _, _, err := readOnce(t, r); err != nil {
		t.Fatal(err)
	}
	f.putEntry(2, fakeWall)
	got, _, err := readOnce(t, r)
	for _, ts := range got {
		if ts.T == fakeT && ts.I == 2 {
			t.Fatalf("entry 2 was passed on without settle: %v", got)
		}
	}
	if err != nil {
		t.Fatalf("without settle the late entry goes unnoticed, got %v", err)
	}
}

// The whole path of a late entry: capture stops with a gap naming it, the
// gap is in the store and the checkpoint, the restorable window ends before
// it, a restart without --accept-gap refuses, and one with it goes on right
// after the last stored entry in a new chain.
func TestLateEntryStopsCaptureAndIsRecorded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.putEntry(1, fakeWall.Add(-10*time.Second))
	third := f.putEntry(3, fakeWall)
	var clock atomic.Int64
	clock.Store(fakeWall.Add(time.Second).UnixNano())
	ckDir := t.TempDir()
	start := func(cfg Config) (*Tailer, chan error, func()) {
		ck, err := checkpoint.Open(ckDir)
		if err != nil {
			t.Fatal(err)
		}
		tl := New(f.client, f.store, ck, cfg, zerolog.Nop())
		tl.clock = func() time.Time { return time.Unix(0, clock.Load()) }
		runCtx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- tl.Run(runCtx) }()
		return tl, errc, func() { cancel(); ck.Close() }
	}
	cfg := Config{CutAge: 100 * time.Millisecond, Start: StartAt{}}
	tl, errc, stop := start(cfg)
	waitUntil(t, "the settled entries are stored", func() bool { return tl.Stats().Durable == third })

	late := f.putEntry(2, fakeWall.Add(-time.Millisecond))
	clock.Store(fakeWall.Add(2500 * time.Millisecond).UnixNano())
	var err error
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("capture went on past a late entry")
	}
	stop()
	var gap *GapError
	if !errors.As(err, &gap) || gap.Late == nil || *gap.Late != late || gap.After != third {
		t.Fatalf("Run returned %v, want a gap naming late entry %s after %s", err, late, third)
	}

	s, err := catalog.LoadStream(ctx, f.store, testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Gaps) != 1 || s.Gaps[0].Late == nil || *s.Gaps[0].Late != late {
		t.Fatalf("store gaps %+v, want the late entry recorded", s.Gaps)
	}
	if w, ok := s.Restorable(); !ok || w.From != first || w.To != late.Prev() {
		t.Fatalf("restorable window %+v, want %s to just before %s", w, first, late)
	}

	_, errc, stop = start(cfg)
	err = <-errc
	stop()
	if !errors.As(err, &gap) || gap.Late == nil {
		t.Fatalf("restart without --accept-gap returned %v, want the recorded late-entry gap", err)
	}

	clock.Store(time.Now().Add(time.Hour).UnixNano()) // everything settled
	cfg.AcceptGap = true
	tl, errc, stop = start(cfg)
	waitUntil(t, "a new chain after the stored entries", func() bool { return tl.Stats().Segments > 0 })
	stop()
	if err := <-errc; err != nil {
		t.Fatalf("run with --accept-gap: %v", err)
	}
	s, err = catalog.LoadStream(ctx, f.store, testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Windows) != 2 {
		t.Fatalf("windows %+v, want the old one and a new chain", s.Windows)
	}
	second := s.Segments[s.Windows[1].First].Header
	if !second.Prev.IsZero() || !second.OpStart.After(third) {
		t.Fatalf("new chain starts %s linked to %+v, want after %s with no link", second.OpStart, second.Prev, third)
	}
}

// An entry passed on at once because its wall is old (a big batch that took
// long to show, or a source clock behind ours) is still rechecked: the
// window counts from when it was passed on, not from its wall.
func TestPollRecheckCountsFromPassing(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-20*time.Second))
	now := fakeWall
	r := f.pollReader(start, &now)
	b := f.putEntry(3, fakeWall.Add(-4*time.Second)) // older than the recheck window when it shows
	if got, _, err := readOnce(t, r); err != nil || len(got) != 1 || got[0] != b {
		t.Fatalf("passed on %v (err %v), want [%s]", got, err, b)
	}
	late := f.putEntry(2, fakeWall.Add(-5*time.Second))
	now = now.Add(recheckEvery)
	_, _, err := readOnce(t, r)
	var gap *GapError
	if !errors.As(err, &gap) || gap.Late == nil || *gap.Late != late {
		t.Fatalf("poll after a late entry behind an old one: err %v, want a gap naming %s", err, late)
	}
}

// A restart does not forget to look behind the position: a hole behind the
// head at the stop that closes after the restart stops capture too.
func TestLateEntryAfterRestartIsCaught(t *testing.T) {
	f := newFixture(t)
	f.putEntry(1, fakeWall.Add(-10*time.Second))
	third := f.putEntry(3, fakeWall)
	var clock atomic.Int64
	clock.Store(fakeWall.Add(time.Second).UnixNano())
	ckDir := t.TempDir()
	run := func() (*Tailer, chan error, func()) {
		ck, err := checkpoint.Open(ckDir)
		if err != nil {
			t.Fatal(err)
		}
		tl := New(f.client, f.store, ck, Config{CutAge: 100 * time.Millisecond}, zerolog.Nop())
		tl.clock = func() time.Time { return time.Unix(0, clock.Load()) }
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- tl.Run(ctx) }()
		return tl, errc, func() { cancel(); ck.Close() }
	}
	tl, errc, stop := run()
	waitUntil(t, "the settled entries are stored", func() bool { return tl.Stats().Durable == third })
	stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	late := f.putEntry(2, fakeWall.Add(-time.Millisecond))
	_, errc, stop = run()
	defer stop()
	clock.Store(fakeWall.Add(2500 * time.Millisecond).UnixNano())
	select {
	case err := <-errc:
		var gap *GapError
		if !errors.As(err, &gap) || gap.Late == nil || *gap.Late != late {
			t.Fatalf("restarted run returned %v, want a gap naming %s", err, late)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the restarted tailer went on past an entry that appeared behind its position")
	}
}

// A reader that cannot recheck for a while (blocked on a slow store, or
// on a slow source read) still looks behind what it passed on before: the
// recheck window counts until a recheck has run, not only by the clock.
func TestPollRecheckSurvivesAStall(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-10*time.Second))
	now := fakeWall.Add(time.Second)
	r := f.pollReader(start, &now)
	b := f.putEntry(3, fakeWall)
	if got, _, err := readOnce(t, r); err != nil || len(got) != 1 || got[0] != b {
		t.Fatalf("passed on %v (err %v), want [%s]", got, err, b)
	}

	late := f.putEntry(2, fakeWall.Add(-time.Millisecond))
	now = now.Add(10 * defaultRecheck) // no poll ran meanwhile
	_, _, err := readOnce(t, r)
	var gap *GapError
	if !errors.As(err, &gap) || gap.Late == nil || *gap.Late != late {
		t.Fatalf("first poll after a stall, with a late entry behind the position: err %v, want a gap naming %s", err, late)
	}
}

// Once a recheck has run more than the recheck window after entries were
// passed on, they are looked behind no more: the range stays bounded.
func TestPollRecheckRangeIsTrimmed(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-10*time.Second))
	now := fakeWall.Add(time.Second)
	r := f.pollReader(start, &now)
	b := f.putEntry(3, fakeWall)
	if _, _, err := readOnce(t, r); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the first recheck runs after the window, the next trims
		now = now.Add(defaultRecheck + recheckEvery)
		if _, _, err := readOnce(t, r); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.recent) != 1 || r.recent[0].ts != b {
		t.Fatalf("recheck range %v, want only its lower bound %s", r.recent, b)
	}
}

// An oplog found empty where the position was has lost history, but the
// gap's far end is not known until an entry comes: the reader retries with
// a plain error instead of a gap record that has no next position (which
// every reader of the store would then refuse as damaged).
func TestEmptyOplogIsNoGapYet(t *testing.T) {
	f := newFixture(t)
	now := fakeWall
	r := f.pollReader(oplog.Timestamp{T: fakeT, I: 1}, &now)
	err := r.gapFromOldest(context.Background())
	var ge *GapError
	if err == nil || errors.As(err, &ge) {
		t.Fatalf("empty oplog: %v, want a plain error, retried, not a gap", err)
	}
	next := f.putEntry(5, fakeWall)
	if err := r.gapFromOldest(context.Background()); !errors.As(err, &ge) || ge.Next != next || ge.After != r.last {
		t.Fatalf("after an entry came: %v, want a gap after %s, next %s", err, r.last, next)
	}
}
