package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/storetest"
)

// The spool is a store like any other for its users (the tailer, the cycle,
// the replayer): it passes the conformance suite, with two directory stores
// behind it.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		dests := []Dest{{Name: "primary", Store: newDirStore(t)}, {Name: "second", Store: newDirStore(t)}}
		return openSpool(t, filepath.Join(t.TempDir(), "spool"), dests, fastOpts(nil))
	})
}

// Everything put reaches both destinations, in full, and leaves the spool.
func TestFanOut(t *testing.T) {
	a, b := newDirStore(t), newDirStore(t)
	dir := filepath.Join(t.TempDir(), "spool")
	s := openSpool(t, dir, []Dest{{Name: "a", Store: a}, {Name: "b", Store: b}}, fastOpts(nil))
	ctx := testCtx(t)
	for i := range 10 {
		put(t, s, "rs0", i, 3000)
		put(t, s, "rs1", i, 100)
		if i == 4 {
			if err := s.PutGap(ctx, "rs0", testGap(4)); err != nil {
				t.Fatal(err)
			}
		}
	}
	drained(t, s)
	for _, st := range []store.Store{a, b, s} {
		holds(t, st, "rs0", 10, 3000)
		holds(t, st, "rs1", 10, 100)
		if g := gapsOf(t, st, "rs0"); !slices.Equal(g, []string{gapName(testGap(4))}) {
			t.Fatalf("%s: gaps %q", st, g)
		}
	}
	if got := s.String(); !strings.HasPrefix(got, "spool:"+dir+" -> [a=dir:") || !strings.Contains(got, ", b=dir:") {
		t.Fatalf("String() = %q", got)
	}
	// Nothing is left in the spool's directory once both have everything.
	if names, _ := s.data.Segments(ctx, "rs0"); len(names) != 0 {
		t.Fatalf("spool still holds %q", names)
	}
	if q, _ := os.ReadDir(filepath.Join(dir, queueDir)); len(q) != 0 {
		t.Fatalf("queue still holds %d entries", len(q))
	}
}

