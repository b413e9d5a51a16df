package crypt

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

const ctxA = "snapshot/rs0/20260101T000000Z-1700000000.0000000001/c0000-shop.orders-p0000.bson.lz4"

func TestEnvelopeRoundTrip(t *testing.T) {
	kr := testRing(t, testKey(t, 1))
	for _, chunk := range []int{MinChunkSize, 1000, DefaultChunkSize} {
		for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 2*chunk + 1, 5*chunk + 17} {
			plain := payload(n, uint64(n))
			data := seal(t, kr, ctxA, uint32(chunk), plain)
			if want := int64(envMinHeader+len(ctxA)) + SealedSize(int64(n), chunk); int64(len(data)) != want {
				t.Fatalf("chunk %d, %d bytes: envelope is %d bytes, want %d", chunk, n, len(data), want)
			}
			if p, ok := PlainSize(int64(len(data)-envMinHeader-len(ctxA)), chunk); !ok || p != int64(n) {
				t.Fatalf("PlainSize: %d, %v, want %d", p, ok, n)
			}
			got, err := open(data, kr, ctxA)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("chunk %d, %d bytes: %v (got %d bytes)", chunk, n, err, len(got))
			}
			// Through a source that returns one byte per Read.
			r, err := NewReader(iotest.OneByteReader(bytes.NewReader(data)), kr, ctxA)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("one-byte reads, chunk %d, %d bytes: %v", chunk, n, err)
			}
		}
	}
}

// The plaintext written in pieces of any size gives the same envelope as
// written at once (up to the salt): the chunking does not depend on writes.
func TestEnvelopeWritePatterns(t *testing.T) {
	kr := testRing(t, testKey(t, 1))
	plain := payload(3*DefaultChunkSize+100, 1)
	for _, step := range []int{1, 7, DefaultChunkSize - 1, DefaultChunkSize, DefaultChunkSize + 1, 2*DefaultChunkSize + 5} {
		var out bytes.Buffer
		w, err := NewWriter(&out, kr, ctxA)
		if err != nil {
			t.Fatal(err)
		}
		for p := plain; len(p) > 0; {
			k := min(step, len(p))
			if n, err := w.Write(p[:k]); err != nil || n != k {
				t.Fatalf("write %d: %d, %v", k, n, err)
			}
			p = p[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("x")); err == nil {
			t.Fatal("Write after Close accepted")
		}
		got, err := open(out.Bytes(), kr, ctxA)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("step %d: %v", step, err)
		}
	}
}

func TestEnvelopeRotation(t *testing.T) {
	a, b, c := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	plain := payload(5000, 2)
	oldData := seal(t, testRing(t, a), ctxA, DefaultChunkSize, plain)
	rotated := testRing(t, b, a)
	newData := seal(t, rotated, ctxA, DefaultChunkSize, plain)
	for _, d := range [][]byte{oldData, newData} {
		if got, err := open(d, rotated, ctxA); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("rotated keyring: %v", err)
		}
	}
	r, err := NewReader(bytes.NewReader(newData), rotated, ctxA)
	if err != nil || r.KeyID() != b.ID() {
		t.Fatalf("new writes use key %v (%v), want the new primary %s", r.KeyID(), err, b.ID())
	}
	// Only the new key: old data names the key it needs.
	_, err = open(oldData, testRing(t, b, c), ctxA)
	if !errors.Is(err, ErrWrongKey) || errors.Is(err, ErrKeyRequired) {
		t.Fatalf("old data with new keys: %v, want ErrWrongKey", err)
	}
	for _, want := range []string{ctxA, "wrong key", a.ID().String(), b.ID().String(), c.ID().String()} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %q", err, want)
		}
	}
	_, err = open(oldData, nil, ctxA)
	if !errors.Is(err, ErrKeyRequired) || !strings.Contains(err.Error(), "is encrypted with key "+a.ID().String()+": give the key") {
		t.Fatalf("no keys: %v", err)
	}
	for _, k := range []Key{a, b, c} {
		if strings.Contains(err.Error(), FormatKey(k)) {
			t.Fatal("key in error")
		}
	}
}

// mustDamaged fails unless err says damage and got is a prefix of want.
func mustDamaged(t *testing.T, got, want []byte, err error, what string) {
	t.Helper()
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("%s: %v, want ErrDamaged", what, err)
	}
	if !bytes.HasPrefix(want, got) {
		t.Fatalf("%s: %d bytes handed out that were not written", what, len(got))
	}
}

