// Package storetest is the conformance suite of store.Store: every
// implementation (directory, object storage, Kafka) runs Run from its own
// tests. The suite checks behaviour only, through the Store interface, never
// an implementation's layout.
//
// Contract pinned here beyond the interface's comments:
//   - Segments and Gaps of a stream with nothing in the store return an empty
//     list and no error (object stores cannot tell "empty" from "unknown");
//     OpenSegment of a missing segment or stream wraps store.ErrNotExist.
//   - Recording the same gap twice lists it once.
//   - Streams lists only streams that currently have a segment or a gap.
//   - A done context makes every method fail with an error wrapping the
//     context's error, and nothing is stored.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
)

// Run runs the conformance suite. newStore must return a new, empty store
// for each call; it is called once per subtest and may use t.TempDir and
// t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"PutOpenRoundTrip", testRoundTrip},
		{"EmptySegment", testEmptySegment},
		{"ListOrder", testListOrder},
		{"IdempotentPut", testIdempotentPut},
		{"MissingSegment", testMissingSegment},
		{"Delete", testDelete},
		{"GapsRoundTripAndOrder", testGaps},
		{"Streams", testStreams},
		{"StreamsIsolated", testStreamsIsolated},
		{"ConcurrentPuts", testConcurrentPuts},
		{"NoPartialReads", testNoPartialReads},
		{"LargeSegment", testLargeSegment},
		{"ContextCancelled", testContextCancelled},
		{"SnapshotFiles", testSnapshotFiles},
		{"SnapshotBadNames", testSnapshotBadNames},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// segmentName returns a segment name of the form segment.Name produces for
// [start, end]; the suite makes its own to depend on package store only.
func segmentName(start, end oplog.Timestamp) string {
	return fmt.Sprintf("%010d.%010d-%010d.%010d.tseg", start.T, start.I, end.T, end.I)
}

// name is Name for [T.i, T.i+1] at second 1700000000.
func name(i uint32) string {
	return segmentName(oplog.Timestamp{T: 1700000000, I: i}, oplog.Timestamp{T: 1700000000, I: i + 1})
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, s store.Store, stream, name string, data []byte) {
	t.Helper()
	if err := s.PutSegment(context.Background(), stream, name, data); err != nil {
		t.Fatalf("PutSegment(%s, %s): %v", stream, name, err)
	}
}

func read(t *testing.T, s store.Store, stream, name string) []byte {
	t.Helper()
	rc, err := s.OpenSegment(context.Background(), stream, name)
	if err != nil {
		t.Fatalf("OpenSegment(%s, %s): %v", stream, name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s/%s: %v", stream, name, err)
	}
	return data
}

func list(t *testing.T, s store.Store, stream string) []string {
	t.Helper()
	names, err := s.Segments(context.Background(), stream)
	if err != nil {
		t.Fatalf("Segments(%s): %v", stream, err)
	}
	return names
}

func gaps(t *testing.T, s store.Store, stream string) []store.Gap {
	t.Helper()
	g, err := s.Gaps(context.Background(), stream)
	if err != nil {
		t.Fatalf("Gaps(%s): %v", stream, err)
	}
	return g
}

func streams(t *testing.T, s store.Store) []string {
	t.Helper()
	names, err := s.Streams(context.Background())
	if err != nil {
		t.Fatalf("Streams: %v", err)
	}
	return names
}

func wantNames(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	data := randomBytes(t, 64<<10)
	put(t, s, "rs0", name(1), data)
	if got := read(t, s, "rs0", name(1)); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, differ from the %d put", len(got), len(data))
	}
	wantNames(t, "Segments(rs0)", list(t, s, "rs0"), []string{name(1)})
}

func testEmptySegment(t *testing.T, s store.Store) {
	put(t, s, "rs0", name(1), nil)
	if got := read(t, s, "rs0", name(1)); len(got) != 0 {
		t.Fatalf("read back %d bytes of an empty segment", len(got))
	}
}

