package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tidelog/tidelog/oplog"
)

// Every flipped byte, in the header, the body or the trailer, is detected,
// and no entry handed out before the error differs from what was written.
func TestReaderDetectsFlips(t *testing.T) {
	masks := []byte{0x01, 0x80, 0xFF}
	small := entries(t, 20, oplog.Timestamp{}, 12, 100, 400)
	// Three 256 KiB lz4 blocks; sampled at about 700 positions.
	large := entries(t, 21, oplog.Timestamp{}, 600, 100, 2000)
	for _, tc := range []struct {
		name   string
		es     [][]byte
		stride int
	}{{"small", small, 1}, {"large", large, 331}} {
		info, data := build(t, NewWriter("rs0"), Link{}, tc.es)
		check := func(pos int, mask byte) {
			bad := bytes.Clone(data)
			bad[pos] ^= mask
			what := tc.name + ": byte " + strconv.Itoa(pos) + " ^ " + strconv.Itoa(int(mask))
			_, got, err := readAll(bad, info.Name)
			mustCorrupt(t, err, what)
			prefixOf(t, got, tc.es, what)
		}
		positions := 0
		for pos := 0; pos < len(data); pos += tc.stride {
			if tc.stride == 1 {
				for _, m := range masks {
					check(pos, m)
				}
			} else {
				check(pos, masks[positions%len(masks)])
			}
			positions++
		}
		// Whatever the stride, every byte of the header and trailer.
		for pos := 0; pos < headerSize("rs0"); pos++ {
			check(pos, 0x10)
		}
		for pos := len(data) - TrailerSize; pos < len(data); pos++ {
			check(pos, 0x10)
		}
		t.Logf("%s: %d bytes, %d positions flipped", tc.name, len(data), positions)
	}
}

func TestReaderDetectsTruncation(t *testing.T) {
	es := entries(t, 22, oplog.Timestamp{}, 8, 100, 300)
	info, data := build(t, NewWriter("rs0"), Link{}, es)
	for n := 0; n < len(data); n++ {
		_, got, err := readAll(data[:n], info.Name)
		mustCorrupt(t, err, "truncated to "+strconv.Itoa(n))
		prefixOf(t, got, es, "truncated")
		if _, err := Verify(bytes.NewReader(data[:n]), ""); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Verify of %d bytes: %v", n, err)
		}
	}
	// Also through a reader that returns one byte at a time.
	for _, n := range []int{0, 10, 100, len(data) / 2, len(data) - 1} {
		_, err := Verify(iotest.OneByteReader(bytes.NewReader(data[:n])), info.Name)
		mustCorrupt(t, err, "one-byte reads, truncated to "+strconv.Itoa(n))
	}
	if _, err := Verify(iotest.OneByteReader(bytes.NewReader(data)), info.Name); err != nil {
		t.Fatalf("one-byte reads: %v", err)
	}
}

func TestReaderDetectsTrailingBytes(t *testing.T) {
	info, data := build(t, NewWriter("rs0"), Link{}, entries(t, 23, oplog.Timestamp{}, 8, 100, 300))
	for _, extra := range [][]byte{{0}, {1}, make([]byte, 100), data} {
		_, err := Verify(bytes.NewReader(append(bytes.Clone(data), extra...)), info.Name)
		mustCorrupt(t, err, "trailing bytes")
		if !strings.Contains(err.Error(), "trailing bytes") {
			t.Errorf("error does not say trailing bytes: %v", err)
		}
	}
}

// A segment stored under another segment's name is caught by NewReader.
func TestReaderDetectsRename(t *testing.T) {
	w := NewWriter("rs0")
	a, dataA := build(t, w, Link{}, entries(t, 24, oplog.Timestamp{}, 8, 100, 300))
	b, _ := build(t, w, a.Link(), entries(t, 25, a.OpEnd, 8, 100, 300))
	_, err := NewReader(bytes.NewReader(dataA), b.Name)
	mustCorrupt(t, err, "renamed")
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Segment != b.Name || !strings.Contains(ce.Reason, "renamed") {
		t.Fatalf("rename error: %v", err)
	}
	for _, name := range []string{"x.tseg", a.Name + "x", "rs0/" + a.Name} {
		_, err := NewReader(bytes.NewReader(dataA), name)
		mustCorrupt(t, err, "name "+name)
	}
	if _, err := Verify(bytes.NewReader(dataA), a.Name); err != nil {
		t.Fatal(err)
	}
}

