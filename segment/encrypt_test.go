package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/crypt/crypttest"
	"github.com/tidelog/tidelog/oplog"
)

// encWriter returns a Writer encrypting with kr in chunks of chunk bytes
// (0: the default).
func encWriter(kr *crypt.Keyring, chunk uint32) *Writer {
	w := NewWriterWith("rs0", WriterOptions{Keys: kr})
	w.chunk = chunk
	return w
}

func TestEncryptedRoundTrip(t *testing.T) {
	kr := crypttest.Ring(t, crypttest.Key(t, 1))
	for _, tc := range []struct {
		name  string
		es    [][]byte
		chunk uint32
	}{
		{"one entry", entries(t, 60, oplog.Timestamp{}, 1, 60, 100), 0},
		{"small", entries(t, 61, oplog.Timestamp{}, 12, 100, 400), 0},
		{"large", entries(t, 62, oplog.Timestamp{}, 900, 100, 3000), 0},
		{"small chunks", entries(t, 63, oplog.Timestamp{}, 40, 100, 400), 64},
	} {
		w := encWriter(kr, tc.chunk)
		info, data := build(t, w, Link{}, tc.es)
		if !info.Encrypted || info.KeyID != kr.Primary().ID() || info.Size != uint64(len(data)) {
			t.Fatalf("%s: writer info %+v", tc.name, info)
		}
		r, got, err := readAllWith(data, info.Name, ReaderOptions{Keys: kr, RequireEncryption: true})
		if err != io.EOF || len(got) != len(tc.es) {
			t.Fatalf("%s: %d of %d entries, %v", tc.name, len(got), len(tc.es), err)
		}
		prefixOf(t, got, tc.es, tc.name)
		if r.Info() != info {
			t.Fatalf("%s: reader info %+v, writer info %+v", tc.name, r.Info(), info)
		}
		// The header, catalog and structure need no key.
		h, n, err := ReadHeader(bytes.NewReader(data))
		if err != nil || !h.Encrypted || h.KeyID != info.KeyID || h.FileSize(n) != info.Size ||
			n != int64(headerSize("rs0")+encBlockSize) {
			t.Fatalf("%s: ReadHeader %+v, %d, %v", tc.name, h, n, err)
		}
		if si, err := VerifyStructure(bytes.NewReader(data), info.Name); err != nil || si != info {
			t.Fatalf("%s: VerifyStructure %+v, %v", tc.name, si, err)
		}
		// The trailer's raw CRC is 0: the real one is sealed in the body.
		if got := binary.LittleEndian.Uint32(data[len(data)-TrailerSize+offTrailerRawCRC:]); got != 0 {
			t.Fatalf("%s: raw CRC %08x in the clear", tc.name, got)
		}
		// A second segment chained to the first.
		next, data2 := build(t, w, info.Link(), entries(t, 64, info.OpEnd, 5, 100, 200))
		if vi, err := VerifyWith(bytes.NewReader(data2), next.Name, ReaderOptions{Keys: kr}); err != nil || vi.Prev != info.Link() {
			t.Fatalf("%s: chained segment: %+v, %v", tc.name, vi, err)
		}
	}
}

// Without keys, the Writer writes what it always wrote, byte for byte.
func TestPlaintextUnchanged(t *testing.T) {
	es := entries(t, 65, oplog.Timestamp{}, 30, 100, 400)
	_, a := build(t, NewWriter("rs0"), Link{}, es)
	var empty *crypt.Keyring
	_, b := build(t, NewWriterWith("rs0", WriterOptions{Keys: empty}), Link{}, es)
	if !bytes.Equal(a, b) || a[offFlags] != 0 {
		t.Fatal("a Writer without keys writes differently")
	}
	// And keys do not matter to reading it, unless encryption is required.
	if _, err := VerifyWith(bytes.NewReader(a), "", ReaderOptions{Keys: crypttest.Ring(t, crypttest.Key(t, 1))}); err != nil {
		t.Fatal(err)
	}
	info, err := VerifyStructure(bytes.NewReader(a), "")
	if err != nil || info.Encrypted {
		t.Fatalf("structure of a plaintext segment: %+v, %v", info, err)
	}
}