func testListOrder(t *testing.T, s store.Store) {
	wantNames(t, "Segments of an empty store", list(t, s, "rs0"), nil)
	order := []uint32{5, 1, 9, 3, 7, 2}
	for _, i := range order {
		put(t, s, "rs0", name(i), []byte{byte(i)})
	}
	var want []string
	for _, i := range []uint32{1, 2, 3, 5, 7, 9} {
		want = append(want, name(i))
	}
	wantNames(t, "Segments(rs0)", list(t, s, "rs0"), want)
}

func testIdempotentPut(t *testing.T, s store.Store) {
	data := randomBytes(t, 4096)
	put(t, s, "rs0", name(1), data)
	put(t, s, "rs0", name(1), data)
	wantNames(t, "Segments(rs0)", list(t, s, "rs0"), []string{name(1)})
	if got := read(t, s, "rs0", name(1)); !bytes.Equal(got, data) {
		t.Fatal("bytes differ after putting the same segment twice")
	}
}

func testMissingSegment(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.OpenSegment(ctx, "rs0", name(1)); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("OpenSegment in a missing stream: err = %v, want ErrNotExist", err)
	}
	put(t, s, "rs0", name(1), []byte("x"))
	if _, err := s.OpenSegment(ctx, "rs0", name(2)); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("OpenSegment of a missing segment: err = %v, want ErrNotExist", err)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	put(t, s, "rs0", name(1), []byte("one"))
	put(t, s, "rs0", name(2), []byte("two"))
	if err := s.DeleteSegment(ctx, "rs0", name(1)); err != nil {
		t.Fatalf("DeleteSegment: %v", err)
	}
	wantNames(t, "Segments after delete", list(t, s, "rs0"), []string{name(2)})
	if _, err := s.OpenSegment(ctx, "rs0", name(1)); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("OpenSegment of a deleted segment: err = %v, want ErrNotExist", err)
	}
	if err := s.DeleteSegment(ctx, "rs0", name(1)); err != nil {
		t.Fatalf("DeleteSegment of a deleted segment: %v", err)
	}
	if err := s.DeleteSegment(ctx, "rs0", name(3)); err != nil {
		t.Fatalf("DeleteSegment of a never-stored segment: %v", err)
	}
	if err := s.DeleteSegment(ctx, "nosuchstream", name(1)); err != nil {
		t.Fatalf("DeleteSegment in a missing stream: %v", err)
	}
	if got := read(t, s, "rs0", name(2)); string(got) != "two" {
		t.Fatalf("surviving segment reads %q", got)
	}
}

func gap(after, next uint32, reason string) store.Gap {
	return store.Gap{
		After:    oplog.Timestamp{T: 1700000000 + after, I: 1},
		Next:     oplog.Timestamp{T: 1700000000 + next, I: 7},
		Detected: time.Date(2026, 11, 21, 10, 0, int(after), 123456789, time.UTC),
		Reason:   reason,
	}
}

func sameGaps(t *testing.T, got, want []store.Gap) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d gaps %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.After != w.After || g.Next != w.Next || g.Reason != w.Reason || !g.Detected.Equal(w.Detected) {
			t.Fatalf("gap %d = %+v, want %+v", i, g, w)
		}
	}
}

func testGaps(t *testing.T, s store.Store) {
	ctx := context.Background()
	sameGaps(t, gaps(t, s, "rs0"), nil)
	g3, g1, g2 := gap(30, 40, "oplog rolled over"), gap(10, 20, "first"), gap(20, 25, "second")
	for _, g := range []store.Gap{g3, g1, g2} {
		if err := s.PutGap(ctx, "rs0", g); err != nil {
			t.Fatalf("PutGap: %v", err)
		}
	}
	sameGaps(t, gaps(t, s, "rs0"), []store.Gap{g1, g2, g3})
	if err := s.PutGap(ctx, "rs0", g2); err != nil {
		t.Fatalf("PutGap again: %v", err)
	}
	sameGaps(t, gaps(t, s, "rs0"), []store.Gap{g1, g2, g3})
	sameGaps(t, gaps(t, s, "rs1"), nil)
}

