package dirstore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/store"
)

// FuzzGapFile feeds arbitrary bytes to Gaps as the content of a gap file.
//
// Invariants: no panic; an error names the store, the stream and the file
// and says it is malformed (a gap file is never skipped: a lost gap would
// let a restore claim history it lacks); a gap that reads, recorded again,
// reads back the same.
func FuzzGapFile(f *testing.F) {
	late := oplog.Timestamp{T: 1700000000, I: 3}
	for _, g := range []store.Gap{
		{After: oplog.Timestamp{T: 1700000000, I: 5}, Next: oplog.Timestamp{T: 1700000100, I: 1}, Detected: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), Reason: "oplog rolled over"},
		{After: late.Next(), Next: late.Next().Next(), Detected: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", -7200)), Reason: "late", Late: &late},
	} {
		data, err := json.Marshal(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append(data, '\n'))
	}
	f.Add([]byte("{"))
	f.Add([]byte("null"))
	f.Add([]byte("{}"))
	f.Add([]byte(`{"after":{"T":1,"I":2},"next":{"T":1e99}}`))
	s, err := Open(f.TempDir(), true)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	const name = "1700000000.5-1700000100.1" + gapSuffix
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := s.gapsDir("rs0")
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		gaps, err := s.Gaps(ctx, "rs0")
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, s.Root()) || !strings.Contains(msg, "rs0/"+name) || !strings.Contains(msg, "malformed") {
				t.Fatalf("error does not name the store, the stream and the file, or call it malformed: %v", err)
			}
			return
		}
		if len(gaps) != 1 {
			t.Fatalf("one gap file listed as %d gaps", len(gaps))
		}
		// Recorded again (under its own name), the gap reads back the same.
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutGap(ctx, "rs0", gaps[0]); err != nil {
			t.Fatalf("a gap that reads cannot be recorded: %v", err)
		}
		again, err := s.Gaps(ctx, "rs0")
		if err != nil || len(again) != 1 || !sameGap(again[0], gaps[0]) {
			t.Fatalf("recorded again, the gap reads as %+v, %v; want %+v", again, err, gaps[0])
		}
	})
}

func sameGap(a, b store.Gap) bool {
	if !a.Detected.Equal(b.Detected) {
		return false
	}
	a.Detected, b.Detected = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// FuzzMarker feeds arbitrary bytes to Open as a store's marker file.
//
// Invariants: no panic; a marker that is not this build's is refused with
// an error matching store.ErrNotStore that names the directory and says
// what to do; one that is accepted is a tidelog-store marker of a version
// this build reads.
func FuzzMarker(f *testing.F) {
	f.Add([]byte(`{"format":"tidelog-store","version":1}` + "\n"))
	f.Add([]byte(`{"format":"tidelog-store","version":2}`))
	f.Add([]byte(`{"format":"other","version":1}`))
	f.Add([]byte("\x00"))
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(root, markerName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(root, false)
		if err != nil {
			if !errors.Is(err, store.ErrNotStore) || !strings.Contains(err.Error(), root) || !strings.Contains(err.Error(), notStoreHint) {
				t.Fatalf("marker refused without ErrNotStore, the directory or what to do: %v", err)
			}
			return
		}
		var m marker
		if json.Unmarshal(data, &m) != nil || m.Format != markerFormat || m.Version < 1 || m.Version > markerVersion {
			t.Fatalf("marker %q accepted", data)
		}
	})
}
