package tailer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// fakeT is far in the past, so that the entries these tests put into the
// oplog come before the ones FerretDB logs for those very inserts (which
// carry the real clock and never settle on the tests' clock).
const fakeT = 1_000_000

var fakeWall = time.Unix(fakeT, 0)

// putEntry writes a no-op entry with the given ts counter and wall time
// straight into the source's oplog, as a server with a slow oplog write
// would make it visible: whenever the test says.
func (f *fixture) putEntry(i uint32, wall time.Time) oplog.Timestamp {
	f.t.Helper()
	ts := oplog.Timestamp{T: fakeT, I: i}
	doc := bson.D{{Key: "ts", Value: ts.BSON()}, {Key: "t", Value: int64(1)}, {Key: "op", Value: "n"},
		{Key: "ns", Value: ""}, {Key: "o", Value: bson.D{{Key: "msg", Value: "test"}}}, {Key: "wall", Value: bson.NewDateTimeFromTime(wall)}}
	if _, err := f.client.Database("local").Collection("oplog.rs").InsertOne(context.Background(), doc); err != nil {
		f.t.Fatal(err)
	}
	return ts
}

func (f *fixture) pollReader(last oplog.Timestamp, now *time.Time) *reader {
	f.t.Helper()
	src, err := openSource(context.Background(), f.client, CursorPoll, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return &reader{src: src, stream: "rs0", log: zerolog.Nop(), last: last,
		settle: defaultPollSettle, recheck: defaultRecheck, now: func() time.Time { return *now }}
}

// readOnce runs one poll and returns the timestamps passed on.
func readOnce(t *testing.T, r *reader) ([]oplog.Timestamp, time.Duration, error) {
	t.Helper()
	out := make(chan *batch, 100)
	_, wait, err := r.once(context.Background(), out)
	close(out)
	var got []oplog.Timestamp
	for b := range out {
		for i := 0; i < b.len(); i++ {
			ts, terr := oplog.EntryTS(b.entry(i))
			if terr != nil {
				t.Fatal(terr)
			}
			got = append(got, ts)
		}
	}
	return got, wait, err
}

// An entry that becomes visible after one with a later ts is passed on,
// in order, because the later one waited to settle.
func TestPollWaitsForEntriesToSettle(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-10*time.Second))
	now := fakeWall.Add(100 * time.Millisecond)
	r := f.pollReader(start, &now)

	b := f.putEntry(3, fakeWall) // visible first, 100ms old
	got, wait, err := readOnce(t, r)
	if err != nil || len(got) != 0 {
		t.Fatalf("first poll passed on %v (err %v); an entry 100ms old must wait to settle", got, err)
	}
	if wait <= 0 || wait > defaultPollSettle {
		t.Fatalf("wait %v, want until the entry settles", wait)
	}

	a := f.putEntry(2, fakeWall.Add(-time.Millisecond)) // the hole closes
	now = fakeWall.Add(defaultPollSettle + 100*time.Millisecond)
	got, _, err = readOnce(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("passed on %v, want [%s %s]", got, a, b)
	}
}

// An entry that shows up behind the position later than settle is caught
// by the recheck and stops capture as a gap naming it, never skipped.
func TestPollRecheckCatchesLateEntry(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-10*time.Second))
	now := fakeWall.Add(time.Second)
	r := f.pollReader(start, &now)
	b := f.putEntry(3, fakeWall)
	got, _, err := readOnce(t, r)
	if err != nil || len(got) != 1 || got[0] != b {
		t.Fatalf("passed on %v (err %v), want [%s]", got, err, b)
	}

	late := f.putEntry(2, fakeWall.Add(-time.Millisecond))
	now = now.Add(recheckEvery)
	got, _, err = readOnce(t, r)
	var gap *GapError
	if !errors.As(err, &gap) || gap.Late == nil || *gap.Late != late || gap.After != b {
		t.Fatalf("poll after a late entry: passed %v, err %v; want a GapError with Late %s after %s", got, err, late, b)
	}
}

// Without the defences (single-writer setting), the same late entry is
// skipped: the case the defences exist for.
func TestPollWithoutSettleSkipsLateEntry(t *testing.T) {
	f := newFixture(t)
	start := f.putEntry(1, fakeWall.Add(-10*time.Second))
	now := fakeWall
	r := f.pollReader(start, &now)
	r.settle = 0
	f.putEntry(3, fakeWall)
	if _, _, err := readOnce(t, r); err != nil {
		t.Fatal(err)
	}
	f.putEntry(2, fakeWall)
	got, _, err := readOnce(t, r)
	for _, ts := range got {
		if ts.T == fakeT && ts.I == 2 {
			t.Fatalf("entry 2 was passed on without settle: %v", got)
		}
	}
	if err != nil {
		t.Fatalf("without settle the late entry goes unnoticed, got %v", err)
	}
}
