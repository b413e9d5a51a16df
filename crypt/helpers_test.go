package crypt

import (
	"bytes"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// testKey returns a fixed key: 32 bytes from seed.
func testKey(t testing.TB, seed byte) Key {
	t.Helper()
	b := make([]byte, KeySize)
	for i := range b {
		b[i] = seed + byte(i)
	}
	k, err := KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testRing(t testing.TB, keys ...Key) *Keyring {
	t.Helper()
	kr, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// payload returns n pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// seal writes plain into an envelope with chunk size chunk.
func seal(t testing.TB, kr *Keyring, context string, chunk uint32, plain []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := newWriter(&out, kr, context, chunk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// open reads a whole envelope; it returns what was read before any error.
func open(data []byte, kr *Keyring, context string) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(data), kr, context)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	_, err = out.ReadFrom(r)
	return out.Bytes(), err
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