func testStreams(t *testing.T, s store.Store) {
	ctx := context.Background()
	wantNames(t, "Streams of an empty store", streams(t, s), nil)
	put(t, s, "rs1", name(1), []byte("a"))
	put(t, s, "cfg", name(1), []byte("b"))
	if err := s.PutGap(ctx, "rs0", gap(1, 2, "only a gap")); err != nil {
		t.Fatalf("PutGap: %v", err)
	}
	put(t, s, "rs1", name(2), []byte("c"))
	wantNames(t, "Streams", streams(t, s), []string{"cfg", "rs0", "rs1"})
	if err := s.DeleteSegment(ctx, "cfg", name(1)); err != nil {
		t.Fatalf("DeleteSegment: %v", err)
	}
	wantNames(t, "Streams after deleting cfg's only segment", streams(t, s), []string{"rs0", "rs1"})
}

func testStreamsIsolated(t *testing.T, s store.Store) {
	ctx := context.Background()
	put(t, s, "rs0", name(1), []byte("rs0-1"))
	put(t, s, "rs1", name(1), []byte("rs1-1"))
	put(t, s, "rs1", name(2), []byte("rs1-2"))
	if err := s.PutGap(ctx, "rs1", gap(5, 6, "rs1 only")); err != nil {
		t.Fatalf("PutGap: %v", err)
	}
	wantNames(t, "Segments(rs0)", list(t, s, "rs0"), []string{name(1)})
	wantNames(t, "Segments(rs1)", list(t, s, "rs1"), []string{name(1), name(2)})
	if got := read(t, s, "rs0", name(1)); string(got) != "rs0-1" {
		t.Fatalf("rs0 segment reads %q", got)
	}
	sameGaps(t, gaps(t, s, "rs0"), nil)
	if err := s.DeleteSegment(ctx, "rs0", name(1)); err != nil {
		t.Fatalf("DeleteSegment: %v", err)
	}
	if got := read(t, s, "rs1", name(1)); string(got) != "rs1-1" {
		t.Fatalf("rs1 segment reads %q after deleting rs0's", got)
	}
}

func testConcurrentPuts(t *testing.T, s store.Store) {
	const writers, each = 16, 8
	streamOf := func(w int) string { return fmt.Sprintf("rs%d", w%3) }
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := uint32(w*each + i)
				if err := s.PutSegment(context.Background(), streamOf(w), name(n), []byte(name(n))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent PutSegment: %v", err)
	}
	want := map[string][]string{}
	for w := range writers {
		for i := range each {
			want[streamOf(w)] = append(want[streamOf(w)], name(uint32(w*each+i)))
		}
	}
	for stream, names := range want {
		slices.Sort(names)
		wantNames(t, "Segments("+stream+")", list(t, s, stream), names)
		for _, n := range names {
			if got := read(t, s, stream, n); string(got) != n {
				t.Fatalf("%s/%s reads %q", stream, n, got)
			}
		}
	}
}