func TestEncryptedRotation(t *testing.T) {
	a, b := crypttest.Key(t, 1), crypttest.Key(t, 2)
	es := entries(t, 66, oplog.Timestamp{}, 10, 100, 300)
	oldInfo, oldData := build(t, encWriter(crypttest.Ring(t, a), 0), Link{}, es)
	rotated := crypttest.Ring(t, b, a)
	newInfo, newData := build(t, encWriter(rotated, 0), Link{}, es)
	if oldInfo.KeyID != a.ID() || newInfo.KeyID != b.ID() {
		t.Fatalf("key ids %s, %s; want %s, %s", oldInfo.KeyID, newInfo.KeyID, a.ID(), b.ID())
	}
	for _, d := range [][]byte{oldData, newData} {
		if _, err := VerifyWith(bytes.NewReader(d), oldInfo.Name, ReaderOptions{Keys: rotated}); err != nil {
			t.Fatalf("rotated keyring: %v", err)
		}
	}
}

func TestEncryptedKeyErrors(t *testing.T) {
	a, b, c := crypttest.Key(t, 1), crypttest.Key(t, 2), crypttest.Key(t, 3)
	info, data := build(t, encWriter(crypttest.Ring(t, a), 0), Link{}, entries(t, 67, oplog.Timestamp{}, 10, 100, 300))

	_, err := Verify(bytes.NewReader(data), info.Name)
	want := "segment " + info.Name + " is encrypted with key " + a.ID().String() +
		": give the key (tailerd/replayer --encryption-key-file FILE or TIDELOG_ENCRYPTION_KEY)"
	if !errors.Is(err, ErrKeyRequired) || errors.Is(err, ErrCorrupt) || err.Error() != want {
		t.Fatalf("no key: %v\nwant %s", err, want)
	}

	_, err = VerifyWith(bytes.NewReader(data), info.Name, ReaderOptions{Keys: crypttest.Ring(t, b, c)})
	if !errors.Is(err, ErrWrongKey) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong key: %v", err)
	}
	for _, s := range []string{"segment " + info.Name, "wrong key", a.ID().String(), b.ID().String(), c.ID().String()} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("wrong-key error %q does not name %q", err, s)
		}
	}
	crypttest.NoKeyMaterial(t, err.Error(), a, b, c)
	if strings.Contains(err.Error(), "%!") {
		t.Fatalf("formatting error in %q", err)
	}

	// A plaintext segment where encryption is required.
	pinfo, pdata := build(t, NewWriter("rs0"), Link{}, entries(t, 68, oplog.Timestamp{}, 3, 100, 300))
	_, err = VerifyWith(bytes.NewReader(pdata), pinfo.Name, ReaderOptions{Keys: crypttest.Ring(t, a), RequireEncryption: true})
	want = "segment " + pinfo.Name + " is not encrypted but encryption is required: if it predates encryption pass --allow-unencrypted"
	if !errors.Is(err, ErrNotEncrypted) || err.Error() != want {
		t.Fatalf("plaintext, encryption required: %v", err)
	}
}

// Every single-bit flip anywhere in an encrypted segment is rejected, with
// the key (header by its CRC, body by authentication, trailer by the file
// checksum) and without it (VerifyStructure: the file checksum); no entry
// handed out before the error differs from what was written.
func TestEncryptedEveryBitFlip(t *testing.T) {
	kr := crypttest.Ring(t, crypttest.Key(t, 1))
	es := entries(t, 69, oplog.Timestamp{}, 6, 100, 200)
	info, data := build(t, encWriter(kr, 256), Link{}, es)
	for pos := range data {
		for bit := range 8 {
			bad := bytes.Clone(data)
			bad[pos] ^= 1 << bit
			what := "byte " + strconv.Itoa(pos) + " bit " + strconv.Itoa(bit)
			_, got, err := readAllWith(bad, info.Name, ReaderOptions{Keys: kr})
			mustCorrupt(t, err, what)
			prefixOf(t, got, es, what)
			_, err = VerifyStructure(bytes.NewReader(bad), info.Name)
			mustCorrupt(t, err, "structure, "+what)
		}
	}
	t.Logf("%d bytes, %d flips rejected", len(data), 8*len(data))
}

