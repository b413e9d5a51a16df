package crypt

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzEnvelope feeds arbitrary bytes to the envelope Reader with a fixed
// keyring. With fix set, the header CRC is repaired first so that
// mutations reach the checks behind it.
//
// Invariants: no panic; memory per reader is bounded by one chunk (the
// header length and chunk size are bounded before anything is allocated);
// every error matches ErrDamaged, ErrUnsupported or ErrWrongKey (the source
// never fails); a clean end comes only with exactly the plaintext that was
// sealed into one of the seeds, as nobody without the key can make another.
func FuzzEnvelope(f *testing.F) {
	kr := testRing(f, testKey(f, 1))
	seeds := map[string][]byte{}
	for _, n := range []int{0, 1, MinChunkSize, 3*MinChunkSize + 5} {
		plain := payload(n, uint64(n))
		data := seal(f, kr, ctxA, MinChunkSize, plain)
		seeds[string(data)] = plain
		f.Add(data, false)
	}
	f.Add(seal(f, testRing(f, testKey(f, 2)), ctxA, MinChunkSize, []byte("other key")), false)
	f.Add([]byte(EnvelopeMagic), true)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix && len(data) >= envPrefixSize {
			if h := int(uint32(data[envOffHeaderLen]) | uint32(data[envOffHeaderLen+1])<<8 |
				uint32(data[envOffHeaderLen+2])<<16 | uint32(data[envOffHeaderLen+3])<<24); h >= envPrefixSize+4 && h <= len(data) {
				data = bytes.Clone(data)
				putCRC(data[:h])
			}
		}
		r, err := NewReader(bytes.NewReader(data), kr, ctxA)
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		if r.cr.c.chunk > MaxChunkSize {
			t.Fatalf("chunk size %d accepted", r.cr.c.chunk)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		// Authenticated plaintext: some seed's, exactly.
		if _, ok := seeds[string(data)]; !ok {
			found := false
			for _, p := range seeds {
				found = found || bytes.Equal(p, got)
			}
			if !found {
				t.Fatalf("%d bytes of plaintext authenticated that no writer sealed", len(got))
			}
		}
	})
}

func checkFuzzErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrWrongKey) {
		t.Fatalf("error is not ErrDamaged, ErrUnsupported or ErrWrongKey: %v", err)
	}
}
