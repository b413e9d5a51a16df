package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store/dirstore"
)

// Read hands out every entry of a chain in order, and fails with
// ErrCorrupt on a segment that does not link to the one before it, or on a
// damaged one, naming it.
func TestRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := dirstore.Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var prev segment.Link
	for k := range uint32(3) {
		prev = appendSegment(t, st, nil, prev, 1+50*k, 50).Link()
	}
	s, err := LoadStream(ctx, st, "rs0")
	if err != nil {
		t.Fatal(err)
	}
	n := uint32(0)
	err = Read(ctx, st, "rs0", s.Segments, func(e bson.Raw) error {
		n++
		if _, inc, _ := e.Lookup("ts").TimestampOK(); inc != n {
			t.Fatalf("entry %d has ts.i %d", n, inc)
		}
		return nil
	})
	if err != nil || n != 150 {
		t.Fatalf("read %d entries: %v", n, err)
	}

	skip := []Segment{s.Segments[0], s.Segments[2]}
	err = Read(ctx, st, "rs0", skip, func(bson.Raw) error { return nil })
	var ce *segment.CorruptError
	if !errors.Is(err, segment.ErrCorrupt) || !errors.As(err, &ce) || ce.Segment != s.Segments[2].Name {
		t.Fatalf("a chain with a segment left out: %v", err)
	}

	path := filepath.Join(dir, "streams", "rs0", "segments", s.Segments[1].Name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-30] ^= 1
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	err = Read(ctx, st, "rs0", s.Segments, func(bson.Raw) error { return nil })
	if !errors.Is(err, segment.ErrCorrupt) || !errors.As(err, &ce) || ce.Segment != s.Segments[1].Name {
		t.Fatalf("a damaged segment: %v", err)
	}
}