// A forger who fixes every unkeyed checksum still fails authentication.
func TestEncryptedForgeryWithFixedChecksums(t *testing.T) {
	kr := crypttest.Ring(t, crypttest.Key(t, 1))
	es := entries(t, 70, oplog.Timestamp{}, 40, 100, 400)
	w := encWriter(kr, 512)
	info, data := build(t, w, Link{}, es)
	hdr := headerSize("rs0") + encBlockSize
	full := 512 + crypt.TagSize
	if len(data)-hdr-TrailerSize < 3*full {
		t.Fatalf("body of %d bytes: want at least 3 chunks", len(data)-hdr-TrailerSize)
	}
	authFails := func(bad []byte, what, chunk string) {
		t.Helper()
		bad = fixChecksums(bad)
		_, got, err := readAllWith(bad, info.Name, ReaderOptions{Keys: kr})
		mustCorrupt(t, err, what)
		prefixOf(t, got, es, what)
		if !strings.Contains(err.Error(), "chunk "+chunk+": tampered or damaged: authentication failed") ||
			!strings.Contains(err.Error(), info.Name) {
			t.Fatalf("%s: %v", what, err)
		}
		// The structure is intact: only the key can tell.
		if _, err := VerifyStructure(bytes.NewReader(bad), info.Name); err != nil {
			t.Fatalf("%s: structure: %v", what, err)
		}
	}
	flip := bytes.Clone(data)
	flip[hdr+full+10] ^= 1
	authFails(flip, "ciphertext bit flipped", "1")

	swap := bytes.Clone(data)
	copy(swap[hdr:hdr+full], data[hdr+full:hdr+2*full])
	copy(swap[hdr+full:hdr+2*full], data[hdr:hdr+full])
	authFails(swap, "chunks 0 and 1 swapped", "0")

	// The header edited (here: the previous link), checksums fixed.
	edit := bytes.Clone(data)
	binary.LittleEndian.PutUint32(edit[offPrevChecksum:], 0xDEADBEEF)
	binary.LittleEndian.PutUint64(edit[offPrevOpEnd:], 5)
	authFails(edit, "header edited", "0")

	// The body of another segment of the same range and key under this
	// header: same sizes, so only authentication can tell.
	_, other := build(t, w, Link{}, es)
	moved := append(bytes.Clone(data[:hdr]), other[hdr:]...)
	authFails(moved, "body of another segment", "0")
}

func TestEncryptedTruncation(t *testing.T) {
	kr := crypttest.Ring(t, crypttest.Key(t, 1))
	es := entries(t, 71, oplog.Timestamp{}, 30, 100, 400)
	info, data := build(t, encWriter(kr, 256), Link{}, es)
	hdr := headerSize("rs0") + encBlockSize
	full := 256 + crypt.TagSize
	var cuts []int
	for b := hdr; b < len(data); b += full {
		cuts = append(cuts, b-1, b, b+1)
	}
	cuts = append(cuts, len(data)-TrailerSize-crypt.TagSize, len(data)-TrailerSize, len(data)-1)
	for _, n := range cuts {
		_, got, err := readAllWith(data[:n], info.Name, ReaderOptions{Keys: kr})
		mustCorrupt(t, err, "cut at "+strconv.Itoa(n))
		prefixOf(t, got, es, "cut")
		_, err = VerifyStructure(bytes.NewReader(data[:n]), info.Name)
		mustCorrupt(t, err, "structure, cut at "+strconv.Itoa(n))
	}
	// Cutting whole chunks and fixing the sizes and checksums, as a forger
	// would, fails authentication: the last chunk left was not sealed as final.
	forged := bytes.Clone(data[:hdr+2*full])
	forged = append(forged, data[len(data)-TrailerSize:]...)
	binary.LittleEndian.PutUint64(forged[offBodySize:], uint64(2*full))
	binary.LittleEndian.PutUint64(forged[len(forged)-TrailerSize:], uint64(2*full))
	forged = fixChecksums(forged)
	// 2*full is not a valid sealed size (the final chunk would be empty of
	// its tag), so the header is rejected before any chunk is opened.
	_, _, err := readAllWith(forged, info.Name, ReaderOptions{Keys: kr})
	mustCorrupt(t, err, "whole chunks cut")
}

