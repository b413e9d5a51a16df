package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/tidelog/tidelog/crypt/crypttest"
	"github.com/tidelog/tidelog/oplog"
)

// FuzzReader feeds arbitrary bytes to the Reader. With fix set, it first
// repairs the header and file checksums, so that mutations reach the checks
// behind them (header fields, body, trailer) instead of stopping at a CRC.
//
// Encrypted segments are read with a fixed test key, and seeded: encrypted
// with it (one chunk, several small chunks) and with another key.
//
// Invariants: no panic; every error matches ErrCorrupt, ErrUnsupported or,
// for a segment of another key, ErrWrongKey (the source never fails);
// io.EOF comes only with a set of entries that agrees with the header and
// the Info, and that a Writer accepts again.
func FuzzReader(f *testing.F) {
	kr := crypttest.Ring(f, crypttest.Key(f, 1))
	w := NewWriter("rs0")
	a, dataA := build(f, w, Link{}, entries(f, 40, oplog.Timestamp{}, 20, 60, 400))
	_, dataB := build(f, w, a.Link(), entries(f, 41, a.OpEnd, 3, 60, 200))
	_, dataC := build(f, w, Link{}, entries(f, 42, oplog.Timestamp{}, 1, 60, 100))
	_, dataD := build(f, encWriter(kr, 0), a.Link(), entries(f, 43, a.OpEnd, 6, 60, 300))
	_, dataE := build(f, encWriter(kr, 128), Link{}, entries(f, 44, oplog.Timestamp{}, 8, 60, 200))
	_, dataF := build(f, encWriter(crypttest.Ring(f, crypttest.Key(f, 2)), 0), Link{}, entries(f, 45, oplog.Timestamp{}, 2, 60, 100))
	for _, d := range [][]byte{dataA, dataB, dataC, dataD, dataE, dataF} {
		f.Add(d, false)
		f.Add(d, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			data = fixChecksums(data)
		}
		r, err := NewReaderWith(bytes.NewReader(data), "", ReaderOptions{Keys: kr})
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		h := r.Header()
		var es [][]byte
		var raw uint64
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkFuzzErr(t, err)
				return
			}
			ts, tsErr := oplog.EntryTS(e)
			if tsErr != nil || ts.Before(h.OpStart) || ts.After(h.OpEnd) {
				t.Fatalf("entry %d handed out with ts %v (%v) outside [%s, %s]", len(es), ts, tsErr, h.OpStart, h.OpEnd)
			}
			raw += uint64(len(e))
			es = append(es, bytes.Clone(e))
		}
		info := r.Info()
		if uint64(len(es)) != h.Count || raw != h.RawSize || info.Size != uint64(len(data)) ||
			info.Checksum != binary.LittleEndian.Uint32(data[len(data)-4:]) || info.Name != h.Name() {
			t.Fatalf("EOF with %d entries, %d raw bytes, info %+v, header %+v", len(es), raw, info, h)
		}
		// What a Reader accepts, a Writer writes again with the same header.
		w := NewWriter(h.Stream)
		w.Start(h.Prev)
		for k, e := range es {
			if err := w.Append(e); err != nil {
				t.Fatalf("Writer rejects entry %d the Reader accepted: %v", k, err)
			}
		}
		again, _, err := w.Finish()
		if err != nil {
			t.Fatal(err)
		}
		if again.OpStart != h.OpStart || again.OpEnd != h.OpEnd || again.Count != h.Count ||
			again.RawSize != h.RawSize || again.Prev != h.Prev || again.Stream != h.Stream {
			t.Fatalf("rewritten %+v, read header %+v", again, h)
		}
	})
}

func checkFuzzErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrWrongKey) {
		t.Fatalf("error is not ErrCorrupt, ErrUnsupported or ErrWrongKey: %v", err)
	}
	if err == io.EOF {
		t.Fatal("io.EOF as an error")
	}
}

// fixChecksums returns data with the header CRC and the file CRC made to
// match, where the header length allows; other bytes are left alone.
func fixChecksums(data []byte) []byte {
	data = bytes.Clone(data)
	if len(data) >= prefixSize {
		n := int(binary.LittleEndian.Uint32(data[offHeaderLen:]))
		if n >= prefixSize+4 && n <= len(data) {
			binary.LittleEndian.PutUint32(data[n-4:], crc32c(0, data[:n-4]))
		}
	}
	if len(data) >= 4 {
		binary.LittleEndian.PutUint32(data[len(data)-4:], crc32c(0, data[:len(data)-4]))
	}
	return data
}
