package cycle

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/segment/segmenttest"
	"github.com/tidelog/tidelog/snapshot"
	"github.com/tidelog/tidelog/store/dirstore"
)

// countingStore counts the segment listings and segment reads made of it.
type countingStore struct {
	*dirstore.Store
	lists, opens atomic.Int64
}

func (c *countingStore) Segments(ctx context.Context, stream string) ([]string, error) {
	c.lists.Add(1)
	return c.Store.Segments(ctx, stream)
}

func (c *countingStore) OpenSegment(ctx context.Context, stream, name string) (io.ReadCloser, error) {
	c.opens.Add(1)
	return c.Store.OpenSegment(ctx, stream, name)
}

func (c *countingStore) reads() (lists, opens int64) { return c.lists.Load(), c.opens.Load() }

func countingRunner(t *testing.T, st *countingStore, cfg Config, now time.Time) *Runner {
	cfg.Snapshot.Stream = "rs0"
	r := New(nil, st, nil, cfg, zerolog.New(zerolog.NewTestWriter(t)))
	r.now = func() time.Time { return now }
	return r
}

// encryptionLater returns a store holding the first, plaintext segment
// (1..100) of a chain of two, and a function that publishes the second
// (101..200), encrypted with keys: the stream's encryption begins when it
// is called.
func encryptionLater(t *testing.T, keys *crypt.Keyring) (dir *dirstore.Store, encrypt func()) {
	t.Helper()
	all := testStore(t)
	storeChain(t, all, keys, 1, 2)
	names, err := all.Segments(t.Context(), "rs0")
	if err != nil || len(names) != 2 {
		t.Fatalf("segments %v, %v", names, err)
	}
	dir = testStore(t)
	copySegment(t, all, dir, names[0])
	return dir, func() { copySegment(t, all, dir, names[1]) }
}

// copySegment stores segment name of rs0 from one store in another, as
// tailerd would publish it.
func copySegment(t *testing.T, from, to *dirstore.Store, name string) {
	t.Helper()
	rc, err := from.OpenSegment(t.Context(), "rs0", name)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := to.PutSegment(t.Context(), "rs0", name, data); err != nil {
		t.Fatal(err)
	}
}

// The schedule counts from the newest snapshot the stream can use: a
// forged plaintext manifest after the stream's first encrypted segment does
// not put the next snapshot off. Where encryption began is read from the
// store once: the next passes read no segment header.
func TestScheduleIgnoresForgedSnapshotAndReadsHeadersOnce(t *testing.T) {
	keys := testKeys(t)
	now := time.Now()
	dir := testStore(t)
	storeChain(t, dir, keys, 1, 3)                                                                  // 1..100 plaintext, 101..300 encrypted
	putManifest(t, dir, "20231114T221320Z-1700000000.0000000002", 2, 5, now.Add(-2*time.Hour), nil) // before encryption: the stream's own
	putManifest(t, dir, "20231114T231320Z-1700000000.0000000250", 250, 260, now.Add(-time.Minute), nil)
	st := &countingStore{Store: dir}
	r := countingRunner(t, st, Config{Every: time.Hour, Snapshot: snapshot.Options{Keys: keys}}, now)
	for pass := 1; pass <= 3; pass++ {
		lists, opens := st.reads()
		wait, err := r.untilDue(t.Context(), "rs0")
		if err != nil || wait != 0 {
			t.Fatalf("pass %d: untilDue = %v, %v; want 0: the real snapshot is 2h old, the forged one must not count", pass, wait, err)
		}
		l2, o2 := st.reads()
		if pass > 1 && (l2 != lists || o2 != opens) {
			t.Errorf("pass %d listed segments %d times and read %d segment headers; want none: where encryption began is known", pass, l2-lists, o2-opens)
		}
	}
}

// Encryption that begins after the first look (the first segment tailerd
// writes with its key) is noticed at the next pass: a forged plaintext
// manifest starting in the new encrypted segment does not count.
func TestScheduleNoticesEncryptionBeginningLater(t *testing.T) {
	keys := testKeys(t)
	now := time.Now()
	dir, encrypt := encryptionLater(t, keys)
	putManifest(t, dir, "20231114T221320Z-1700000000.0000000002", 2, 5, now.Add(-2*time.Hour), nil)
	st := &countingStore{Store: dir}
	r := countingRunner(t, st, Config{Every: time.Hour, Snapshot: snapshot.Options{Keys: keys}}, now)
	if wait, err := r.untilDue(t.Context(), "rs0"); err != nil || wait != 0 {
		t.Fatalf("before encryption: untilDue = %v, %v; want 0", wait, err)
	}
	encrypt()
	putManifest(t, dir, "20231114T231320Z-1700000000.0000000150", 150, 160, now.Add(-time.Minute), nil)
	_, opens := st.reads()
	if wait, err := r.untilDue(t.Context(), "rs0"); err != nil || wait != 0 {
		t.Fatalf("after the first encrypted segment: untilDue = %v, %v; want 0: the plaintext snapshot inside it is forged", wait, err)
	}
	if _, o := st.reads(); o-opens != 1 {
		t.Errorf("read %d segment headers; want 1, the new segment's", o-opens)
	}
}

