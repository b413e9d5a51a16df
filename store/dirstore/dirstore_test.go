package dirstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openNew(t)
	})
}

// openNew opens a new store in a directory that does not exist yet.
func openNew(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"), true)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

const seg1 = "0001700000.0000000001-0001700000.0000000009.tseg"

func TestCreateWritesMarker(t *testing.T) {
	s := openNew(t)
	data, err := os.ReadFile(filepath.Join(s.Root(), markerName))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != `{"format":"tidelog-store","version":1}` {
		t.Fatalf("marker = %s", got)
	}
	if !strings.HasPrefix(s.String(), "dir:") || !filepath.IsAbs(s.Root()) {
		t.Fatalf("String() = %q, Root() = %q", s.String(), s.Root())
	}
	// Reopening without create finds the store.
	if _, err := Open(s.Root(), false); err != nil {
		t.Fatalf("reopen: %v", err)
	}
}

func TestCreateInEmptyDir(t *testing.T) {
	dir := t.TempDir()
	// A crash while creating the store leaves the marker's temporary file
	// only; the directory still counts as empty.
	leftover := filepath.Join(dir, tempPrefix+markerName+"-0123456789abcdef")
	if err := os.WriteFile(leftover, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, true); err != nil {
		t.Fatalf("Open(empty dir, create): %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, markerName)); err != nil {
		t.Fatal(err)
	}
}

func TestMissingWithoutCreate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := Open(missing, false)
	if !errors.Is(err, store.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Open(missing, false) = %v, want ErrNotExist naming the path", err)
	}
	if _, statErr := os.Stat(missing); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatal("Open without create created the directory")
	}
	_, err = Open(t.TempDir(), false)
	if !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("Open(empty, false) = %v, want ErrNotExist", err)
	}
}

