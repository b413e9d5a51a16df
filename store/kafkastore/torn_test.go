package kafkastore

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/tidelog/tidelog/store"
)

// tornPut produces the first n frames of a put of data, as a producer that
// crashed midway leaves them, and returns how many frames the whole put has.
func tornPut(t *testing.T, s *Store, stream, kind, name string, data []byte, n int) int {
	t.Helper()
	_, recs, err := s.frames(stream, kind, name, data)
	if err != nil {
		t.Fatal(err)
	}
	if n >= len(recs) {
		t.Fatalf("%d frames cannot be torn after %d", len(recs), n)
	}
	if err := s.ensureTopic(testCtx(t), stream); err != nil {
		t.Fatal(err)
	}
	if _, err := s.produceAll(testCtx(t), recs[:n]); err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// A torn copy is never listed; the complete later copy is listed once and
// read; repeating the put changes nothing.
func TestTornWrite(t *testing.T) {
	s := openStore(t, testConfig(newCluster(t)))
	ctx := testCtx(t)
	data := randomBytes(t, 300<<10)
	tornPut(t, s, "rs0", kindSegment, segName(2), randomBytes(t, 300<<10), 3) // torn only, never retried
	tornPut(t, s, "rs0", kindSegment, segName(1), data, 2)

	names, err := s.Segments(ctx, "rs0")
	if err != nil || len(names) != 0 {
		t.Fatalf("Segments after torn writes = %q, %v; want none", names, err)
	}
	if _, err := s.OpenSegment(ctx, "rs0", segName(1)); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("OpenSegment of a torn segment = %v, want ErrNotExist", err)
	}
	streams, err := s.Streams(ctx)
	if err != nil || len(streams) != 0 {
		t.Fatalf("Streams with only torn writes = %q, %v; want none", streams, err)
	}

	for range 2 { // the retry, and a duplicate of it
		if err := s.PutSegment(ctx, "rs0", segName(1), data); err != nil {
			t.Fatal(err)
		}
	}
	names, err = s.Segments(ctx, "rs0")
	if err != nil || !slices.Equal(names, []string{segName(1)}) {
		t.Fatalf("Segments = %q, %v; want only %s", names, err, segName(1))
	}
	if got := readSegment(t, s, "rs0", segName(1)); !bytes.Equal(got, data) {
		t.Fatal("the segment reads other bytes than the complete copy")
	}
}

// An interrupted snapshot file is not listed as a file, its snapshot is
// listed (so that it can be found and deleted), and the delete hides it.
func TestTornSnapshotFile(t *testing.T) {
	s := openStore(t, testConfig(newCluster(t)))
	ctx := testCtx(t)
	tornPut(t, s, "rs0", kindSnapshot, snapshotName("snap-1", "a.bson.lz4"), randomBytes(t, 200<<10), 2)
	files, err := s.SnapshotFiles(ctx, "rs0", "snap-1")
	if err != nil || len(files) != 0 {
		t.Fatalf("SnapshotFiles = %q, %v; want none", files, err)
	}
	ids, err := s.Snapshots(ctx, "rs0")
	if err != nil || !slices.Equal(ids, []string{"snap-1"}) {
		t.Fatalf("Snapshots = %q, %v; want the interrupted snap-1", ids, err)
	}
	if err := s.DeleteSnapshot(ctx, "rs0", "snap-1"); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.Snapshots(ctx, "rs0"); err != nil || len(ids) != 0 {
		t.Fatalf("Snapshots after delete = %q, %v; want none", ids, err)
	}
}

// A complete copy whose bytes do not match its checksum is never listed.
func TestDamagedCopyNotListed(t *testing.T) {
	s := openStore(t, testConfig(newCluster(t)))
	ctx := testCtx(t)
	_, recs, err := s.frames("rs0", kindSegment, segName(1), randomBytes(t, 100<<10))
	if err != nil {
		t.Fatal(err)
	}
	recs[1].Value = bytes.Clone(recs[1].Value)
	recs[1].Value[7] ^= 1
	if err := s.ensureTopic(ctx, "rs0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.produceAll(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if names, err := s.Segments(ctx, "rs0"); err != nil || len(names) != 0 {
		t.Fatalf("Segments = %q, %v; want the damaged copy not listed", names, err)
	}
}
