package segment

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/oplog"
)

// entry returns a realistic raw oplog entry at ts whose size is roughly
// size bytes (at least about 150).
func entry(t testing.TB, ts oplog.Timestamp, rng *rand.Rand, size int) []byte {
	t.Helper()
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	var pad []byte
	for len(pad) < size-150 {
		pad = append(pad, words[rng.IntN(len(words))]...)
		pad = append(pad, ' ')
	}
	ops := []string{"i", "u", "d"}
	doc := bson.D{
		{Key: "op", Value: ops[rng.IntN(len(ops))]},
		{Key: "ns", Value: "shop.orders"},
		{Key: "o", Value: bson.D{
			{Key: "_id", Value: rng.Int64()},
			{Key: "qty", Value: rng.IntN(1000)},
			{Key: "note", Value: string(pad)},
		}},
		{Key: "ts", Value: bson.Timestamp{T: ts.T, I: ts.I}},
		{Key: "t", Value: int64(7)},
		{Key: "v", Value: int32(2)},
		{Key: "wall", Value: bson.DateTime(int64(ts.T) * 1000)},
	}
	b, err := bson.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// entries returns n entries with strictly increasing ts starting after
// `after`, with sizes drawn from [minSize, maxSize).
func entries(t testing.TB, seed uint64, after oplog.Timestamp, n, minSize, maxSize int) [][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	ts := after
	if ts.IsZero() {
		ts = oplog.Timestamp{T: 1_700_000_000}
	}
	out := make([][]byte, n)
	for k := range out {
		if rng.IntN(4) == 0 {
			ts = oplog.Timestamp{T: ts.T + 1 + uint32(rng.IntN(3)), I: 1}
		} else {
			ts.I++
		}
		out[k] = entry(t, ts, rng, minSize+rng.IntN(maxSize-minSize))
	}
	return out
}

// build writes one segment of es with w, started with prev.
func build(t testing.TB, w *Writer, prev Link, es [][]byte) (Info, []byte) {
	t.Helper()
	w.Start(prev)
	for k, e := range es {
		if err := w.Append(e); err != nil {
			t.Fatalf("append %d: %v", k, err)
		}
	}
	info, b, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return info, bytes.Clone(b)
}

// readAll reads a segment through a Reader and returns copies of the entries
// it yielded and the final error (io.EOF on success).
func readAll(data []byte, name string) (*Reader, [][]byte, error) {
	return readAllWith(data, name, ReaderOptions{})
}

// readAllWith is readAll with options.
func readAllWith(data []byte, name string, opts ReaderOptions) (*Reader, [][]byte, error) {
	r, err := NewReaderWith(bytes.NewReader(data), name, opts)
	if err != nil {
		return nil, nil, err
	}
	var got [][]byte
	for {
		e, err := r.Next()
		if err != nil {
			return r, got, err
		}
		got = append(got, bytes.Clone(e))
	}
}

// mustCorrupt fails unless err is a corruption error (never io.EOF or nil).
func mustCorrupt(t *testing.T, err error, what string) {
	t.Helper()
	if err == nil || err == io.EOF || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s: got %v, want an ErrCorrupt", what, err)
	}
}

// prefixOf fails unless got is a prefix of want, entry by entry: a reader
// must never hand out an entry that differs from what was written.
func prefixOf(t *testing.T, got, want [][]byte, what string) {
	t.Helper()
	if len(got) > len(want) {
		t.Fatalf("%s: %d entries yielded, only %d written", what, len(got), len(want))
	}
	for k := range got {
		if !bytes.Equal(got[k], want[k]) {
			t.Fatalf("%s: entry %d differs from the one written", what, k)
		}
	}
}
