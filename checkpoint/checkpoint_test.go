package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"log"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tidelog/tidelog/internal/pebbledir"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

func ts(sec uint32) oplog.Timestamp { return oplog.Timestamp{T: 1700000000 + sec, I: 1} }

// seg returns the info of a segment of stream covering seconds [start, end],
// linked to prev.
func seg(stream string, start, end uint32, prev segment.Link) segment.Info {
	name := segment.Name(ts(start), ts(end))
	return segment.Info{
		Name:     name,
		Stream:   stream,
		OpStart:  ts(start),
		OpEnd:    ts(end),
		Count:    uint64(end-start) * 10,
		RawSize:  uint64(end-start) * 1000,
		Size:     uint64(end-start) * 400,
		Checksum: crc32.ChecksumIEEE([]byte(stream + name)),
		Prev:     prev,
	}
}

// next returns the segment after prev covering [start, end].
func next(prev segment.Info, start, end uint32) segment.Info {
	return seg(prev.Stream, start, end, prev.Link())
}

func open(t *testing.T, dir string) *DB {
	t.Helper()
	d, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func commit(t *testing.T, d *DB, infos ...segment.Info) {
	t.Helper()
	for _, info := range infos {
		if err := d.Commit(info); err != nil {
			t.Fatalf("Commit(%s): %v", info.Name, err)
		}
	}
}

func wantHead(t *testing.T, d *DB, stream string, want segment.Info) {
	t.Helper()
	got, ok, err := d.Head(stream)
	if err != nil || !ok || got != want {
		t.Fatalf("Head(%s) = %+v, %v, %v; want %+v", stream, got, ok, err, want)
	}
}

func wantSegments(t *testing.T, d *DB, stream string, want ...segment.Info) {
	t.Helper()
	got, err := d.Segments(stream)
	if err != nil {
		t.Fatalf("Segments(%s): %v", stream, err)
	}
	if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
		t.Fatalf("Segments(%s) = %+v, want %+v", stream, got, want)
	}
}

func wantCorrupt(t *testing.T, err error, mention ...string) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("error %q does not mention %q", err, m)
		}
	}
}

func TestRoundTripAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	d := open(t, dir)
	if _, ok, err := d.Head("rs0"); ok || err != nil {
		t.Fatalf("Head of a new checkpoint: ok=%v err=%v", ok, err)
	}
	a := seg("rs0", 0, 10, segment.Link{})
	b := next(a, 11, 20)
	c := next(b, 21, 30)
	x := seg("rs1", 5, 6, segment.Link{})
	commit(t, d, a, b, x, c)
	g := store.Gap{After: ts(100), Next: ts(200), Detected: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600)), Reason: "rolled over"}
	if err := d.RecordGap("rs2", g); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	d = open(t, dir)
	wantHead(t, d, "rs0", c)
	wantHead(t, d, "rs1", x)
	wantSegments(t, d, "rs0", a, b, c)
	wantSegments(t, d, "rs1", x)
	wantSegments(t, d, "rs2")
	gaps, err := d.Gaps("rs2")
	if err != nil || len(gaps) != 1 || gaps[0].After != g.After || gaps[0].Next != g.Next ||
		gaps[0].Reason != g.Reason || !gaps[0].Detected.Equal(g.Detected) {
		t.Fatalf("Gaps(rs2) = %+v, %v; want [%+v]", gaps, err, g)
	}
	if _, ok, err := d.Head("rs2"); ok || err != nil {
		t.Fatalf("Head(rs2) with only a gap: ok=%v err=%v", ok, err)
	}
	streams, err := d.Streams()
	if err != nil || !slices.Equal(streams, []string{"rs0", "rs1", "rs2"}) {
		t.Fatalf("Streams = %q, %v", streams, err)
	}
}

func TestSegmentsOrderedByStart(t *testing.T) {
	d := open(t, t.TempDir())
	// A first segment may start anywhere; later ones follow in order. Keys
	// must sort numerically, not as unpadded text (9 < 10 < 100).
	a := seg("rs0", 9, 9, segment.Link{})
	b := next(a, 10, 99)
	c := next(b, 100, 1000)
	commit(t, d, a, b, c)
	wantSegments(t, d, "rs0", a, b, c)
	// Stream names that are prefixes of each other stay apart.
	y := seg("rs", 1, 2, segment.Link{})
	z := seg("rs0x", 1, 2, segment.Link{})
	commit(t, d, y, z)
	wantSegments(t, d, "rs0", a, b, c)
	wantSegments(t, d, "rs", y)
	wantSegments(t, d, "rs0x", z)
}

