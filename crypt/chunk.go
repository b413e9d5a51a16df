package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// The chunked construction; docs/encryption.md specifies it byte by byte.
const (
	// AlgAES256GCMChunked is the only algorithm: a per-object key from
	// HKDF-SHA256, then AES-256-GCM over fixed-size chunks (STREAM).
	AlgAES256GCMChunked uint8 = 1
	// DefaultChunkSize is the plaintext size of every chunk but the last,
	// as writers use it.
	DefaultChunkSize = 64 << 10
	// MinChunkSize and MaxChunkSize bound what readers accept, so that a
	// damaged or hostile header can make them allocate at most one chunk
	// of MaxChunkSize+TagSize bytes.
	MinChunkSize = 64
	MaxChunkSize = 1 << 20
	// SaltSize is the size of the per-object random HKDF salt.
	SaltSize = 16
	// TagSize is the GCM tag that ends every sealed chunk.
	TagSize = 16
	// InfoSegment and InfoObject are the HKDF info strings: segments embed
	// the construction in their own header, other objects use the envelope.
	// Different info strings keep the two kinds' keys apart even under one
	// master key and one salt.
	InfoSegment = "tidelog segment v1"
	InfoObject  = "tidelog object v1"

	nonceSize = 12
)

// Params are what an encrypted object's header records about its
// encryption: enough, with the right master key, to decrypt it.
type Params struct {
	Alg       uint8
	ChunkSize uint32 // plaintext bytes per chunk, all but the last
	KeyID     KeyID  // the master key
	Salt      [SaltSize]byte
}

// NewParams returns the parameters for a new object: the keyring's primary
// key, a fresh random salt, the default chunk size. The keyring must hold a
// key.
func NewParams(kr *Keyring) (Params, error) {
	k := kr.Primary()
	if k.IsZero() {
		return Params{}, fmt.Errorf("crypt: no key to encrypt with (%s)", KeyHint)
	}
	p := Params{Alg: AlgAES256GCMChunked, ChunkSize: DefaultChunkSize, KeyID: k.ID()}
	_, _ = rand.Read(p.Salt[:]) // never fails (crypto/rand documents it)
	return p, nil
}

// Check reports parameters this build cannot read as an *UnsupportedError:
// an unknown algorithm, or a chunk size outside [MinChunkSize, MaxChunkSize].
func (p Params) Check() error {
	if p.Alg != AlgAES256GCMChunked {
		return &UnsupportedError{Feature: fmt.Sprintf("encryption algorithm %d", p.Alg)}
	}
	if p.ChunkSize < MinChunkSize || p.ChunkSize > MaxChunkSize {
		return &UnsupportedError{Feature: fmt.Sprintf("chunk size %d (this tidelog reads %d to %d)", p.ChunkSize, MinChunkSize, MaxChunkSize)}
	}
	return nil
}

// Cipher seals or opens the chunks of one object. It is not safe for
// concurrent use (it reuses a nonce buffer).
type Cipher struct {
	aead  cipher.AEAD
	chunk int
	nonce [nonceSize]byte
}

// NewCipher derives the key of one object from the master key p.KeyID
// names: HKDF-SHA256(master key, salt p.Salt, info). object names the
// object in a *KeyError when kr lacks that key (ErrKeyRequired for a nil or
// empty keyring, ErrWrongKey otherwise).
func NewCipher(kr *Keyring, p Params, info, object string) (*Cipher, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	k, ok := kr.Lookup(p.KeyID)
	if !ok {
		return nil, &KeyError{Object: object, KeyID: p.KeyID, Loaded: kr.IDs()}
	}
	objKey, err := hkdf.Key(sha256.New, k.bytes(), p.Salt[:], info, KeySize)
	if err != nil {
		return nil, fmt.Errorf("crypt: derive the key of %s: %w", object, err)
	}
	block, err := aes.NewCipher(objKey)
	if err != nil {
		return nil, fmt.Errorf("crypt: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("crypt: %w", err)
	}
	return &Cipher{aead: aead, chunk: int(p.ChunkSize)}, nil
}

// ChunkSize is the plaintext size of every chunk but the last.
func (c *Cipher) ChunkSize() int { return c.chunk }

// setNonce makes the nonce of chunk i: u64 big-endian i, the final flag,
// three zero bytes. Reusing a nonce is safe because every object has its
// own key (a fresh salt each), and the final flag makes a cut after any
// chunk fail: the chunk then last was sealed as not final.
func (c *Cipher) setNonce(i uint64, final bool) []byte {
	binary.BigEndian.PutUint64(c.nonce[:8], i)
	c.nonce[8] = 0
	if final {
		c.nonce[8] = 1
	}
	return c.nonce[:]
}

// SealChunk appends chunk i, sealed, to dst. plain must be ChunkSize bytes
// unless final, and fewer if final; aad is the object's header.
func (c *Cipher) SealChunk(dst, plain []byte, i uint64, final bool, aad []byte) []byte {
	return c.aead.Seal(dst, c.setNonce(i, final), plain, aad)
}

// OpenChunk authenticates and decrypts chunk i, appending the plaintext to
// dst (which may be sealed[:0]). The error says only that authentication
// failed: callers name the object and the chunk.
func (c *Cipher) OpenChunk(dst, sealed []byte, i uint64, final bool, aad []byte) ([]byte, error) {
	return c.aead.Open(dst, c.setNonce(i, final), sealed, aad)
}

// Seal appends the whole of plain, sealed chunk by chunk, to dst: every
// chunk but the last holds exactly ChunkSize bytes, the last fewer
// (possibly none), so that SealedSize(len(plain)) bytes are appended.
func (c *Cipher) Seal(dst, plain, aad []byte) []byte {
	var i uint64
	for ; len(plain) >= c.chunk; i++ {
		dst = c.SealChunk(dst, plain[:c.chunk], i, false, aad)
		plain = plain[c.chunk:]
	}
	return c.SealChunk(dst, plain, i, true, aad)
}

// SealedSize is the size of plain bytes sealed with chunks of chunk bytes:
// one tag per full chunk, plus the final chunk (shorter than a full one,
// possibly empty) and its tag.
func SealedSize(plain int64, chunk int) int64 {
	return plain + TagSize*(plain/int64(chunk)+1)
}

// PlainSize inverts SealedSize; ok is false when no plaintext size seals to
// sealed bytes (the final chunk would be shorter than its tag).
func PlainSize(sealed int64, chunk int) (plain int64, ok bool) {
	if sealed < TagSize || chunk <= 0 {
		return 0, false
	}
	full := int64(chunk) + TagSize
	k, r := sealed/full, sealed%full
	if r < TagSize {
		return 0, false
	}
	return k*int64(chunk) + r - TagSize, true
}
