package crypt

import (
	"fmt"
	"io"
)

// ChunkReader decrypts a sequence of sealed chunks as it is read, and
// hands out only plaintext whose chunk authenticated. Every sealed chunk
// but the last is ChunkSize+TagSize bytes; the last is shorter, so a read
// that comes up short is the final chunk, opened as final: a cut anywhere
// fails authentication or leaves the final chunk missing, and Read returns
// io.EOF only after the final chunk authenticated and the source ended.
//
// Errors are sticky: a *DamagedError for damage (its Offset counts the
// sealed bytes consumed, from the reader's base), or the source's own error
// unchanged, so that callers can tell a failing disk from damaged bytes.
type ChunkReader struct {
	r      io.Reader
	c      *Cipher
	aad    []byte
	object string // for DamagedError; may be empty
	base   int64  // offset of the first chunk in the object, for errors

	buf   []byte // one sealed chunk, opened in place
	plain []byte // the unread plaintext of the current chunk
	next  uint64 // index of the next chunk
	off   int64  // sealed bytes consumed
	final bool   // the final chunk was opened
	err   error
}

// NewReader returns a reader of the chunks in r; aad is the object's header,
// authenticated with every chunk. Offsets in its errors count from r's
// first byte.
func (c *Cipher) NewReader(r io.Reader, aad []byte) *ChunkReader {
	return &ChunkReader{r: r, c: c, aad: aad}
}

// Offset is the number of sealed bytes consumed so far.
func (cr *ChunkReader) Offset() int64 { return cr.off }

// Read implements io.Reader.
func (cr *ChunkReader) Read(p []byte) (int, error) {
	for len(cr.plain) == 0 {
		if cr.err != nil {
			return 0, cr.err
		}
		if cr.final {
			cr.err = cr.end()
		} else {
			cr.err = cr.fill()
		}
	}
	n := copy(p, cr.plain)
	cr.plain = cr.plain[n:]
	return n, nil
}

// fill reads, authenticates and decrypts the next chunk.
func (cr *ChunkReader) fill() error {
	full := cr.c.chunk + TagSize
	if cr.buf == nil {
		cr.buf = make([]byte, full)
	}
	n, err := io.ReadFull(cr.r, cr.buf)
	cr.off += int64(n)
	final := false
	switch err {
	case nil:
	case io.ErrUnexpectedEOF:
		final = true
	case io.EOF:
		if cr.next == 0 {
			return cr.damaged("no chunk at all: cut short")
		}
		return cr.damaged("ends after chunk %d without a final chunk: cut short", cr.next-1)
	default:
		return err
	}
	if n < TagSize {
		return cr.damaged("chunk %d is %d bytes, shorter than its %d-byte tag: cut short", cr.next, n, TagSize)
	}
	pt, err := cr.c.OpenChunk(cr.buf[:0], cr.buf[:n], cr.next, final, cr.aad)
	if err != nil {
		if final {
			return cr.damaged("chunk %d (%d bytes, the last): tampered or damaged: authentication failed", cr.next, n)
		}
		return cr.damaged("chunk %d: tampered or damaged: authentication failed", cr.next)
	}
	cr.plain = pt
	cr.final = final
	cr.next++
	return nil
}

// end runs after the final chunk: the source must end there.
func (cr *ChunkReader) end() error {
	var one [1]byte
	n, err := io.ReadFull(cr.r, one[:])
	cr.off += int64(n)
	switch {
	case n > 0:
		return cr.damaged("data after the final chunk")
	case err == io.EOF:
		return io.EOF
	}
	return err
}

func (cr *ChunkReader) damaged(format string, args ...any) error {
	return &DamagedError{Object: cr.object, Offset: cr.base + cr.off, Reason: fmt.Sprintf(format, args...)}
}

// Err returns the error that stopped the reader (io.EOF at a clean end),
// or nil while it is reading.
func (cr *ChunkReader) Err() error { return cr.err }