// A segment whose sealed raw CRC disagrees with its entries is rejected:
// encryption keeps the codec check, inside the ciphertext.
func TestEncryptedRawCRCChecked(t *testing.T) {
	kr := crypttest.Ring(t, crypttest.Key(t, 1))
	es := entries(t, 72, oplog.Timestamp{}, 10, 100, 300)
	info, data := build(t, encWriter(kr, 0), Link{}, es)
	h, n, err := ReadHeader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	aad := data[:n-4]
	c, err := crypt.NewCipher(kr, h.enc, crypt.InfoSegment, "test")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(c.NewReader(bytes.NewReader(data[n:int64(len(data))-TrailerSize]), aad))
	if err != nil {
		t.Fatal(err)
	}
	plain[len(plain)-1] ^= 0x40 // the raw CRC's last byte
	resealed := append(bytes.Clone(data[:n]), c.Seal(nil, plain, aad)...)
	resealed = fixChecksums(append(resealed, data[len(data)-TrailerSize:]...))
	_, _, err = readAllWith(resealed, info.Name, ReaderOptions{Keys: kr})
	mustCorrupt(t, err, "sealed raw CRC changed")
	if !strings.Contains(err.Error(), "raw CRC mismatch") {
		t.Fatalf("raw CRC: %v", err)
	}
}

// An encrypted flag without room for the encryption block, or with an
// impossible body size, is corruption; an unknown algorithm is unsupported.
func TestEncryptedHeaderChecks(t *testing.T) {
	kr := crypttest.Ring(t, crypttest.Key(t, 1))
	info, data := build(t, encWriter(kr, 0), Link{}, entries(t, 73, oplog.Timestamp{}, 5, 100, 300))
	ext := headerSize("rs0") - 4
	cases := []struct {
		what string
		edit func(h []byte) []byte
		want error
	}{
		{"no encryption block", func(h []byte) []byte { return append(h[:ext:ext], h[len(h)-4:]...) }, ErrCorrupt},
		{"algorithm 9", func(h []byte) []byte { h[ext+encOffAlg] = 9; return h }, ErrUnsupported},
		{"chunk size 16 MiB", func(h []byte) []byte { binary.LittleEndian.PutUint32(h[ext+encOffChunkSize:], 16<<20); return h }, ErrUnsupported},
		{"body size", func(h []byte) []byte { binary.LittleEndian.PutUint64(h[offBodySize:], 70000); return h }, ErrCorrupt},
	}
	for _, tc := range cases {
		bad := rewriteHeader(data, tc.edit)
		if _, err := VerifyWith(bytes.NewReader(bad), info.Name, ReaderOptions{Keys: kr}); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.what, err, tc.want)
		}
		if _, err := VerifyStructure(bytes.NewReader(bad), info.Name); !errors.Is(err, tc.want) {
			t.Fatalf("%s: structure: %v, want %v", tc.what, err, tc.want)
		}
	}
	// The flag cleared: a downgrade to "plaintext" finds no lz4 frame.
	bad := rewriteHeader(data, func(h []byte) []byte { h[offFlags] = 0; return h })
	if _, err := VerifyWith(bytes.NewReader(bad), info.Name, ReaderOptions{Keys: kr}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("flag cleared: %v", err)
	}
}