func TestEnvelopeEveryBitFlip(t *testing.T) {
	kr := testRing(t, testKey(t, 1))
	plain := payload(3*MinChunkSize+10, 3)
	data := seal(t, kr, "snapshot/rs0/x/manifest.json", MinChunkSize, plain)
	for pos := range data {
		for bit := range 8 {
			bad := bytes.Clone(data)
			bad[pos] ^= 1 << bit
			got, err := open(bad, kr, "snapshot/rs0/x/manifest.json")
			mustDamaged(t, got, plain, err, "byte "+strconv.Itoa(pos)+" bit "+strconv.Itoa(bit))
		}
	}
	t.Logf("%d bytes, %d flips rejected", len(data), 8*len(data))
}

func TestEnvelopeTruncation(t *testing.T) {
	kr := testRing(t, testKey(t, 1))
	for _, n := range []int{0, 2 * MinChunkSize, 3*MinChunkSize + 5} {
		plain := payload(n, 4)
		data := seal(t, kr, ctxA, MinChunkSize, plain)
		for cut := range len(data) {
			got, err := open(data[:cut], kr, ctxA)
			mustDamaged(t, got, plain, err, "cut at "+strconv.Itoa(cut))
		}
		// Also with bytes appended.
		got, err := open(append(bytes.Clone(data), 0), kr, ctxA)
		mustDamaged(t, got, plain, err, "one byte appended")
	}
}

func TestEnvelopeSwaps(t *testing.T) {
	kr := testRing(t, testKey(t, 1))
	hdr := envMinHeader + len(ctxA)
	full := MinChunkSize + TagSize
	plain := payload(4*MinChunkSize+3, 5)
	data := seal(t, kr, ctxA, MinChunkSize, plain)

	// Two chunks exchanged.
	bad := bytes.Clone(data)
	copy(bad[hdr:hdr+full], data[hdr+full:hdr+2*full])
	copy(bad[hdr+full:hdr+2*full], data[hdr:hdr+full])
	got, err := open(bad, kr, ctxA)
	mustDamaged(t, got, plain, err, "chunks 0 and 1 swapped")
	if !strings.Contains(err.Error(), "chunk 0: tampered or damaged: authentication failed") {
		t.Fatalf("swap error does not name the chunk: %v", err)
	}
	// A chunk dropped from the middle.
	got, err = open(append(bytes.Clone(data[:hdr+full]), data[hdr+2*full:]...), kr, ctxA)
	mustDamaged(t, got, plain, err, "chunk 1 dropped")

	// The same plaintext sealed again (new salt): its body under the first
	// header fails, as does the first body under its header.
	other := seal(t, kr, ctxA, MinChunkSize, plain)
	got, err = open(append(bytes.Clone(data[:hdr]), other[hdr:]...), kr, ctxA)
	mustDamaged(t, got, plain, err, "body of another envelope")

	// An envelope read as another object names both.
	const ctxB = "snapshot/rs0/20260101T000000Z-1700000000.0000000001/c0001-shop.users-p0000.bson.lz4"
	_, err = open(data, kr, ctxB)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), ctxA) || !strings.Contains(err.Error(), ctxB) ||
		!strings.Contains(err.Error(), "swapped or renamed") {
		t.Fatalf("context mismatch: %v", err)
	}
}

func TestEnvelopeRejectsPlaintextAndNewerFormats(t *testing.T) {
	kr := testRing(t, testKey(t, 1))
	if _, err := open([]byte(`{"format": "tidelog-snapshot"}`), kr, ctxA); !errors.Is(err, ErrDamaged) ||
		!strings.Contains(err.Error(), "no envelope magic") {
		t.Fatalf("plaintext: %v", err)
	}
	if IsEnvelope([]byte("{\"format\"")) || !IsEnvelope(seal(t, kr, ctxA, MinChunkSize, nil)) {
		t.Fatal("IsEnvelope")
	}
	// A newer version with a valid CRC is unsupported, not damaged.
	data := seal(t, kr, ctxA, MinChunkSize, []byte("x"))
	data[envOffVersion] = 2
	h := envMinHeader + len(ctxA)
	putCRC(data[:h])
	if _, err := open(data, kr, ctxA); !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrDamaged) {
		t.Fatalf("version 2: %v", err)
	}
}

func putCRC(hdr []byte) {
	crc := crc32c(hdr[:len(hdr)-4])
	hdr[len(hdr)-4], hdr[len(hdr)-3], hdr[len(hdr)-2], hdr[len(hdr)-1] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
}
