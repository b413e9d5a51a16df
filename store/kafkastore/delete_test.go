package kafkastore

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
)

// firstOffset is where the listed copy of a segment begins.
func firstOffset(t *testing.T, s *Store, stream, name string) int64 {
	t.Helper()
	var off int64 = -1
	if err := s.refreshed(testCtx(t), stream, func(ix *topicIndex) {
		if o := ix.segments[name]; o != nil {
			off = o.offsets[0]
		}
	}); err != nil || off < 0 {
		t.Fatalf("%s is not listed (%v)", name, err)
	}
	return off
}

// Deleted segments vanish from listings at once; DeleteRecords gives back a
// prefix as soon as only dead records precede the first live one; gaps in
// the way are moved, not lost; a fresh store agrees.
func TestDeleteFreesPrefix(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, testConfig(c))
	ctx := testCtx(t)
	gap := store.Gap{After: oplog.Timestamp{T: 1, I: 1}, Next: oplog.Timestamp{T: 2, I: 1}, Reason: "first"}
	if err := s.PutGap(ctx, "rs0", gap); err != nil { // at offset 0: pins the prefix unless moved
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		if err := s.PutSegment(ctx, "rs0", segName(i), randomBytes(t, 100<<10)); err != nil {
			t.Fatal(err)
		}
	}
	del := func(i int) {
		t.Helper()
		if err := s.DeleteSegment(ctx, "rs0", segName(i)); err != nil {
			t.Fatalf("DeleteSegment(%d): %v", i, err)
		}
	}
	wantStart := func(want int64) {
		t.Helper()
		if got := topicOffsets(t, s, "rs0").start; got != want {
			t.Fatalf("log start offset = %d, want %d", got, want)
		}
	}
	wantListed := func(s *Store, want ...string) {
		t.Helper()
		names, err := s.Segments(ctx, "rs0")
		if err != nil || !slices.Equal(names, want) {
			t.Fatalf("Segments = %q, %v; want %q", names, err, want)
		}
		gaps, err := s.Gaps(ctx, "rs0")
		if err != nil || len(gaps) != 1 || gaps[0].After != gap.After {
			t.Fatalf("Gaps = %+v, %v; want the one gap", gaps, err)
		}
	}
	wantStart(0)

	seg2, seg4 := firstOffset(t, s, "rs0", segName(2)), firstOffset(t, s, "rs0", segName(4))
	del(1) // a prefix (with the gap moved out of it)
	wantListed(s, segName(2), segName(3), segName(4))
	wantStart(seg2)

	del(3) // in the middle: hidden, but segment 2 still pins the log
	wantListed(s, segName(2), segName(4))
	wantStart(seg2)
	if _, err := s.OpenSegment(ctx, "rs0", segName(3)); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("OpenSegment of a deleted segment = %v, want ErrNotExist", err)
	}

	del(2) // now 2 and 3 are a dead prefix
	wantListed(s, segName(4))
	wantStart(seg4)
	wantListed(openStore(t, testConfig(c)), segName(4))

	del(4) // nothing live but the gap
	wantListed(s)
	wantStart(topicOffsets(t, s, "rs0").end - 1) // the gap's latest copy
	if streams, err := s.Streams(ctx); err != nil || !slices.Equal(streams, []string{"rs0"}) {
		t.Fatalf("Streams = %q, %v; want rs0 (it has a gap)", streams, err)
	}
}

// A snapshot deleted together with the segments before it frees them all.
func TestDeleteSnapshotFreesPrefix(t *testing.T) {
	s := openStore(t, testConfig(newCluster(t)))
	ctx := testCtx(t)
	if err := s.PutSegment(ctx, "rs0", segName(1), randomBytes(t, 100<<10)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSnapshotFile(ctx, "rs0", "old", "f", bytesReader(randomBytes(t, 100<<10))); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSegment(ctx, "rs0", segName(2), randomBytes(t, 10)); err != nil {
		t.Fatal(err)
	}
	seg2 := firstOffset(t, s, "rs0", segName(2))
	if err := s.DeleteSegment(ctx, "rs0", segName(1)); err != nil {
		t.Fatal(err)
	}
	if got := topicOffsets(t, s, "rs0").start; got == seg2 || got == 0 {
		t.Fatalf("log start = %d: want past segment 1, before the snapshot (segment 2 at %d)", got, seg2)
	}
	if err := s.DeleteSnapshot(ctx, "rs0", "old"); err != nil {
		t.Fatal(err)
	}
	if got := topicOffsets(t, s, "rs0").start; got != seg2 {
		t.Fatalf("log start = %d, want %d (segment 2)", got, seg2)
	}
	if ids, err := s.Snapshots(ctx, "rs0"); err != nil || len(ids) != 0 {
		t.Fatalf("Snapshots = %q, %v; want none", ids, err)
	}
}

// A put so slow that another process, freeing space, took it for abandoned
// and deleted its first frames fails instead of reporting a copy that can
// never be read.
func TestSlowPutCutByOtherProcessFails(t *testing.T) {
	c := newCluster(t)
	a, b := openStore(t, testConfig(c)), openStore(t, testConfig(c))
	// Every put of a counts as slow, every copy b does not write as stale.
	a.staleAge, b.staleAge = time.Nanosecond, time.Nanosecond
	ctx := testCtx(t)
	if err := a.PutSegment(ctx, "rs0", segName(1), []byte("old")); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := a.PutSnapshotFile(ctx, "rs0", "snap", "f", pr)
		done <- err
	}()
	if _, err := pw.Write(randomBytes(t, 3*brokerMaxBytes)); err != nil { // returns once a read it all
		t.Fatal(err)
	}
	for i := 0; ; i++ { // until b sees the put under way: its first frames are in Kafka
		ids, err := b.Snapshots(ctx, "rs0")
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(ids, "snap") {
			break
		}
		if i == 1000 {
			t.Fatal("the put's first frames never reached Kafka")
		}
	}
	if err := b.DeleteSegment(ctx, "rs0", segName(1)); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "put it again") {
		t.Fatalf("PutSnapshotFile whose beginning was freed = %v, want an error", err)
	}
	if files, err := b.SnapshotFiles(ctx, "rs0", "snap"); err != nil || len(files) != 0 {
		t.Fatalf("SnapshotFiles = %q, %v; want none", files, err)
	}
}
