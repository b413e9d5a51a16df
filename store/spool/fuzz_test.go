package spool

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// FuzzQueueFile feeds arbitrary bytes to the readers of the spool's small
// files: a queue entry (entry set) or a destination checkpoint. With fix
// set, data is the JSON line and gets a checksum line that holds, so that
// mutations reach the JSON and the checks behind it.
//
// Invariants: no panic; an entry that reads is a valid segment or gap
// entry; whatever reads, written again, reads back the same.
func FuzzQueueFile(f *testing.F) {
	g := testGap(3)
	entries := []any{
		&entry{V: formatVersion, Seq: 7, Stream: "rs0", Kind: kindSegment, Name: segName(1), Size: 1 << 20, CRC32C: "0badf00d",
			Added: time.Date(2026, 11, 21, 10, 0, 0, 5, time.UTC)},
		&entry{V: formatVersion, Seq: 8, Stream: "rs0", Kind: kindGap, Name: gapName(g), Size: 100, Gap: &g,
			Added: time.Date(2026, 11, 21, 10, 0, 1, 0, time.FixedZone("x", 3600))},
		checkpoint{Format: ckptFormat, Version: formatVersion, Dest: "standby", Store: "kafka:127.0.0.1:9092/tl", Published: 8,
			Last: map[string]lastItem{"rs0": {Segment: segName(1), Gap: gapName(g)}}},
	}
	for _, v := range entries {
		data, err := encodeSummed(v)
		if err != nil {
			f.Fatal(err)
		}
		_, isEntry := v.(*entry)
		f.Add(data, isEntry, false)
		f.Add(data[:len(data)-len("crc32c 00000000\n")-1], isEntry, true)
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "file")
	f.Fuzz(func(t *testing.T, data []byte, isEntry, fix bool) {
		if fix {
			data = append(append(data, "\ncrc32c "...), crcHex(data)+"\n"...)
		}
		v, err := readQueueFile(t, path, data, isEntry)
		if err != nil {
			return
		}
		if e, ok := v.(*entry); ok && (e.Kind != kindSegment && e.Kind != kindGap || e.Kind == kindGap && e.Gap == nil) {
			t.Fatalf("malformed entry accepted: %+v", e)
		}
		again, err := encodeSummed(v)
		if err != nil {
			t.Fatalf("read, but not written again: %v", err)
		}
		back, err := readQueueFile(t, path, again, isEntry)
		if err != nil {
			t.Fatalf("written again, does not read: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(normalTimes(back), normalTimes(v)) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, v)
		}
	})
}

// readQueueFile writes data to path and reads it as an entry or a
// destination checkpoint.
func readQueueFile(t *testing.T, path string, data []byte, isEntry bool) (any, error) {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if isEntry {
		return readEntry(path)
	}
	return readCheckpoint(path)
}

// normalTimes puts an entry's times in UTC: JSON keeps the instant, not
// the zone's name.
func normalTimes(v any) any {
	e, ok := v.(*entry)
	if !ok {
		return v
	}
	c := *e
	c.Added = c.Added.UTC()
	if c.Gap != nil {
		g := *c.Gap
		g.Detected = g.Detected.UTC()
		c.Gap = &g
	}
	return &c
}