// A plaintext segment forged with a name past the stream's newest does not
// hide the encrypted segments published after it: a forged plaintext
// manifest starting in the first of them still does not count.
func TestScheduleNoticesEncryptionBehindAForgedSegment(t *testing.T) {
	keys := testKeys(t)
	now := time.Now()
	dir, encrypt := encryptionLater(t, keys)
	forged := segmenttest.Put(t, dir, "rs0", segment.WriterOptions{}, segment.Link{}, oplog.Timestamp{T: 4000000000, I: 1}, 1)
	putManifest(t, dir, "20231114T221320Z-1700000000.0000000002", 2, 5, now.Add(-2*time.Hour), nil)
	r := countingRunner(t, &countingStore{Store: dir}, Config{Every: time.Hour, Snapshot: snapshot.Options{Keys: keys}}, now)
	if wait, err := r.untilDue(t.Context(), "rs0"); err != nil || wait != 0 {
		t.Fatalf("before encryption: untilDue = %v, %v; want 0", wait, err)
	}
	encrypt()
	putManifest(t, dir, "20231114T231320Z-1700000000.0000000150", 150, 160, now.Add(-time.Minute), nil)
	if wait, err := r.untilDue(t.Context(), "rs0"); err != nil || wait != 0 {
		t.Fatalf("after the first encrypted segment, behind forged %s: untilDue = %v, %v; want 0: the plaintext snapshot inside it is forged",
			forged.Name, wait, err)
	}
}

// Without a key tailerd writes plaintext segments only, so after the first
// look no new segment can be where encryption began: later passes list and
// read no segment at all.
func TestScheduleWithoutKeyLooksOnce(t *testing.T) {
	now := time.Now()
	dir := testStore(t)
	storeChain(t, dir, nil, 2, 2)
	putManifest(t, dir, "20231114T221320Z-1700000000.0000000002", 2, 5, now.Add(-10*time.Minute), nil)
	st := &countingStore{Store: dir}
	r := countingRunner(t, st, Config{Every: time.Hour}, now)
	for pass := 1; pass <= 2; pass++ {
		lists, opens := st.reads()
		if wait, err := r.untilDue(t.Context(), "rs0"); err != nil || wait != 50*time.Minute {
			t.Fatalf("pass %d: untilDue = %v, %v; want 50m", pass, wait, err)
		}
		if l, o := st.reads(); pass > 1 && (l != lists || o != opens) {
			t.Errorf("pass %d listed segments %d times and read %d headers; want none", pass, l-lists, o-opens)
		}
	}
}

// failOnce fails the first open of segment name, as a store that did not
// answer.
type failOnce struct {
	*countingStore
	name   string
	failed atomic.Bool
}

func (f *failOnce) OpenSegment(ctx context.Context, stream, name string) (io.ReadCloser, error) {
	if name == f.name && f.failed.CompareAndSwap(false, true) {
		return nil, errors.New("store did not answer (test)")
	}
	return f.countingStore.OpenSegment(ctx, stream, name)
}

// A look cut short by a failed read keeps what it read: the next one reads
// the rest only, and the one after that nothing.
func TestEncryptionStartKeepsWhatAFailedLookRead(t *testing.T) {
	dir := testStore(t)
	storeChain(t, dir, nil, 3, 3)
	names, err := dir.Segments(t.Context(), "rs0")
	if err != nil || len(names) != 3 {
		t.Fatalf("segments %v, %v", names, err)
	}
	st := &failOnce{countingStore: &countingStore{Store: dir}, name: names[1]}
	e := NewEncryptionStart(st, "rs0", testKeys(t))
	if _, err := e.From(t.Context()); err == nil {
		t.Fatal("From succeeded though a header could not be read")
	}
	for look, want := range []int64{2, 0} { // names[1] and names[2], then none
		_, before := st.reads()
		if from, err := e.From(t.Context()); err != nil || !from.IsZero() {
			t.Fatalf("look %d: From = %v, %v; want zero: no segment is encrypted", look+2, from, err)
		}
		if _, after := st.reads(); after-before != want {
			t.Errorf("look %d read %d segment headers; want %d", look+2, after-before, want)
		}
	}
}