func TestNotAStore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		marker string // "" writes another file instead of a marker
	}{
		{"NoMarker", ""},
		{"MalformedMarker", "{not json"},
		{"WrongFormat", `{"format":"something-else","version":1}`},
		{"FutureVersion", `{"format":"tidelog-store","version":2}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file, content := "notes.txt", "hello"
			if tc.marker != "" {
				file, content = markerName, tc.marker
			}
			if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, create := range []bool{false, true} {
				_, err := Open(dir, create)
				if !errors.Is(err, store.ErrNotStore) {
					t.Fatalf("Open(create=%v) = %v, want ErrNotStore", create, err)
				}
				msg := err.Error()
				if !strings.Contains(msg, dir) || !strings.Contains(msg, "point --store at a tidelog store or an empty directory") {
					t.Fatalf("message does not name the path and the fix: %s", msg)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, streamsDir)); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("Open wrote into a directory that is not a store")
			}
		})
	}
}

func TestRegularFileIsNotAStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, true); !errors.Is(err, store.ErrNotStore) {
		t.Fatalf("Open(regular file) = %v, want ErrNotStore", err)
	}
}

// TestCrashLeftovers simulates a crash during PutSegment and PutGap: the
// temporary files are never listed, and Open removes them once stale.
func TestCrashLeftovers(t *testing.T) {
	ctx := context.Background()
	s := openNew(t)
	if err := s.PutSegment(ctx, "rs0", seg1, []byte("whole")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGap(ctx, "rs0", store.Gap{After: oplog.Timestamp{T: 1, I: 1}, Next: oplog.Timestamp{T: 2, I: 2}, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	segDir, gapDir := s.segmentsDir("rs0"), s.gapsDir("rs0")
	stale := []string{
		filepath.Join(segDir, tempPrefix+"0001700000.0000000010-0001700000.0000000020.tseg-0123456789abcdef"),
		filepath.Join(gapDir, tempPrefix+"1.1-2.2.gap.json-0123456789abcdef"),
		filepath.Join(s.Root(), tempPrefix+markerName+"-0123456789abcdef"),
	}
	fresh := filepath.Join(segDir, tempPrefix+"0001700000.0000000030-0001700000.0000000040.tseg-fedcba9876543210")
	old := time.Now().Add(-2 * staleTempAge)
	for _, p := range append(slices.Clone(stale), fresh) {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range stale {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}

	check := func(s *Store) {
		t.Helper()
		names, err := s.Segments(ctx, "rs0")
		if err != nil || !slices.Equal(names, []string{seg1}) {
			t.Fatalf("Segments = %q, %v; want only %s", names, err, seg1)
		}
		gaps, err := s.Gaps(ctx, "rs0")
		if err != nil || len(gaps) != 1 {
			t.Fatalf("Gaps = %+v, %v; want the one gap", gaps, err)
		}
	}
	check(s)

	s2, err := Open(s.Root(), false)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale temporary file %s survived Open", filepath.Base(p))
		}
	}
	// A recent temporary file may belong to another process writing to the
	// same store right now: it is left alone, and still not listed.
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("Open removed a fresh temporary file: %v", err)
	}
	check(s2)
}

func TestPutLeavesNoTempFiles(t *testing.T) {
	s := openNew(t)
	if err := s.PutSegment(context.Background(), "rs0", seg1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(s.segmentsDir("rs0"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != seg1 {
		t.Fatalf("segments dir holds %v, want only %s", entries, seg1)
	}
}

func TestInvalidNames(t *testing.T) {
	ctx := context.Background()
	s := openNew(t)
	badStreams := []string{"", ".", "..", "a/b", `a\b`, "../x", "rs 0", "rs0\x00", "rs:0"}
	for _, stream := range badStreams {
		if err := s.PutSegment(ctx, stream, seg1, []byte("x")); err == nil || !strings.Contains(err.Error(), "invalid stream name") {
			t.Errorf("PutSegment(stream %q) = %v, want invalid stream name", stream, err)
		}
		if _, err := s.Segments(ctx, stream); err == nil {
			t.Errorf("Segments(%q) accepted", stream)
		}
		if err := s.PutGap(ctx, stream, store.Gap{}); err == nil {
			t.Errorf("PutGap(%q) accepted", stream)
		}
	}
	badSegments := []string{"", ".tseg", "x", "x.tseg.tmp", "a/b.tseg", `a\b.tseg`, "../../x.tseg", ".tmp-x.tseg", ".hidden.tseg", "x\x00.tseg"}
	for _, name := range badSegments {
		if err := s.PutSegment(ctx, "rs0", name, []byte("x")); err == nil || !strings.Contains(err.Error(), "invalid segment name") {
			t.Errorf("PutSegment(name %q) = %v, want invalid segment name", name, err)
		}
		if _, err := s.OpenSegment(ctx, "rs0", name); err == nil || errors.Is(err, store.ErrNotExist) {
			t.Errorf("OpenSegment(name %q) = %v, want invalid segment name", name, err)
		}
		if err := s.DeleteSegment(ctx, "rs0", name); err == nil {
			t.Errorf("DeleteSegment(name %q) accepted", name)
		}
	}
	for _, ok := range []string{"rs0", "my-replica_set.2", "A"} {
		if err := s.PutSegment(ctx, ok, seg1, []byte("x")); err != nil {
			t.Errorf("PutSegment(stream %q): %v", ok, err)
		}
	}
	entries, err := os.ReadDir(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != markerName && e.Name() != streamsDir {
			t.Errorf("unexpected entry %s at the store's root", e.Name())
		}
	}
}

func TestErrorsCarryContext(t *testing.T) {
	s := openNew(t)
	_, err := s.OpenSegment(context.Background(), "rs0", seg1)
	for _, want := range []string{"dirstore", s.Root(), "open segment", "rs0/" + seg1} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v does not mention %q", err, want)
		}
	}
}

func TestOpenSegmentIsFile(t *testing.T) {
	s := openNew(t)
	ctx := context.Background()
	if err := s.PutSegment(ctx, "rs0", seg1, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	rc, err := s.OpenSegment(ctx, "rs0", seg1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f, ok := rc.(*os.File)
	if !ok {
		t.Fatalf("OpenSegment returned %T, want *os.File", rc)
	}
	buf := make([]byte, 3)
	if _, err := f.ReadAt(buf, 2); err != nil || string(buf) != "llo" {
		t.Fatalf("ReadAt = %q, %v", buf, err)
	}
}

func TestMalformedGapFile(t *testing.T) {
	ctx := context.Background()
	s := openNew(t)
	if err := s.PutGap(ctx, "rs0", store.Gap{After: oplog.Timestamp{T: 1, I: 1}, Next: oplog.Timestamp{T: 2, I: 2}, Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	// A malformed gap file is an error, never silently skipped.
	if err := os.WriteFile(filepath.Join(s.gapsDir("rs0"), "9.9-10.10"+gapSuffix), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Gaps(ctx, "rs0"); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("Gaps with a malformed file = %v, want an error", err)
	}
}

// A snapshot delete is a rename out of sight, then the removal: a crash
// between them leaves no snapshot listed (never a manifest without its
// files), and a later Open removes what is left.
func TestInterruptedSnapshotDelete(t *testing.T) {
	ctx := context.Background()
	s := openNew(t)
	for _, name := range []string{"c0000-a.b-p0000.bson.lz4", store.SnapshotCommitFile} {
		if _, err := s.PutSnapshotFile(ctx, "rs0", "snap1", name, strings.NewReader("data")); err != nil {
			t.Fatal(err)
		}
	}
	// What DeleteSnapshot's first step leaves, had the process died next.
	parent := s.snapshotsDir("rs0")
	doomed := filepath.Join(parent, tempPrefix+"deleted-snap1")
	if err := os.Rename(filepath.Join(parent, "snap1"), doomed); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.Snapshots(ctx, "rs0"); err != nil || len(ids) != 0 {
		t.Fatalf("Snapshots = %v, %v; want none listed", ids, err)
	}
	old := time.Now().Add(-2 * staleTempAge)
	if err := os.Chtimes(doomed, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.Root(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(doomed); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the interrupted delete's leftovers are still there: %v", err)
	}

	// A whole delete, and deleting again, are fine.
	if _, err := s.PutSnapshotFile(ctx, "rs0", "snap2", store.SnapshotCommitFile, strings.NewReader("m")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.DeleteSnapshot(ctx, "rs0", "snap2"); err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := s.Snapshots(ctx, "rs0"); err != nil || len(ids) != 0 {
		t.Fatalf("Snapshots after delete = %v, %v", ids, err)
	}
}
