package spool

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidelog/tidelog/store"
)

// opener opens st for Dest.Open, failing while down is set: a store that
// cannot be reached when the spool opens.
type opener struct {
	st       store.Store
	down     atomic.Bool
	attempts atomic.Int64
}

func (o *opener) open(ctx context.Context) (store.Store, error) {
	o.attempts.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.down.Load() {
		return nil, errDown
	}
	return o.st, nil
}

func (o *opener) dest(name string) Dest {
	return Dest{Name: name, Open: o.open, Location: "later:" + name, OpenErr: errors.New("connection refused at start")}
}

// A destination that could not be opened at start holds nothing back: puts
// reach the primary, it shows as failing (not open, with the start's
// error), everything waits in the spool for it (a full spool pauses puts,
// naming it), and its publisher keeps trying; once it opens it gets every
// item, and the spool empties.
func TestDestinationOpenedLater(t *testing.T) {
	a := newDirStore(t)
	o := &opener{st: newDirStore(t)}
	o.down.Store(true)
	var log logBuf
	opts := fastOpts(&log)
	opts.MaxBytes = 4000
	s := openSpool(t, filepath.Join(t.TempDir(), "spool"), []Dest{{Name: "a", Store: a}, o.dest("b")}, opts)

	bs := destStatus(s, "b")
	if bs.Open || bs.FailingSince.IsZero() || bs.LastError != "connection refused at start" || bs.Store != "later:b" {
		t.Fatalf("status of a destination not open at start: %+v", bs)
	}
	if !destStatus(s, "a").Open {
		t.Fatal("the primary shows as not open")
	}
	if l := log.String(); log.count("destination not open") != 1 || !strings.Contains(l, `"dest":"b"`) ||
		!strings.Contains(l, "waits in the spool") || !strings.Contains(l, `"level":"error"`) {
		t.Fatalf("the spool did not say loudly, once, that b is not open and its items wait:\n%s", l)
	}
	if got := s.String(); !strings.Contains(got, ", b=later:b]") {
		t.Fatalf("String() = %q", got)
	}

	for i := range 4 {
		put(t, s, "rs0", i, 1000)
	}
	waitFor(t, "a to have everything", func() bool { return destStatus(s, "a").Pending == 0 })
	holds(t, a, "rs0", 4, 1000)
	waitFor(t, "more attempts to open b", func() bool { return o.attempts.Load() >= 3 })
	bs = destStatus(s, "b")
	if bs.Open || bs.Pending != 4 || bs.FailingSince.IsZero() || !strings.Contains(bs.LastError, "injected outage") ||
		!strings.Contains(bs.LastError, "open destination b") {
		t.Fatalf("status of b while it cannot be opened: %+v", bs)
	}
	if st := s.Status(); st.Items != 4 {
		t.Fatalf("the spool holds %d items while b has none, want 4 (nothing leaves before every destination has it)", st.Items)
	}

	// The spool is full (4000 of 4000 bytes): the next put waits, naming b.
	done := make(chan error, 1)
	go func() { done <- s.PutSegment(testCtx(t), "rs0", segName(4), segData("rs0", 4, 1000)) }()
	waitFor(t, "the put to wait for room", func() bool { return s.Status().Waiting == 1 })
	if !strings.Contains(log.String(), `"held_by":"b (later:b)"`) {
		t.Fatalf("the spool-full warning does not name b:\n%s", log.String())
	}

	o.down.Store(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	drained(t, s)
	for _, st := range []store.Store{a, o.st} {
		holds(t, st, "rs0", 5, 1000)
	}
	bs = destStatus(s, "b")
	if !bs.Open || !bs.FailingSince.IsZero() || bs.LastError != "" || !strings.HasPrefix(bs.Store, "dir:") {
		t.Fatalf("status of b once open: %+v", bs)
	}
	if log.count("destination open;") != 1 || log.count("destination back") != 1 {
		t.Fatalf("no message that b opened and catches up:\n%s", log.String())
	}
}

// A destination not open keeps in the spool what its checkpoint says it
// holds (its check, once open, may need to send it again); a segment
// retention deletes is kept in the primary while the destination cannot
// be reached, and deleted everywhere once it is open.
func TestDestinationOpenedLaterAfterRestart(t *testing.T) {
	a := &flaky{Store: newDirStore(t)}
	b := newDirStore(t)
	dir := filepath.Join(t.TempDir(), "spool")
	opts := fastOpts(nil)
	s1, err := Open(testCtx(t), dir, []Dest{{Name: "a", Store: a}, {Name: "b", Store: b}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s1, "rs0", 0, 500)
	drained(t, s1)
	a.down.Store(true)
	put(t, s1, "rs0", 1, 500)
	waitFor(t, "b to have segment 1", func() bool { return destStatus(s1, "b").Pending == 0 })
	closeNow(t, s1)

	// Restart: a (the primary) is back, b cannot be reached.
	a.down.Store(false)
	o := &opener{st: b}
	o.down.Store(true)
	var log logBuf
	opts = fastOpts(&log)
	opts.DeleteWait = 50 * time.Millisecond
	s2 := openSpool(t, dir, []Dest{{Name: "a", Store: a}, o.dest("b")}, opts)
	waitFor(t, "a to catch up", func() bool { return destStatus(s2, "a").Pending == 0 })
	holds(t, a, "rs0", 2, 500)
	waitFor(t, "more attempts to open b", func() bool { return o.attempts.Load() >= 3 })
	if st := s2.Status(); st.Items != 1 {
		t.Fatalf("the spool holds %d items, want segment 1 kept until b is open and checked", st.Items)
	}
	err = s2.DeleteSegment(testCtx(t), "rs0", segName(0))
	if err == nil || !strings.Contains(err.Error(), "destination b") || !strings.Contains(err.Error(), "not open yet") {
		t.Fatalf("DeleteSegment with b not open = %v, want an error naming b", err)
	}
	holds(t, a, "rs0", 2, 500)

	o.down.Store(false)
	drained(t, s2)
	if err := s2.DeleteSegment(testCtx(t), "rs0", segName(0)); err != nil {
		t.Fatal(err)
	}
	if names, err := b.Segments(testCtx(t), "rs0"); err != nil || len(names) != 1 || names[0] != segName(1) {
		t.Fatalf("b holds %q (%v), want segment 1 only", names, err)
	}
	if names, err := s2.Segments(testCtx(t), "rs0"); err != nil || len(names) != 1 {
		t.Fatalf("the spool lists %q (%v), want segment 1 only", names, err)
	}
	if strings.Contains(log.String(), "now names another store") {
		t.Fatalf("b's store taken for another one:\n%s", log.String())
	}
}

// The primary cannot be opened later (reads go to it); a Dest has a store
// or an Open function, not both.
func TestOpenLaterGuards(t *testing.T) {
	a := newDirStore(t)
	o := &opener{st: newDirStore(t)}
	for _, bad := range [][]Dest{
		{o.dest("a"), {Name: "b", Store: a}},
		{{Name: "a", Store: a}, {Name: "b", Store: a, Open: o.open}},
	} {
		if _, err := Open(testCtx(t), t.TempDir(), bad, fastOpts(nil)); err == nil {
			t.Errorf("Open(%v) accepted", bad)
		}
	}
	if o.attempts.Load() != 0 {
		t.Fatal("a refused Open called Dest.Open")
	}
}

// Stopped while a destination is still not open (SIGTERM during its
// outage), the spool waits only as long as Close's context for it, stops
// its publisher's attempts to open it, and keeps what waits for it: the
// next start, with the store reachable, gives it everything.
func TestCloseWithDestinationNotOpen(t *testing.T) {
	a, b := newDirStore(t), newDirStore(t)
	o := &opener{st: b}
	o.down.Store(true)
	var closed, calledAfterClose atomic.Bool
	open := func(ctx context.Context) (store.Store, error) {
		if closed.Load() {
			calledAfterClose.Store(true)
		}
		return o.open(ctx)
	}
	var log logBuf
	dir := filepath.Join(t.TempDir(), "spool")
	s1, err := Open(testCtx(t), dir, []Dest{{Name: "a", Store: a}, {Name: "b", Open: open, Location: "later:b"}}, fastOpts(&log))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		put(t, s1, "rs0", i, 500)
	}
	waitFor(t, "a to have everything", func() bool { return destStatus(s1, "a").Pending == 0 })
	waitFor(t, "attempts to open b", func() bool { return o.attempts.Load() >= 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed.Store(true)
	if st := s1.Status(); st.Items != 3 || !strings.Contains(log.String(), "spool closed with items not yet published everywhere") {
		t.Fatalf("closed with b not open: %d items kept, want 3\n%s", st.Items, log.String())
	}

	s2 := openSpool(t, dir, []Dest{{Name: "a", Store: a}, {Name: "b", Store: b}}, fastOpts(nil))
	drained(t, s2)
	for _, st := range []store.Store{a, b} {
		holds(t, st, "rs0", 3, 500)
	}
	if calledAfterClose.Load() {
		t.Fatal("Dest.Open was called after Close returned")
	}
}
