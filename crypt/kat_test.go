package crypt

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// katEnvelope was made by an independent implementation of
// docs/encryption.md (Python, with the cryptography package's AES-GCM and
// HKDF): key 00 01 .. 1f, salt a0 .. af, 64-byte chunks, the context
// below, and 150 bytes of plaintext (i*7+3 for byte i).
const katEnvelope = "" +
	"54494445435259000100010073000000400000005674181044c6d02aa0a1a2a3a4a5a6a7a8a9aaabacadaeaf4100736e" +
	"617073686f742f7273302f3230323630313031543030303030305a2d313730303030303030302e303030303030303030" +
	"312f6d616e69666573742e6a736f6e982a82476c9848ccf6c9502fce7e020da939a16795b72c6f54854c661b145922c4" +
	"35c00ef70e95c93df5d429f6805df91281ee85fef74e784fe8661abf70255a412ecabd2a5ba959a902b09dddfe6ee4f2" +
	"0cddb311433ecfa78a0b594f9e985f51b36daf48c3d5247e3b26c59bffe0870c84fd46d5da4143bbf64493eee7e35ebe" +
	"9ca12e0c51cbc7b5fae78dd67284991fbe82633ea984253569842ef3c49308c797c06aded643b6937e7670a16ea23ad4" +
	"00a1e8fd5a8b590a28ca17bc7063cbd06a3288a87acd697909"

const katContext = "snapshot/rs0/20260101T000000Z-1700000000.0000000001/manifest.json"

func katPlain() []byte {
	p := make([]byte, 150)
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return p
}

func TestEnvelopeKnownAnswer(t *testing.T) {
	want, err := hex.DecodeString(katEnvelope)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	k, err := KeyFromBytes(key)
	if err != nil {
		t.Fatal(err)
	}
	kr := testRing(t, k)
	got, err := open(want, kr, katContext)
	if err != nil || !bytes.Equal(got, katPlain()) {
		t.Fatalf("decrypting the reference envelope: %v", err)
	}
	p := Params{Alg: AlgAES256GCMChunked, ChunkSize: 64, KeyID: k.ID()}
	for i := range p.Salt {
		p.Salt[i] = 0xA0 + byte(i)
	}
	var out bytes.Buffer
	w, err := newWriterParams(&out, kr, katContext, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(katPlain()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("the writer's envelope differs from the reference:\n got %x\nwant %x", out.Bytes(), want)
	}
}