// testNoPartialReads checks the store's central invariant: while a segment is
// being put, readers either do not see it or see all of it.
func testNoPartialReads(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 6
	data := randomBytes(t, 2<<20)
	done := make(chan error, 1)
	go func() {
		for i := range uint32(n) {
			if err := s.PutSegment(context.Background(), "rs0", name(i), data); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var writeErr error
	seen := map[string]bool{} // each segment is read when first listed
	for finished := false; !finished; {
		select {
		case writeErr = <-done:
			finished = true
		default:
		}
		names, err := s.Segments(ctx, "rs0")
		if err != nil {
			t.Fatalf("Segments while writing: %v", err)
		}
		for _, nm := range names {
			if seen[nm] {
				continue
			}
			seen[nm] = true
			if got := read(t, s, "rs0", nm); !bytes.Equal(got, data) {
				t.Fatalf("listed segment %s read %d bytes while being written, want all %d", nm, len(got), len(data))
			}
		}
	}
	if writeErr != nil {
		t.Fatalf("PutSegment: %v", writeErr)
	}
	if got := list(t, s, "rs0"); len(got) != n {
		t.Fatalf("%d segments listed after writing, want %d", len(got), n)
	}
}

func testLargeSegment(t *testing.T, s store.Store) {
	data := randomBytes(t, 20<<20)
	put(t, s, "rs0", name(1), data)
	if got := read(t, s, "rs0", name(1)); !bytes.Equal(got, data) {
		t.Fatalf("large segment: read back %d bytes that differ from the %d put", len(got), len(data))
	}
}

func testContextCancelled(t *testing.T, s store.Store) {
	put(t, s, "rs0", name(1), []byte("kept"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", op, err)
		}
	}
	check("PutSegment", s.PutSegment(ctx, "rs0", name(2), []byte("lost")))
	rc, err := s.OpenSegment(ctx, "rs0", name(1))
	if err == nil {
		rc.Close()
	}
	check("OpenSegment", err)
	_, err = s.Segments(ctx, "rs0")
	check("Segments", err)
	check("DeleteSegment", s.DeleteSegment(ctx, "rs0", name(1)))
	check("PutGap", s.PutGap(ctx, "rs0", gap(1, 2, "lost")))
	_, err = s.Gaps(ctx, "rs0")
	check("Gaps", err)
	_, err = s.Streams(ctx)
	check("Streams", err)

	wantNames(t, "Segments after cancelled calls", list(t, s, "rs0"), []string{name(1)})
	sameGaps(t, gaps(t, s, "rs0"), nil)
}

// Snapshot files round-trip byte for byte, list sorted per snapshot, make
// their stream listed, and go away with their snapshot.
func testSnapshotFiles(t *testing.T, s store.Store) {
	ctx := context.Background()
	big := randomBytes(t, 3<<20)
	files := map[string][]byte{"manifest.json": []byte(`{"v":1}`), "a.b.0000.bson.lz4": big, "empty": nil}
	for name, data := range files {
		n, err := s.PutSnapshotFile(ctx, "rs0", "snap-1", name, bytes.NewReader(data))
		if err != nil || n != int64(len(data)) {
			t.Fatalf("put %s: %d bytes, %v; want %d", name, n, err, len(data))
		}
	}
	if _, err := s.PutSnapshotFile(ctx, "rs0", "snap-2", "x", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	got, err := s.SnapshotFiles(ctx, "rs0", "snap-1")
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, "snapshot files", got, []string{"a.b.0000.bson.lz4", "empty", "manifest.json"})
	ids, err := s.Snapshots(ctx, "rs0")
	if err != nil {
		t.Fatal(err)
	}
	wantNames(t, "snapshots", ids, []string{"snap-1", "snap-2"})
	wantNames(t, "streams", streams(t, s), []string{"rs0"})
	for name, data := range files {
		r, err := s.OpenSnapshotFile(ctx, "rs0", "snap-1", name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("read %s: %d bytes (%v), want the %d put", name, len(b), err, len(data))
		}
	}
	if _, err := s.OpenSnapshotFile(ctx, "rs0", "snap-1", "missing"); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("open a missing file: %v, want ErrNotExist", err)
	}
	if err := s.DeleteSnapshot(ctx, "rs0", "snap-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSnapshot(ctx, "rs0", "snap-1"); err != nil {
		t.Errorf("delete a missing snapshot: %v", err)
	}
	ids, _ = s.Snapshots(ctx, "rs0")
	wantNames(t, "snapshots after delete", ids, []string{"snap-2"})
	if _, err := s.OpenSnapshotFile(ctx, "rs0", "snap-1", "manifest.json"); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("open a deleted snapshot's file: %v, want ErrNotExist", err)
	}
}

// IDs and names that could escape the snapshot or hide are refused.
func testSnapshotBadNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, c := range [][2]string{{"../x", "f"}, {".hidden", "f"}, {"", "f"}, {"ok", "../f"}, {"ok", ".tmp-f"}, {"ok", "a/b"}} {
		if _, err := s.PutSnapshotFile(ctx, "rs0", c[0], c[1], strings.NewReader("x")); err == nil {
			t.Errorf("put snapshot %q file %q accepted", c[0], c[1])
		}
	}
}