// rewriteHeader applies edit to the header of a segment and repairs the
// header and file checksums, as a writer of another version would have.
func rewriteHeader(data []byte, edit func(h []byte) []byte) []byte {
	n := int(binary.LittleEndian.Uint32(data[offHeaderLen:]))
	h := edit(bytes.Clone(data[:n]))
	binary.LittleEndian.PutUint32(h[offHeaderLen:], uint32(len(h)))
	binary.LittleEndian.PutUint32(h[len(h)-4:], crc32c(0, h[:len(h)-4]))
	out := append(h, data[n:]...)
	binary.LittleEndian.PutUint32(out[len(out)-4:], crc32c(0, out[:len(out)-4]))
	return out
}

func TestReaderUnsupported(t *testing.T) {
	info, data := build(t, NewWriter("rs0"), Link{}, entries(t, 26, oplog.Timestamp{}, 8, 100, 300))
	cases := map[string]func(h []byte) []byte{
		"format version 2": func(h []byte) []byte { binary.LittleEndian.PutUint16(h[offVersion:], 2); return h },
		"codec 7":          func(h []byte) []byte { h[offCodec] = 7; return h },
		"header flags":     func(h []byte) []byte { h[offFlags] = 2; return h }, // bit 0 is FlagEncrypted
	}
	for what, edit := range cases {
		bad := rewriteHeader(data, edit)
		_, err := NewReader(bytes.NewReader(bad), info.Name)
		if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: got %v, want ErrUnsupported", what, err)
		}
		if msg := err.Error(); !strings.Contains(msg, what) || !strings.Contains(msg, "upgrade tidelog") || !strings.Contains(msg, info.Name) {
			t.Errorf("%s: message %q", what, msg)
		}
		if _, _, err := ReadHeader(bytes.NewReader(bad)); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: ReadHeader: %v", what, err)
		}
	}
	// Without the checksum repaired, a changed version is damage, not a new format.
	bad := bytes.Clone(data)
	bad[offVersion] = 2
	_, err := NewReader(bytes.NewReader(bad), info.Name)
	mustCorrupt(t, err, "version byte flipped")
}

// Within a version, the header may grow: readers skip bytes between the
// stream name and the header CRC.
func TestReaderSkipsHeaderExtension(t *testing.T) {
	es := entries(t, 27, oplog.Timestamp{}, 8, 100, 300)
	info, data := build(t, NewWriter("rs0"), Link{}, es)
	ext := rewriteHeader(data, func(h []byte) []byte {
		crc := h[len(h)-4:]
		return append(append(h[:len(h)-4:len(h)-4], "future fields"...), crc...)
	})
	r, got, err := readAll(ext, info.Name)
	if err != io.EOF || len(got) != len(es) {
		t.Fatalf("%d entries, %v", len(got), err)
	}
	if r.Info().Size != uint64(len(ext)) {
		t.Fatalf("size %d, want %d", r.Info().Size, len(ext))
	}
}

func TestReadHeaderErrors(t *testing.T) {
	_, data := build(t, NewWriter("rs0"), Link{}, entries(t, 28, oplog.Timestamp{}, 8, 100, 300))
	n := headerSize("rs0")
	for k := 0; k < n; k++ {
		if _, _, err := ReadHeader(bytes.NewReader(data[:k])); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("header truncated to %d: %v", k, err)
		}
	}
	if _, _, err := ReadHeader(strings.NewReader("PK\x03\x04 definitely not a segment")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("zip: %v", err)
	}
	huge := bytes.Clone(data)
	binary.LittleEndian.PutUint32(huge[offHeaderLen:], 1<<30)
	if _, _, err := ReadHeader(bytes.NewReader(huge)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("1 GiB header length: %v", err)
	}
}

// A failing underlying reader is an I/O error, not corruption.
func TestReaderIOError(t *testing.T) {
	info, data := build(t, NewWriter("rs0"), Link{}, entries(t, 29, oplog.Timestamp{}, 300, 100, 3000))
	boom := errors.New("boom")
	for _, n := range []int{0, 10, 200, len(data) / 2, len(data) - 10} {
		r := io.MultiReader(bytes.NewReader(data[:n]), iotest.ErrReader(boom))
		_, err := Verify(r, info.Name)
		if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("failure after %d bytes: got %v, want the I/O error", n, err)
		}
	}
}

func TestCorruptErrorMessage(t *testing.T) {
	err := error(&CorruptError{Segment: "0000000001.0000000001-0000000002.0000000005.tseg", Offset: 1234, Reason: "block checksum mismatch"})
	want := "segment 0000000001.0000000001-0000000002.0000000005.tseg: corrupt at byte 1234: block checksum mismatch"
	if err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err.Error(), want)
	}
	if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported) {
		t.Fatal("errors.Is")
	}
	// A real one names the segment and a position inside the file.
	info, data := build(t, NewWriter("rs0"), Link{}, entries(t, 30, oplog.Timestamp{}, 50, 100, 300))
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 1
	_, err = Verify(bytes.NewReader(bad), info.Name)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Segment != info.Name || ce.Offset <= 0 || ce.Offset > int64(len(data)) {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
}