func TestChainRefusals(t *testing.T) {
	d := open(t, t.TempDir())
	a := seg("rs0", 0, 10, segment.Link{})
	b := next(a, 11, 20)
	commit(t, d, a, b)

	wrongSum := next(b, 21, 30)
	wrongSum.Prev.Checksum++
	wrongEnd := next(b, 21, 30)
	wrongEnd.Prev.OpEnd = ts(19)
	overlap := next(b, 20, 30) // starts at the head's end
	before := next(b, 15, 30)
	noGap := seg("rs0", 21, 30, segment.Link{})
	skipped := next(a, 21, 30) // links to the head's predecessor

	for name, info := range map[string]segment.Info{
		"wrong checksum":     wrongSum,
		"wrong end":          wrongEnd,
		"starts at head end": overlap,
		"starts before head": before,
		"zero prev, no gap":  noGap,
		"links to older":     skipped,
	} {
		err := d.Commit(info)
		if !errors.Is(err, ErrChain) {
			t.Errorf("%s: Commit = %v, want ErrChain", name, err)
		}
		wantHead(t, d, "rs0", b)
		wantSegments(t, d, "rs0", a, b)
	}

	empty := next(b, 21, 30)
	empty.Name = ""
	backwards := next(b, 21, 30)
	backwards.OpEnd = ts(21)
	backwards.OpStart = ts(25)
	badStream := next(b, 21, 30)
	badStream.Stream = "rs/0"
	for name, info := range map[string]segment.Info{
		"empty name":   empty,
		"ends first":   backwards,
		"stream slash": badStream,
	} {
		if err := d.Commit(info); err == nil {
			t.Errorf("%s: Commit accepted", name)
		}
		wantHead(t, d, "rs0", b)
		wantSegments(t, d, "rs0", a, b)
	}
}

func TestGapAllowsNewChain(t *testing.T) {
	d := open(t, t.TempDir())
	a := seg("rs0", 0, 10, segment.Link{})
	commit(t, d, a)
	fresh := seg("rs0", 50, 60, segment.Link{})

	// A gap that does not start at the head's end does not count.
	if err := d.RecordGap("rs0", store.Gap{After: ts(5), Next: ts(50)}); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(fresh); !errors.Is(err, ErrChain) {
		t.Fatalf("Commit after an unrelated gap = %v, want ErrChain", err)
	}
	// Nor does the same gap in another stream.
	if err := d.RecordGap("rs1", store.Gap{After: a.OpEnd, Next: ts(50)}); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(fresh); !errors.Is(err, ErrChain) {
		t.Fatalf("Commit after another stream's gap = %v, want ErrChain", err)
	}

	if err := d.RecordGap("rs0", store.Gap{After: a.OpEnd, Next: ts(50), Reason: "oplog rolled over"}); err != nil {
		t.Fatal(err)
	}
	// Even after a gap, a new chain must start after the head.
	if err := d.Commit(seg("rs0", 10, 60, segment.Link{})); !errors.Is(err, ErrChain) {
		t.Fatalf("Commit of a new chain starting at the head's end = %v, want ErrChain", err)
	}
	commit(t, d, fresh)
	wantHead(t, d, "rs0", fresh)
	// The new chain continues normally.
	commit(t, d, next(fresh, 61, 70))
	wantSegments(t, d, "rs0", a, fresh, next(fresh, 61, 70))
	gaps, err := d.Gaps("rs0")
	if err != nil || len(gaps) != 2 || gaps[0].After != ts(5) || gaps[1].After != a.OpEnd {
		t.Fatalf("Gaps = %+v, %v", gaps, err)
	}
}

func TestIdempotentRecommit(t *testing.T) {
	d := open(t, t.TempDir())
	a := seg("rs0", 0, 10, segment.Link{})
	b := next(a, 11, 20)
	commit(t, d, a, b, b, b)
	wantHead(t, d, "rs0", b)
	wantSegments(t, d, "rs0", a, b)
	// Only the head is a no-op: an older segment is out of order.
	if err := d.Commit(a); !errors.Is(err, ErrChain) {
		t.Fatalf("recommitting a non-head = %v, want ErrChain", err)
	}
	// Same range, different content: not the head, refused.
	b2 := b
	b2.Checksum++
	if err := d.Commit(b2); !errors.Is(err, ErrChain) {
		t.Fatalf("committing a different segment over the head's range = %v, want ErrChain", err)
	}
	wantHead(t, d, "rs0", b)
}

