package crypt

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf8"
)

// The envelope header; docs/encryption.md is the specification. All
// integers little-endian.
const (
	// EnvelopeMagic starts every envelope. Plaintext objects tidelog stores
	// start otherwise (a manifest with '{', a data file with the lz4
	// magic), so readers tell the two apart by the first 8 bytes.
	EnvelopeMagic = "TIDECRY\x00"
	// EnvelopeVersion is the only envelope version this code writes and reads.
	EnvelopeVersion uint16 = 1
	// MaxContextLen bounds the context (the object's identity) in bytes.
	MaxContextLen = 4096

	envOffVersion   = 8
	envOffAlg       = 10
	envOffFlags     = 11
	envOffHeaderLen = 12
	envPrefixSize   = 16 // bytes [0, 16) mean the same in every version
	envOffChunkSize = 16
	envOffKeyID     = 20
	envOffSalt      = 28
	envOffCtxLen    = 44
	envOffCtx       = 46
	envMinHeader    = envOffCtx + 4
	envMaxHeader    = 16 << 10
)

// IsEnvelope reports whether p, the first bytes of an object, starts an
// envelope. It needs len(EnvelopeMagic) bytes.
func IsEnvelope(p []byte) bool {
	return len(p) >= len(EnvelopeMagic) && string(p[:len(EnvelopeMagic)]) == EnvelopeMagic
}

// putEnvelopeHeader encodes the header of an envelope with p and context.
func putEnvelopeHeader(p Params, context string) []byte {
	le := binary.LittleEndian
	b := make([]byte, envMinHeader+len(context))
	copy(b, EnvelopeMagic)
	le.PutUint16(b[envOffVersion:], EnvelopeVersion)
	b[envOffAlg] = p.Alg
	b[envOffFlags] = 0
	le.PutUint32(b[envOffHeaderLen:], uint32(len(b)))
	le.PutUint32(b[envOffChunkSize:], p.ChunkSize)
	copy(b[envOffKeyID:], p.KeyID[:])
	copy(b[envOffSalt:], p.Salt[:])
	le.PutUint16(b[envOffCtxLen:], uint16(len(context)))
	copy(b[envOffCtx:], context)
	le.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	return b
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkContext returns why s cannot be an envelope context, or nil.
func checkContext(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("crypt: the envelope context is empty")
	case len(s) > MaxContextLen:
		return fmt.Errorf("crypt: the envelope context is %d bytes, more than %d", len(s), MaxContextLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("crypt: the envelope context is not UTF-8")
	}
	return nil
}

// readEnvelopeHeader reads and checks an envelope header from r and returns
// its bytes, parameters and context. Errors: *DamagedError (no magic, bad
// length, cut, CRC), *UnsupportedError (intact but of a newer format), or
// r's own error.
func readEnvelopeHeader(r io.Reader, want string) ([]byte, Params, string, error) {
	damaged := func(off int, format string, args ...any) ([]byte, Params, string, error) {
		return nil, Params{}, "", &DamagedError{Object: want, Offset: int64(off), Reason: fmt.Sprintf(format, args...)}
	}
	var prefix [envPrefixSize]byte
	if n, err := io.ReadFull(r, prefix[:]); err == io.EOF || err == io.ErrUnexpectedEOF {
		if !IsEnvelope(prefix[:n]) && n >= len(EnvelopeMagic) {
			return damaged(0, "no envelope magic: not an encrypted tidelog object")
		}
		return damaged(n, "cut short in the envelope header")
	} else if err != nil {
		return nil, Params{}, "", err
	}
	if !IsEnvelope(prefix[:]) {
		return damaged(0, "no envelope magic: not an encrypted tidelog object")
	}
	le := binary.LittleEndian
	h := int(le.Uint32(prefix[envOffHeaderLen:]))
	if h < envPrefixSize+4 || h > envMaxHeader {
		return damaged(envOffHeaderLen, "header length %d outside [%d, %d]", h, envPrefixSize+4, envMaxHeader)
	}
	b := make([]byte, h)
	copy(b, prefix[:])
	if n, err := io.ReadFull(r, b[envPrefixSize:]); err == io.EOF || err == io.ErrUnexpectedEOF {
		return damaged(envPrefixSize+n, "cut short in the envelope header")
	} else if err != nil {
		return nil, Params{}, "", err
	}
	if stored, got := le.Uint32(b[h-4:]), crc32.Checksum(b[:h-4], castagnoli); stored != got {
		return damaged(h, "envelope header checksum mismatch (stored %08x, computed %08x)", stored, got)
	}
	// The CRC holds: unknown values come from a newer writer, not damage.
	if v := le.Uint16(b[envOffVersion:]); v != EnvelopeVersion {
		return nil, Params{}, "", &UnsupportedError{Feature: fmt.Sprintf("envelope version %d", v)}
	}
	if f := b[envOffFlags]; f != 0 {
		return nil, Params{}, "", &UnsupportedError{Feature: fmt.Sprintf("envelope flags %#02x", f)}
	}
	if h < envMinHeader {
		return damaged(envOffHeaderLen, "header length %d is less than the %d bytes of a version-1 header", h, envMinHeader)
	}
	p := Params{Alg: b[envOffAlg], ChunkSize: le.Uint32(b[envOffChunkSize:])}
	copy(p.KeyID[:], b[envOffKeyID:])
	copy(p.Salt[:], b[envOffSalt:])
	if err := p.Check(); err != nil {
		return nil, Params{}, "", err
	}
	n := int(le.Uint16(b[envOffCtxLen:]))
	if envOffCtx+n > h-4 {
		return damaged(envOffCtxLen, "context of %d bytes overruns the %d-byte header", n, h)
	}
	return b, p, string(b[envOffCtx : envOffCtx+n]), nil
}