// A header whose checksums were recomputed (a buggy or hostile writer) but
// whose fields disagree with the body or with each other is still caught.
func TestReaderDetectsInconsistentHeader(t *testing.T) {
	es := entries(t, 31, oplog.Timestamp{}, 20, 100, 300)
	info, data := build(t, NewWriter("rs0"), Link{}, es)
	le := binary.LittleEndian
	add := func(off int, d int64) func(h []byte) []byte {
		return func(h []byte) []byte { le.PutUint64(h[off:], uint64(int64(le.Uint64(h[off:]))+d)); return h }
	}
	set := func(off int, v uint64) func(h []byte) []byte {
		return func(h []byte) []byte { le.PutUint64(h[off:], v); return h }
	}
	cases := map[string]func(h []byte) []byte{
		"count+1":            add(offCount, 1),
		"count-1":            add(offCount, -1),
		"count 0":            set(offCount, 0),
		"count huge":         set(offCount, 1<<40),
		"opStart-1":          add(offOpStart, -1),
		"opStart+1":          add(offOpStart, 1),
		"opStart 0":          set(offOpStart, 0),
		"opEnd+1":            add(offOpEnd, 1),
		"opEnd-1":            add(offOpEnd, -1),
		"opEnd before start": set(offOpEnd, 1),
		"raw size+1":         add(offRawSize, 1),
		"raw size-1":         add(offRawSize, -1),
		"raw size tiny":      set(offRawSize, 3),
		"body size+1":        add(offBodySize, 1),
		"body size-1":        add(offBodySize, -1),
		"body size 0":        set(offBodySize, 0),
		"body size huge":     set(offBodySize, 1<<63),
		"prev after start":   set(offPrevOpEnd, info.OpStart.Uint64()),
		"stream overruns":    func(h []byte) []byte { le.PutUint16(h[offStreamLen:], 500); return h },
		"stream empty":       func(h []byte) []byte { le.PutUint16(h[offStreamLen:], 0); return h },
		"stream not UTF-8":   func(h []byte) []byte { h[offStream] = 0xff; return h },
		"header too short":   func(h []byte) []byte { return append(h[:offStream-10:offStream-10], 0, 0, 0, 0) },
	}
	for what, edit := range cases {
		bad := rewriteHeader(data, edit)
		_, got, err := readAll(bad, "")
		mustCorrupt(t, err, what)
		prefixOf(t, got, es, what)
	}
}

// The body must be exactly the lz4 frame: a trailer moved by a body size
// that disagrees with the frame is caught, as is a body that is no lz4 frame
// with block checksums.
func TestReaderDetectsBadBody(t *testing.T) {
	es := entries(t, 32, oplog.Timestamp{}, 20, 100, 300)
	_, data := build(t, NewWriter("rs0"), Link{}, es)
	n := headerSize("rs0")
	withBody := func(body []byte) []byte {
		out := rewriteHeader(data, func(h []byte) []byte {
			binary.LittleEndian.PutUint64(h[offBodySize:], uint64(len(body)))
			return h
		})
		out = append(append(out[:n:n], body...), data[len(data)-TrailerSize:]...)
		binary.LittleEndian.PutUint64(out[len(out)-TrailerSize:], uint64(len(body)))
		binary.LittleEndian.PutUint32(out[len(out)-4:], crc32c(0, out[:len(out)-4]))
		return out
	}
	body := data[n : len(data)-TrailerSize]
	noBlockSums := bytes.Clone(body)
	noBlockSums[4] &^= 0x10
	cases := map[string][]byte{
		"padding after the frame": append(bytes.Clone(body), 0, 0, 0, 0),
		"frame cut":               body[:len(body)-4],
		"not lz4":                 bytes.Repeat([]byte{0x42}, len(body)),
		"no block checksums":      noBlockSums,
		"legacy magic":            append([]byte{0x02, 0x21, 0x4c, 0x18}, body[4:]...),
	}
	if _, got, err := readAll(withBody(body), ""); err != io.EOF || len(got) != len(es) {
		t.Fatalf("rebuilt original: %d entries, %v", len(got), err)
	}
	for what, b := range cases {
		_, got, err := readAll(withBody(b), "")
		mustCorrupt(t, err, what)
		prefixOf(t, got, es, what)
	}
}