func TestFirstSegmentMayLinkAnywhere(t *testing.T) {
	d := open(t, t.TempDir())
	// A checkpoint started next to an existing store: its first segment links
	// to one the checkpoint never saw.
	first := seg("rs0", 40, 50, segment.Link{OpEnd: ts(39), Checksum: 0xdeadbeef})
	commit(t, d, first)
	wantHead(t, d, "rs0", first)
	// A Prev that is not before OpStart is malformed even then.
	bad := seg("rs1", 40, 50, segment.Link{OpEnd: ts(40), Checksum: 1})
	if err := d.Commit(bad); err == nil {
		t.Fatal("Commit of a segment starting before its Prev ends was accepted")
	}
}

func TestDeleteSegments(t *testing.T) {
	d := open(t, t.TempDir())
	a := seg("rs0", 0, 10, segment.Link{})
	b := next(a, 11, 20)
	c := next(b, 21, 30)
	other := seg("rs1", 0, 10, segment.Link{})
	commit(t, d, a, b, c, other)

	err := d.DeleteSegments("rs0", []string{a.Name, c.Name})
	if err == nil || !strings.Contains(err.Error(), "chain head") {
		t.Fatalf("deleting the head = %v, want a refusal", err)
	}
	wantSegments(t, d, "rs0", a, b, c)

	if err := d.DeleteSegments("rs0", []string{a.Name, "no-such.tseg", other.Name}); err != nil {
		t.Fatal(err)
	}
	wantSegments(t, d, "rs0", b, c)
	wantSegments(t, d, "rs1", other)
	if err := d.DeleteSegments("rs0", []string{a.Name}); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	if err := d.DeleteSegments("nothing", nil); err != nil {
		t.Fatal(err)
	}
	wantHead(t, d, "rs0", c)
}

func TestRecordGapChecks(t *testing.T) {
	d := open(t, t.TempDir())
	if err := d.RecordGap("rs0", store.Gap{After: ts(5), Next: ts(5)}); err == nil {
		t.Fatal("a gap whose Next is not after After was accepted")
	}
	if err := d.RecordGap("a/b", store.Gap{After: ts(1), Next: ts(2)}); err == nil {
		t.Fatal("a stream name with '/' was accepted")
	}
	if err := d.RecordGap("", store.Gap{After: ts(1), Next: ts(2)}); err == nil {
		t.Fatal("an empty stream name was accepted")
	}
	// Same After again replaces; gaps come back ordered by After.
	for _, g := range []store.Gap{{After: ts(30), Next: ts(31)}, {After: ts(10), Next: ts(11)}, {After: ts(30), Next: ts(35)}} {
		if err := d.RecordGap("rs0", g); err != nil {
			t.Fatal(err)
		}
	}
	gaps, err := d.Gaps("rs0")
	if err != nil || len(gaps) != 2 || gaps[0].After != ts(10) || gaps[1].Next != ts(35) {
		t.Fatalf("Gaps = %+v, %v", gaps, err)
	}
	if _, _, err := d.Head("a/b"); err == nil {
		t.Fatal("Head accepted a stream name with '/'")
	}
}

