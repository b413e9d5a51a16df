package segment

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/tidelog/tidelog/oplog"
)

func TestRoundTrip(t *testing.T) {
	es := entries(t, 1, oplog.Timestamp{}, 3000, 150, 6000)
	// One ~1 MiB entry in the middle, spanning several lz4 blocks.
	mid := len(es) / 2
	ts, _ := oplog.EntryTS(es[mid])
	es[mid] = entry(t, ts, rand.New(rand.NewPCG(9, 9)), 1<<20)

	w := NewWriter("rs0")
	info, data := build(t, w, Link{}, es)

	first, _ := oplog.EntryTS(es[0])
	last, _ := oplog.EntryTS(es[len(es)-1])
	raw := 0
	for _, e := range es {
		raw += len(e)
	}
	want := Info{
		Name: Name(first, last), Stream: "rs0", OpStart: first, OpEnd: last,
		Count: uint64(len(es)), RawSize: uint64(raw), Size: uint64(len(data)),
		Checksum: info.Checksum,
	}
	if info != want {
		t.Fatalf("writer info\n got %+v\nwant %+v", info, want)
	}
	if len(data) >= raw/2 {
		t.Errorf("compressed to %d of %d raw bytes: lz4 not effective", len(data), raw)
	}

	r, got, err := readAll(data, info.Name)
	if err != io.EOF {
		t.Fatalf("read: %v", err)
	}
	if len(got) != len(es) {
		t.Fatalf("read %d entries, wrote %d", len(got), len(es))
	}
	prefixOf(t, got, es, "round trip")
	if r.Info() != info {
		t.Fatalf("reader info\n got %+v\nwant %+v", r.Info(), info)
	}
	h := r.Header()
	if h.Version != FormatVersion || h.Codec != CodecLZ4Frame || h.Stream != "rs0" || h.Count != info.Count ||
		h.RawSize != info.RawSize || h.OpStart != first || h.OpEnd != last || !h.Prev.IsZero() {
		t.Fatalf("header %+v", h)
	}
	// Next stays at io.EOF.
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next after EOF: %v", err)
	}

	vi, err := Verify(bytes.NewReader(data), "")
	if err != nil || vi != info {
		t.Fatalf("Verify: %+v, %v", vi, err)
	}

	hh, n, err := ReadHeader(bytes.NewReader(data))
	if err != nil || hh != h {
		t.Fatalf("ReadHeader: %+v, %v", hh, err)
	}
	if n != int64(headerSize("rs0")) || hh.FileSize(n) != info.Size {
		t.Fatalf("ReadHeader length %d, file size %d, want %d", n, hh.FileSize(n), info.Size)
	}
}

func TestSingleEntry(t *testing.T) {
	es := entries(t, 2, oplog.Timestamp{}, 1, 200, 201)
	info, data := build(t, NewWriter("rs0"), Link{}, es)
	if info.OpStart != info.OpEnd || info.Count != 1 {
		t.Fatalf("info %+v", info)
	}
	if _, err := Verify(bytes.NewReader(data), info.Name); err != nil {
		t.Fatal(err)
	}
}

// A Writer reused across segments produces the same bytes as a fresh one,
// and each segment links to the one before.
func TestChainAndReuse(t *testing.T) {
	w := NewWriter("rs1")
	var prev Link
	after := oplog.Timestamp{}
	for seg := range 4 {
		es := entries(t, uint64(10+seg), after, 200+seg*50, 100, 3000)
		info, data := build(t, w, prev, es)
		if info.Prev != prev {
			t.Fatalf("segment %d: Info.Prev %+v, want %+v", seg, info.Prev, prev)
		}
		_, fresh := build(t, NewWriter("rs1"), prev, es)
		if !bytes.Equal(fresh, data) {
			t.Fatalf("segment %d: reused writer's bytes differ from a fresh writer's", seg)
		}
		r, _, err := readAll(data, info.Name)
		if err != io.EOF {
			t.Fatal(err)
		}
		if r.Header().Prev != prev || r.Info() != info {
			t.Fatalf("segment %d: header prev %+v info %+v", seg, r.Header().Prev, r.Info())
		}
		prev, after = info.Link(), info.OpEnd
	}
}

// Start abandons an unfinished segment without leaking its entries into the next.
func TestStartAbandons(t *testing.T) {
	w := NewWriter("rs0")
	es := entries(t, 3, oplog.Timestamp{}, 50, 100, 400)
	for _, e := range es[:30] {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	info, data := build(t, w, Link{}, es[30:])
	_, got, err := readAll(data, info.Name)
	if err != io.EOF || len(got) != 20 {
		t.Fatalf("%d entries, %v", len(got), err)
	}
	prefixOf(t, got, es[30:], "after abandon")
}
