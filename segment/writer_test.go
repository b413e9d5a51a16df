package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/oplog"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func marshal(t *testing.T, d bson.D) []byte {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAppendRejectsOrder(t *testing.T) {
	es := entries(t, 5, oplog.Timestamp{}, 4, 100, 200)
	w := NewWriter("rs0")
	if err := w.Append(es[1]); err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string][]byte{"equal": es[1], "earlier": es[0]} {
		if err := w.Append(e); !errors.Is(err, ErrOutOfOrder) {
			t.Errorf("%s ts: got %v, want ErrOutOfOrder", name, err)
		}
	}
	// The rejected entries left the segment as it was.
	if err := w.Append(es[2]); err != nil {
		t.Fatal(err)
	}
	info, data, err := w.Finish()
	if err != nil || info.Count != 2 {
		t.Fatalf("Finish: %+v, %v", info, err)
	}
	if _, got, err := readAll(data, info.Name); err != io.EOF || len(got) != 2 {
		t.Fatalf("%d entries, %v", len(got), err)
	}

	// The first entry of a linked segment must follow the link.
	prev := Link{OpEnd: info.OpEnd, Checksum: info.Checksum}
	w.Start(prev)
	if err := w.Append(es[2]); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("ts equal to prev.OpEnd: got %v, want ErrOutOfOrder", err)
	}
	if err := w.Append(es[1]); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("ts before prev.OpEnd: got %v, want ErrOutOfOrder", err)
	}
	if err := w.Append(es[3]); err != nil {
		t.Fatal(err)
	}
}

func TestAppendRejectsMalformed(t *testing.T) {
	good := entries(t, 6, oplog.Timestamp{}, 1, 100, 200)[0]
	prefix := func(b []byte, n uint32) []byte {
		b = bytes.Clone(b)
		binary.LittleEndian.PutUint32(b, n)
		return b
	}
	huge := make([]byte, MaxEntrySize+1)
	binary.LittleEndian.PutUint32(huge, uint32(len(huge)))
	cases := map[string][]byte{
		"nil":                nil,
		"4 bytes":            {5, 0, 0, 0},
		"empty doc":          {5, 0, 0, 0, 0},
		"prefix too long":    prefix(good, uint32(len(good)+1)),
		"prefix too short":   prefix(good, uint32(len(good)-1)),
		"negative prefix":    prefix(good, 0xFFFFFFFF),
		"no terminator":      append(bytes.Clone(good[:len(good)-1]), 1),
		"truncated":          prefix(good[:len(good)-10], uint32(len(good)-10)),
		"trailing byte":      append(bytes.Clone(good), 0),
		"no ts":              marshal(t, bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "a.b"}}),
		"ts not a timestamp": marshal(t, bson.D{{Key: "op", Value: "i"}, {Key: "ts", Value: int64(5)}}),
		"ts zero":            marshal(t, bson.D{{Key: "ts", Value: bson.Timestamp{}}}),
		"bad element type":   {12, 0, 0, 0, 0x7e, 't', 's', 0, 1, 2, 3, 0},
		"too big":            huge,
	}
	w := NewWriter("rs0")
	for name, e := range cases {
		if err := w.Append(e); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("%s: got %v, want ErrInvalidEntry", name, err)
		}
	}
	if w.Count() != 0 || w.RawSize() != 0 {
		t.Fatalf("rejected entries counted: %d, %d", w.Count(), w.RawSize())
	}
	if _, _, err := w.Finish(); err == nil {
		t.Fatal("Finish without entries succeeded")
	}
	if err := w.Append(good); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(good); err == nil {
		t.Fatal("Append after Finish succeeded")
	}
	if _, _, err := w.Finish(); err == nil {
		t.Fatal("second Finish succeeded")
	}
}

func TestWriterAccessors(t *testing.T) {
	es := entries(t, 7, oplog.Timestamp{}, 10, 100, 300)
	w := NewWriter("rs0")
	raw := 0
	for k, e := range es {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
		raw += len(e)
		ts, _ := oplog.EntryTS(e)
		first, _ := oplog.EntryTS(es[0])
		if w.Count() != k+1 || w.RawSize() != raw || w.OpEnd() != ts || w.OpStart() != first {
			t.Fatalf("after %d: count %d raw %d start %s end %s", k, w.Count(), w.RawSize(), w.OpStart(), w.OpEnd())
		}
	}
	w.Start(Link{})
	if w.Count() != 0 || w.RawSize() != 0 || !w.OpStart().IsZero() || !w.OpEnd().IsZero() {
		t.Fatal("Start did not reset the counters")
	}
}

func TestWriterBadStream(t *testing.T) {
	e := entries(t, 8, oplog.Timestamp{}, 1, 100, 200)[0]
	for _, s := range []string{"", strings.Repeat("x", MaxStreamLen+1), "\xff"} {
		w := NewWriter(s)
		if err := w.Append(e); err == nil {
			t.Errorf("stream %q: Append succeeded", s)
		}
		w.Start(Link{})
		if _, _, err := w.Finish(); err == nil {
			t.Errorf("stream %q: Finish succeeded", s)
		}
	}
}

// Append must not allocate per entry once the Writer's buffers have grown
// for a first segment.
func TestAppendAllocs(t *testing.T) {
	es := entries(t, 9, oplog.Timestamp{}, 4000, 100, 3000)
	w := NewWriter("rs0")
	build(t, w, Link{}, es)
	w.Start(Link{})
	k := 0
	allocs := testing.AllocsPerRun(len(es)-1, func() {
		if err := w.Append(es[k]); err != nil {
			t.Fatal(err)
		}
		k++
	})
	if allocs != 0 {
		t.Fatalf("Append allocates %.3f times per entry", allocs)
	}
}

// Next must not allocate per entry once its entry buffer has grown.
func TestNextAllocs(t *testing.T) {
	es := entries(t, 10, oplog.Timestamp{}, 4000, 100, 3000)
	info, data := build(t, NewWriter("rs0"), Link{}, es)
	r, err := NewReader(bytes.NewReader(data), info.Name)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 { // let the buffer grow to the larger entries
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(len(es)-200, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.01 {
		t.Fatalf("Next allocates %.3f times per entry", allocs)
	}
}
