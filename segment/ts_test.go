package segment

import (
	"encoding/binary"
	"testing"

	"github.com/tidelog/tidelog/oplog"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestEntryTS(t *testing.T) {
	ts := bson.Timestamp{T: 1_700_000_000, I: 42}
	want := oplog.Timestamp{T: ts.T, I: ts.I}
	oid := bson.NewObjectID()
	cases := []struct {
		name string
		doc  bson.D
		fast bool // findTS answers without the fallback
	}{
		{"ts first", bson.D{{Key: "ts", Value: ts}}, true},
		{"modern oplog", bson.D{
			{Key: "op", Value: "u"}, {Key: "ns", Value: "a.b"},
			{Key: "ui", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}},
			{Key: "o", Value: bson.D{{Key: "$v", Value: int32(2)}, {Key: "diff", Value: bson.D{}}}},
			{Key: "o2", Value: bson.D{{Key: "_id", Value: oid}}},
			{Key: "arr", Value: bson.A{1, "x"}}, {Key: "b", Value: true}, {Key: "n", Value: nil},
			{Key: "d", Value: 1.5}, {Key: "i", Value: int32(1)}, {Key: "l", Value: int64(1)},
			{Key: "dec", Value: bson.NewDecimal128(1, 2)}, {Key: "oid", Value: oid},
			{Key: "wall", Value: bson.DateTime(1)}, {Key: "other", Value: ts},
			{Key: "ts", Value: ts}, {Key: "t", Value: int64(1)},
		}, true},
		{"after a regex", bson.D{{Key: "r", Value: bson.Regex{Pattern: "a", Options: "i"}}, {Key: "ts", Value: ts}}, false},
		{"after minkey", bson.D{{Key: "m", Value: bson.MinKey{}}, {Key: "ts", Value: ts}}, false},
		{"key with ts prefix", bson.D{{Key: "tsx", Value: int32(1)}, {Key: "ts", Value: ts}}, true},
	}
	for _, c := range cases {
		b, err := bson.Marshal(c.doc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := entryTS(b)
		if err != nil || got != want {
			t.Errorf("%s: entryTS = %v, %v", c.name, got, err)
		}
		if f, ok := findTS(b); ok != c.fast || (ok && f != want) {
			t.Errorf("%s: findTS = %v, %v", c.name, f, ok)
		}
	}
}

// FuzzFindTS checks the fast path against oplog.EntryTS: whenever findTS
// answers, EntryTS gives the same answer. The input is the elements of a
// document; the fuzz function frames them as Writer.Append requires.
func FuzzFindTS(f *testing.F) {
	for _, d := range []bson.D{
		{{Key: "ts", Value: bson.Timestamp{T: 1, I: 2}}},
		{{Key: "op", Value: "i"}, {Key: "o", Value: bson.D{{Key: "x", Value: 1}}}, {Key: "ts", Value: bson.Timestamp{T: 3, I: 4}}},
		{{Key: "b", Value: bson.Binary{Data: []byte{1, 2}}}, {Key: "a", Value: bson.A{1}}, {Key: "ts", Value: bson.Timestamp{T: 5}}},
	} {
		b, err := bson.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[4 : len(b)-1])
	}
	f.Fuzz(func(t *testing.T, elems []byte) {
		doc := binary.LittleEndian.AppendUint32(nil, uint32(len(elems)+5))
		doc = append(append(doc, elems...), 0)
		fast, ok := findTS(doc)
		if !ok {
			return
		}
		slow, err := oplog.EntryTS(doc)
		if err != nil || slow != fast {
			t.Fatalf("findTS = %v but EntryTS = %v, %v", fast, slow, err)
		}
	})
}

// BenchmarkEntryTS shows why findTS exists: oplog.EntryTS is called twice per
// entry in a segment's life.
func BenchmarkEntryTS(b *testing.B) {
	es := entries(b, 50, oplog.Timestamp{}, 1000, 150, 600)
	b.Run("findTS", func(b *testing.B) {
		for b.Loop() {
			for _, e := range es {
				if _, ok := findTS(e); !ok {
					b.Fatal("no ts")
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/entry")
	})
	b.Run("oplog.EntryTS", func(b *testing.B) {
		for b.Loop() {
			for _, e := range es {
				if _, err := oplog.EntryTS(e); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/entry")
	})
}
