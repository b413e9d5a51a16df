package tailer

import (
	"context"
	"testing"
	"time"

	"github.com/tidelog/tidelog/catalog"
	"github.com/tidelog/tidelog/internal/testserver"
	"github.com/tidelog/tidelog/oplog"
)

// --start at a position between two entries captures from the first entry
// after it, that one included, and nothing before it.
func TestStartAtCapturesFromTheFirstEntryAtOrAfter(t *testing.T) {
	f := newFixture(t)
	f.putEntry(2, fakeWall)
	four := f.putEntry(4, fakeWall)
	six := f.putEntry(6, fakeWall)
	cfg := Config{CutAge: 100 * time.Millisecond, Start: StartAt{At: oplog.Timestamp{T: fakeT, I: 3}}}
	tl, stop := f.runWith(t.TempDir(), cfg, func(tl *Tailer) { tl.clock = func() time.Time { return fakeWall.Add(time.Second) } })
	waitUntil(t, "the entries after the start are stored", func() bool { return tl.Stats().Durable == six })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s, err := catalog.LoadStream(context.Background(), f.store, testserver.ReplicaSet)
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := s.Restorable(); !ok || w.From != four || w.To != six || w.Entries != 2 {
		t.Fatalf("windows %+v, want entries %s to %s", s.Windows, four, six)
	}
}
