package crypt

import (
	"io"
	"strconv"
)

// Reader decrypts an envelope as it is read: see ChunkReader for what it
// guarantees. NewReader has checked the header, the context and the key.
type Reader struct {
	cr     *ChunkReader
	params Params
}

// NewReader reads the envelope header from r and checks, in order: the
// magic, the header CRC, the version and algorithm (ErrUnsupported), that
// the stored context equals context (else the object was stored under
// another's name: ErrDamaged, naming both), and that kr holds the key
// (ErrKeyRequired or ErrWrongKey, naming the key ids). Errors for damage
// are *DamagedError naming context; r's own errors are returned as they
// are.
func NewReader(r io.Reader, kr *Keyring, context string) (*Reader, error) {
	hdr, p, got, err := readEnvelopeHeader(r, context)
	if err != nil {
		return nil, err
	}
	if got != context {
		return nil, &DamagedError{Object: context, Offset: int64(envOffCtx + len(got)),
			Reason: "the envelope holds " + quote(got) + ", not " + quote(context) + ": a file stored under another's name (swapped or renamed)"}
	}
	c, err := NewCipher(kr, p, InfoObject, context)
	if err != nil {
		return nil, err
	}
	cr := c.NewReader(r, hdr[:len(hdr)-4])
	cr.object, cr.base = context, int64(len(hdr))
	return &Reader{cr: cr, params: p}, nil
}

// KeyID is the key the envelope is encrypted with.
func (r *Reader) KeyID() KeyID { return r.params.KeyID }

// Read implements io.Reader; io.EOF only after the final chunk
// authenticated and the source ended.
func (r *Reader) Read(p []byte) (int, error) { return r.cr.Read(p) }

// quote quotes an identity for messages, bounded so a hostile header
// cannot make an error huge.
func quote(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}

// Err returns the error that stopped the reader (io.EOF at a clean end),
// or nil while it is reading.
func (r *Reader) Err() error { return r.cr.Err() }