func TestClosed(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	info := seg("rs0", 0, 1, segment.Link{})
	_, _, headErr := d.Head("rs0")
	_, segErr := d.Segments("rs0")
	_, gapErr := d.Gaps("rs0")
	_, streamsErr := d.Streams()
	for name, err := range map[string]error{
		"Commit":         d.Commit(info),
		"RecordGap":      d.RecordGap("rs0", store.Gap{After: ts(1), Next: ts(2)}),
		"DeleteSegments": d.DeleteSegments("rs0", nil),
		"Head":           headErr,
		"Segments":       segErr,
		"Gaps":           gapErr,
		"Streams":        streamsErr,
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

// TestLocked: a checkpoint in use is not reported as corrupt.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	_, err := Open(dir)
	if err == nil {
		t.Fatal("a second Open of the same directory succeeded")
	}
	if errors.Is(err, ErrCorrupt) {
		t.Fatalf("a locked checkpoint was reported corrupt: %v", err)
	}
}

func TestCorruptDirectory(t *testing.T) {
	// populated returns a closed, valid checkpoint directory.
	populated := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "ckpt")
		d, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		commit(t, d, seg("rs0", 0, 10, segment.Link{}))
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	garbage := bytes.Repeat([]byte("this is not pebble\x00\xff"), 512)
	overwrite := func(t *testing.T, dir, glob string) {
		matches, err := filepath.Glob(filepath.Join(dir, glob))
		if err != nil || len(matches) == 0 {
			t.Fatalf("no %s in %s: %v", glob, dir, err)
		}
		for _, m := range matches {
			if err := os.WriteFile(m, garbage, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) string
	}{
		{"GarbageFiles", func(t *testing.T) string {
			dir := t.TempDir()
			for _, n := range []string{"notes.txt", "data.bin"} {
				if err := os.WriteFile(filepath.Join(dir, n), garbage, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}},
		{"RegularFile", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(p, garbage, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"GarbageManifest", func(t *testing.T) string {
			dir := populated(t)
			overwrite(t, dir, "MANIFEST-*")
			return dir
		}},
		{"EmptyManifest", func(t *testing.T) string {
			dir := populated(t)
			matches, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			for _, m := range matches {
				if err := os.Truncate(m, 0); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}},
		{"MissingManifest", func(t *testing.T) string {
			dir := populated(t)
			matches, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			for _, m := range matches {
				if err := os.Remove(m); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}},
		{"GarbageOptions", func(t *testing.T) string {
			dir := populated(t)
			overwrite(t, dir, "OPTIONS-*")
			return dir
		}},
		{"GarbageEverywhere", func(t *testing.T) string {
			dir := populated(t)
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Type().IsRegular() && e.Name() != "LOCK" {
					overwrite(t, dir, e.Name())
				}
			}
			return dir
		}},
		{"ForeignPebble", func(t *testing.T) string {
			dir := t.TempDir()
			pdb, err := pebble.Open(dir, &pebble.Options{Logger: pebbledir.Logger{}})
			if err != nil {
				t.Fatal(err)
			}
			if err := pdb.Set([]byte("somebody/else"), []byte("x"), pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := pdb.Close(); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
		{"FutureFormat", func(t *testing.T) string {
			dir := t.TempDir()
			d, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.pdb.Set([]byte(formatKey), encodeFormat(formatVersion+1), pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t)
			d, err := Open(dir)
			if err == nil {
				d.Close()
				t.Fatal("Open succeeded")
			}
			t.Log(err)
			wantCorrupt(t, err, dir, "not a usable tidelog checkpoint", "move it aside")
			// The refusal is stable: a second attempt says the same, and the
			// failed Open released the directory.
			if _, err := Open(dir); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("second Open = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestFlippedByte(t *testing.T) {
	d := open(t, t.TempDir())
	a := seg("rs0", 0, 10, segment.Link{})
	commit(t, d, a)
	if err := d.RecordGap("rs0", store.Gap{After: ts(10), Next: ts(20)}); err != nil {
		t.Fatal(err)
	}

	damage := func(key []byte, f func(v []byte) []byte) {
		t.Helper()
		v, closer, err := d.pdb.Get(key)
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		v = f(bytes.Clone(v))
		closer.Close()
		if err := d.pdb.Set(key, v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	flip := func(i int) func([]byte) []byte {
		return func(v []byte) []byte { v[i%len(v)] ^= 0x10; return v }
	}

	damage(headKey("rs0"), flip(7))
	_, _, err := d.Head("rs0")
	wantCorrupt(t, err, "head/rs0", "checksum")
	// Commit reads the head first, so it refuses too and writes nothing.
	if err := d.Commit(next(a, 11, 20)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Commit over a corrupt head = %v, want ErrCorrupt", err)
	}

	damage(segKey("rs0", a.OpStart), flip(0)) // the version byte
	_, err = d.Segments("rs0")
	wantCorrupt(t, err, "seg/rs0/")

	damage(gapKey("rs0", ts(10)), func(v []byte) []byte { return v[:len(v)-1] }) // torn
	_, err = d.Gaps("rs0")
	wantCorrupt(t, err, "gap/rs0/")

	damage(streamKey("rs0"), flip(2))
	_, err = d.Streams()
	wantCorrupt(t, err, "stream/rs0")
}

// TestFlippedByteEverywhere flips every byte of a value in turn: each flip
// is detected.
func TestFlippedByteEverywhere(t *testing.T) {
	info := seg("rs0", 0, 10, segment.Link{OpEnd: ts(0), Checksum: 7})
	v := encodeInfo(info)
	for i := range v {
		for _, bit := range []byte{0x01, 0x80} {
			w := bytes.Clone(v)
			w[i] ^= bit
			if _, err := decodeInfo([]byte("k"), w); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flipping bit %#x of byte %d: err = %v, want ErrCorrupt", bit, i, err)
			}
		}
	}
	for n := range len(v) {
		if _, err := decodeInfo([]byte("k"), v[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("value truncated to %d bytes: err = %v, want ErrCorrupt", n, err)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	infos := []segment.Info{
		{Name: "x", Stream: "s"},
		{
			Name: segment.Name(oplog.Timestamp{T: 1, I: 2}, oplog.Max), Stream: "rs0",
			OpStart: oplog.Timestamp{T: 1, I: 2}, OpEnd: oplog.Max,
			Count: 1<<64 - 1, RawSize: 1 << 40, Size: 12345, Checksum: 0xffffffff,
			Prev: segment.Link{OpEnd: oplog.Timestamp{T: 1, I: 1}, Checksum: 0x80000001},
		},
	}
	for _, info := range infos {
		got, err := decodeInfo([]byte("k"), encodeInfo(info))
		if err != nil || got != info {
			t.Fatalf("info round trip = %+v, %v; want %+v", got, err, info)
		}
	}
	gaps := []store.Gap{
		{After: oplog.Timestamp{T: 1}, Next: oplog.Timestamp{T: 1, I: 1}},
		{After: oplog.Timestamp{T: 5, I: 6}, Next: oplog.Max, Detected: time.Date(2030, 5, 6, 7, 8, 9, 10, time.FixedZone("", -7200)), Reason: "ünïcode reason"},
		{After: oplog.Timestamp{T: 9, I: 1}, Next: oplog.Timestamp{T: 9, I: 2}, Late: &oplog.Timestamp{T: 8, I: 3}},
	}
	for _, g := range gaps {
		v, err := encodeGap(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeGap([]byte("k"), v)
		if err != nil || got.After != g.After || got.Next != g.Next || got.Reason != g.Reason ||
			!got.Detected.Equal(g.Detected) || got.Detected.IsZero() != g.Detected.IsZero() ||
			(got.Late == nil) != (g.Late == nil) || got.Late != nil && *got.Late != *g.Late {
			t.Fatalf("gap round trip = %+v, %v; want %+v", got, err, g)
		}
	}
}

// TestQuiet checks that Pebble logs nothing through the standard logger
// (which prints to stderr), even when it meets a damaged directory.
func TestQuiet(t *testing.T) {
	var buf bytes.Buffer
	prevOut, prevFlags := log.Writer(), log.Flags()
	log.SetOutput(&buf)
	defer func() { log.SetOutput(prevOut); log.SetFlags(prevFlags) }()

	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, d, seg("rs0", 0, 10, segment.Link{}))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	for _, m := range matches {
		if err := os.WriteFile(m, []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("pebble wrote to the standard logger: %s", buf.String())
	}
}

// TestConcurrent commits chains to several streams at once while reading.
func TestConcurrent(t *testing.T) {
	d := open(t, t.TempDir())
	const streams, each = 6, 25
	var wg sync.WaitGroup
	errs := make(chan error, streams*2)
	for s := range streams {
		stream := fmt.Sprintf("rs%d", s)
		wg.Add(2)
		go func() {
			defer wg.Done()
			prev := seg(stream, 0, 1, segment.Link{})
			if err := d.Commit(prev); err != nil {
				errs <- err
				return
			}
			for i := range uint32(each - 1) {
				info := next(prev, 2+2*i, 3+2*i)
				if err := d.Commit(info); err != nil {
					errs <- err
					return
				}
				prev = info
			}
		}()
		go func() {
			defer wg.Done()
			for range each {
				if _, _, err := d.Head(stream); err != nil {
					errs <- err
					return
				}
				if _, err := d.Streams(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for s := range streams {
		infos, err := d.Segments(fmt.Sprintf("rs%d", s))
		if err != nil || len(infos) != each {
			t.Fatalf("rs%d: %d segments, %v; want %d", s, len(infos), err, each)
		}
	}
}