// A destination that fails does not hold back the other; it gets every item
// once it recovers, in full, each once. Its failures are logged, but not
// once per retry.
func TestFailingDestinationCatchesUp(t *testing.T) {
	a := newDirStore(t)
	b := &flaky{Store: newDirStore(t)}
	b.down.Store(true)
	var log logBuf
	s := openSpool(t, filepath.Join(t.TempDir(), "spool"), []Dest{{Name: "a", Store: a}, {Name: "b", Store: b}}, fastOpts(&log))
	ctx := testCtx(t)
	const n = 20
	for i := range n {
		put(t, s, "rs0", i, 2000)
		if i == 9 {
			if err := s.PutGap(ctx, "rs0", testGap(9)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "destination a to have everything", func() bool { return destStatus(s, "a").Pending == 0 })
	holds(t, a, "rs0", n, 2000)
	waitFor(t, "b's failures to be counted", func() bool { return destStatus(s, "b").LastError != "" })
	bs := destStatus(s, "b")
	if bs.Pending != n+1 || bs.PendingBytes < n*2000 || bs.FailingSince.IsZero() || !strings.Contains(bs.LastError, "injected outage") {
		t.Fatalf("status of the failing destination: %+v", bs)
	}
	if b.puts.Load() != 0 {
		t.Fatal("b stored something while down")
	}
	// The spool, read as a store, has everything although b has nothing.
	holds(t, s, "rs0", n, 2000)
	// Logged at once, then not again within LogEvery (an hour), however
	// often it was retried.
	if c := log.count("destination failing"); c != 1 {
		t.Fatalf("%d failure messages, want 1:\n%s", c, log.String())
	}
	if !strings.Contains(log.String(), `"dest":"b"`) || !strings.Contains(log.String(), `"waiting":"`) {
		t.Fatalf("failure message does not say which destination and what waits:\n%s", log.String())
	}

	b.down.Store(false)
	drained(t, s)
	holds(t, b.Store, "rs0", n, 2000)
	if g := gapsOf(t, b, "rs0"); !slices.Equal(g, []string{gapName(testGap(9))}) {
		t.Fatalf("b's gaps: %q", g)
	}
	if got := b.puts.Load(); got != n {
		t.Fatalf("b was given %d segment puts for %d segments", got, n)
	}
	if log.count("destination back") != 1 {
		t.Fatalf("no recovery message:\n%s", log.String())
	}
}

// With the spool full and a destination down, PutSegment blocks (and says
// so once) and returns only after the destination took something; a
// cancelled put returns with the context's error and stores nothing.
func TestBackPressure(t *testing.T) {
	a := newDirStore(t)
	b := &flaky{Store: newDirStore(t)}
	b.down.Store(true)
	var log logBuf
	opts := fastOpts(&log)
	opts.MaxBytes = 3000
	s := openSpool(t, filepath.Join(t.TempDir(), "spool"), []Dest{{Name: "a", Store: a}, {Name: "b", Store: b}}, opts)
	for i := range 3 {
		put(t, s, "rs0", i, 1000)
	}
	waitFor(t, "a to have everything", func() bool { return destStatus(s, "a").Pending == 0 })

	// A cancelled wait fails with the context's error; nothing is stored.
	cctx, cancel := context.WithCancel(testCtx(t))
	cancelled := make(chan error, 1)
	go func() { cancelled <- s.PutSegment(cctx, "rs0", segName(99), segData("rs0", 99, 1000)) }()
	waitFor(t, "the put to wait for room", func() bool { return s.Status().Waiting == 1 })
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "spool full") {
		t.Fatalf("cancelled put = %v, want context.Canceled saying the spool is full", err)
	}
	if names, _ := s.Segments(testCtx(t), "rs0"); slices.Contains(names, segName(99)) {
		t.Fatal("a cancelled put is listed")
	}

	var upAtReturn bool
	done := make(chan error, 1)
	go func() {
		err := s.PutSegment(testCtx(t), "rs0", segName(3), segData("rs0", 3, 1000))
		upAtReturn = !b.down.Load()
		done <- err
	}()
	waitFor(t, "the put to wait for room", func() bool { return s.Status().Waiting == 1 })
	select {
	case err := <-done:
		t.Fatalf("PutSegment returned %v while the spool was full", err)
	default:
	}
	if c := log.count("spool full"); c != 1 {
		t.Fatalf("%d spool-full warnings, want 1:\n%s", c, log.String())
	}
	if !strings.Contains(log.String(), `"held_by":"b (`) {
		t.Fatalf("the warning does not name the destination holding the spool:\n%s", log.String())
	}
	b.down.Store(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !upAtReturn {
		t.Fatal("PutSegment returned before the destination recovered")
	}
	drained(t, s)
	holds(t, b.Store, "rs0", 4, 1000)
	if log.count("capture resumed") != 1 {
		t.Fatalf("no resume message:\n%s", log.String())
	}
}

// A segment larger than MaxBytes still passes when the spool is empty;
// otherwise capture would stop for good.
func TestOversizedSegmentPassesAlone(t *testing.T) {
	a := newDirStore(t)
	opts := fastOpts(nil)
	opts.MaxBytes = 100
	s := openSpool(t, filepath.Join(t.TempDir(), "spool"), []Dest{{Name: "a", Store: a}}, opts)
	put(t, s, "rs0", 0, 5000)
	put(t, s, "rs0", 1, 5000) // waits for the first to be published
	drained(t, s)
	holds(t, a, "rs0", 2, 5000)
}

// Items pending when the process stops are published after the next start,
// including a segment whose put a crash cut between its bytes and its queue
// entry, and one a destination got before the crash but whose checkpoint did
// not record it (published again: harmless).
func TestRestartDrains(t *testing.T) {
	a := newDirStore(t)
	b := &flaky{Store: newDirStore(t)}
	b.down.Store(true)
	dir := filepath.Join(t.TempDir(), "spool")
	dests := []Dest{{Name: "a", Store: a}, {Name: "b", Store: b}}
	s1, err := Open(testCtx(t), dir, dests, fastOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		put(t, s1, "rs0", i, 1500)
	}
	if err := s1.PutGap(testCtx(t), "rs0", testGap(7)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to have everything", func() bool { return destStatus(s1, "a").Pending == 0 })
	closeNow(t, s1)
	if _, err := os.Stat(filepath.Join(dir, lockName)); err != nil {
		t.Fatal(err)
	}
	// The crash cases: bytes without a queue entry; b holding an item its
	// checkpoint does not cover.
	if err := s1.data.PutSegment(testCtx(t), "rs0", segName(5), segData("rs0", 5, 1500)); err != nil {
		t.Fatal(err)
	}
	if err := b.Store.PutSegment(testCtx(t), "rs0", segName(0), segData("rs0", 0, 1500)); err != nil {
		t.Fatal(err)
	}

	b.down.Store(false)
	s2 := openSpool(t, dir, dests, fastOpts(nil))
	drained(t, s2)
	for _, st := range []store.Store{a, b.Store} {
		holds(t, st, "rs0", 6, 1500)
		if g := gapsOf(t, st, "rs0"); !slices.Equal(g, []string{gapName(testGap(7))}) {
			t.Fatalf("%s: gaps %q", st, g)
		}
	}
}

// Two spools cannot share a directory; a directory holding something else
// is refused.
func TestDirectoryGuards(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	dests := []Dest{{Name: "a", Store: newDirStore(t)}}
	openSpool(t, dir, dests, fastOpts(nil))
	if _, err := Open(testCtx(t), dir, dests, fastOpts(nil)); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open = %v, want in use", err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(testCtx(t), other, dests, fastOpts(nil)); !errors.Is(err, store.ErrNotStore) {
		t.Fatalf("Open(other files) = %v, want ErrNotStore", err)
	}
	for _, bad := range [][]Dest{nil, {{Name: "a", Store: nil}}, {{Name: "../x", Store: dests[0].Store}}, {dests[0], dests[0]}} {
		if _, err := Open(testCtx(t), t.TempDir(), bad, fastOpts(nil)); err == nil {
			t.Errorf("Open(%v) accepted", bad)
		}
	}
}

// A destination that lost an item it was given gets it again from the spool
// while the spool still holds it (another destination lags); a lost item
// the spool no longer has is reported as an error naming it.
func TestLostSegment(t *testing.T) {
	a := newDirStore(t)
	b := &flaky{Store: newDirStore(t)}
	b.down.Store(true)
	dir := filepath.Join(t.TempDir(), "spool")
	dests := []Dest{{Name: "a", Store: a}, {Name: "b", Store: b}}
	s1, err := Open(testCtx(t), dir, dests, fastOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		put(t, s1, "rs0", i, 500)
	}
	waitFor(t, "a to have everything", func() bool { return destStatus(s1, "a").Pending == 0 })
	closeNow(t, s1)
	// a loses segment 1, which the spool still holds for b.
	if err := a.DeleteSegment(testCtx(t), "rs0", segName(1)); err != nil {
		t.Fatal(err)
	}
	var log logBuf
	s2, err := Open(testCtx(t), dir, dests, fastOpts(&log))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to be checked and caught up", func() bool {
		d := destStatus(s2, "a")
		return d.Verified && d.Pending == 0
	})
	holds(t, a, "rs0", 3, 500)
	if !strings.Contains(log.String(), "publishing it again") {
		t.Fatalf("no message about the republish:\n%s", log.String())
	}
	b.down.Store(false)
	drained(t, s2)
	closeNow(t, s2)

	// Now the spool is empty: b loses its newest segment, which nobody can
	// give back from the spool.
	if err := b.Store.DeleteSegment(testCtx(t), "rs0", segName(2)); err != nil {
		t.Fatal(err)
	}
	log = logBuf{}
	s3 := openSpool(t, dir, dests, fastOpts(&log))
	waitFor(t, "b to be checked", func() bool { return destStatus(s3, "b").Verified })
	want := "segment rs0/" + segName(2)
	if lost := destStatus(s3, "b").Lost; !slices.Equal(lost, []string{want}) {
		t.Fatalf("b's lost items = %q, want %q", lost, want)
	}
	if l := log.String(); !strings.Contains(l, "DATA LOST") || !strings.Contains(l, segName(2)) || !strings.Contains(l, `"level":"error"`) {
		t.Fatalf("the loss is not reported as an error naming the segment:\n%s", l)
	}
	if lost := destStatus(s3, "a").Lost; len(lost) != 0 {
		t.Fatalf("a reported lost %q", lost)
	}
}

