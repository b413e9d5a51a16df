// Package segmenttest writes the small segments that tests of what reads a
// store (catalogs, plans, restores, reconciliation) put in one.
package segmenttest

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
	"github.com/tidelog/tidelog/segment"
	"github.com/tidelog/tidelog/store"
)

// Noop returns a no-op oplog entry at ts.
func Noop(t testing.TB, ts oplog.Timestamp) bson.Raw {
	t.Helper()
	e, err := bson.Marshal(bson.D{{Key: "ts", Value: ts.BSON()}, {Key: "op", Value: "n"}, {Key: "ns", Value: ""}, {Key: "o", Value: bson.D{}}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Put stores in st a segment of stream holding n no-op entries, at from
// and the n-1 positions after it in the same second (I counting up),
// linked to prev and written with opts (encrypted when opts.Keys holds a
// key), and returns its Info.
func Put(t testing.TB, st store.Store, stream string, opts segment.WriterOptions, prev segment.Link, from oplog.Timestamp, n int) segment.Info {
	t.Helper()
	w := segment.NewWriterWith(stream, opts)
	w.Start(prev)
	for k := range n {
		if err := w.Append(Noop(t, oplog.Timestamp{T: from.T, I: from.I + uint32(k)})); err != nil {
			t.Fatal(err)
		}
	}
	info, data, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutSegment(context.Background(), stream, info.Name, data); err != nil {
		t.Fatal(err)
	}
	return info
}

// Chain stores a chain of n segments of stream, 100 no-op entries each
// from position t0.1 on: the first plain of them in plaintext, the rest
// encrypted with keys (a stream whose encryption began part way).
func Chain(t testing.TB, st store.Store, stream string, keys *crypt.Keyring, t0 uint32, plain, n int) {
	t.Helper()
	var prev segment.Link
	for s := range n {
		opts := segment.WriterOptions{Keys: keys}
		if s < plain {
			opts = segment.WriterOptions{}
		}
		prev = Put(t, st, stream, opts, prev, oplog.Timestamp{T: t0, I: uint32(1 + 100*s)}, 100).Link()
	}
}