// Pruning a segment still pending for a destination fails (after waiting)
// and deletes nothing; once everywhere, it is deleted everywhere, and the
// next start does not take the deletion for a loss.
func TestDeletePending(t *testing.T) {
	a := newDirStore(t)
	b := &flaky{Store: newDirStore(t)}
	b.down.Store(true)
	opts := fastOpts(nil)
	opts.DeleteWait = 50 * time.Millisecond
	dir := filepath.Join(t.TempDir(), "spool")
	dests := []Dest{{Name: "a", Store: a}, {Name: "b", Store: b}}
	s := openSpool(t, dir, dests, opts)
	put(t, s, "rs0", 0, 100)
	put(t, s, "rs0", 1, 100)
	waitFor(t, "a to have everything", func() bool { return destStatus(s, "a").Pending == 0 })
	err := s.DeleteSegment(testCtx(t), "rs0", segName(1))
	if !errors.Is(err, ErrPending) || !strings.Contains(err.Error(), "destination b") {
		t.Fatalf("DeleteSegment of a pending segment = %v, want ErrPending naming b", err)
	}
	holds(t, a, "rs0", 2, 100)
	b.down.Store(false)
	drained(t, s)
	if err := s.DeleteSegment(testCtx(t), "rs0", segName(1)); err != nil {
		t.Fatal(err)
	}
	for _, st := range []store.Store{a, b, s} {
		holds(t, st, "rs0", 1, 100)
	}
	closeNow(t, s)
	s2 := openSpool(t, dir, dests, opts)
	waitFor(t, "both to be checked", func() bool { return destStatus(s2, "a").Verified && destStatus(s2, "b").Verified })
	for _, d := range s2.Status().Dests {
		if len(d.Lost) != 0 {
			t.Fatalf("%s: a pruned segment reported lost: %q", d.Name, d.Lost)
		}
	}
}

// Close drains what it can within its context.
func TestCloseDrains(t *testing.T) {
	a := newDirStore(t)
	s, err := Open(testCtx(t), filepath.Join(t.TempDir(), "spool"), []Dest{{Name: "a", Store: a}}, fastOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		put(t, s, "rs0", i, 1000)
	}
	if err := s.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	holds(t, a, "rs0", 5, 1000)
	if err := s.PutSegment(testCtx(t), "rs0", segName(9), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after Close = %v, want ErrClosed", err)
	}
}
