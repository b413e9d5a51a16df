package crypt

import (
	"errors"
	"fmt"
	"io"
)

// Writer encrypts a stream into an envelope: the header, then the
// plaintext sealed in chunks as it arrives, so memory stays at one chunk
// whatever the object's size. Close seals the final chunk; without it the
// envelope is cut and every reader rejects it. Close does not close the
// underlying writer. A Writer is not safe for concurrent use.
type Writer struct {
	w     io.Writer
	c     *Cipher
	hdr   []byte // written before the first chunk; also the AAD source
	aad   []byte
	keyID KeyID

	buf  []byte // gathered plaintext, less than one chunk; room for the tag
	out  []byte // a sealed chunk sealed straight from the caller's bytes
	next uint64

	wroteHdr bool
	closed   bool
	err      error // sticky
}

// NewWriter returns a Writer that encrypts into w with kr's primary key.
// context is the object's identity (e.g. "snapshot/rs0/ID/file"); it is
// stored and authenticated, and a reader expecting another context rejects
// the envelope, so an object moved under another name is caught.
func NewWriter(w io.Writer, kr *Keyring, context string) (*Writer, error) {
	return newWriter(w, kr, context, DefaultChunkSize)
}

// newWriter is NewWriter with a chunk size (tests use small ones).
func newWriter(w io.Writer, kr *Keyring, context string, chunk uint32) (*Writer, error) {
	p, err := NewParams(kr)
	if err != nil {
		return nil, err
	}
	p.ChunkSize = chunk
	return newWriterParams(w, kr, context, p)
}

// newWriterParams is NewWriter with given parameters (known-answer tests
// fix the salt).
func newWriterParams(w io.Writer, kr *Keyring, context string, p Params) (*Writer, error) {
	if err := checkContext(context); err != nil {
		return nil, err
	}
	chunk := p.ChunkSize
	c, err := NewCipher(kr, p, InfoObject, context)
	if err != nil {
		return nil, err
	}
	hdr := putEnvelopeHeader(p, context)
	return &Writer{w: w, c: c, hdr: hdr, aad: hdr[:len(hdr)-4], keyID: p.KeyID,
		buf: make([]byte, 0, int(chunk)+TagSize)}, nil
}

// KeyID is the key the envelope is encrypted with.
func (w *Writer) KeyID() KeyID { return w.keyID }

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.start(); err != nil {
		return 0, err
	}
	done := 0
	for len(p) > 0 {
		if len(w.buf) == 0 && len(p) >= w.c.chunk {
			// A whole chunk straight from p: sealed once, not copied first.
			w.out = w.c.SealChunk(w.out[:0], p[:w.c.chunk], w.next, false, w.aad)
			if err := w.emit(w.out); err != nil {
				return done, err
			}
			p, done = p[w.c.chunk:], done+w.c.chunk
			continue
		}
		n := copy(w.buf[len(w.buf):w.c.chunk], p)
		w.buf = w.buf[:len(w.buf)+n]
		p, done = p[n:], done+n
		if len(w.buf) == w.c.chunk {
			// A full chunk is never the final one: the final one is
			// shorter, so that a reader knows it by its size.
			w.buf = w.c.SealChunk(w.buf[:0], w.buf, w.next, false, w.aad)
			err := w.emit(w.buf)
			w.buf = w.buf[:0]
			if err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

// Close seals the final chunk (shorter than a full one, possibly empty).
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	if err := w.start(); err != nil {
		return err
	}
	w.closed = true
	w.buf = w.c.SealChunk(w.buf[:0], w.buf, w.next, true, w.aad)
	err := w.emit(w.buf)
	w.buf = w.buf[:0]
	if err == nil {
		w.err = errors.New("crypt: write after Close")
	}
	return err
}

// start writes the header before the first chunk.
func (w *Writer) start() error {
	if w.err != nil {
		return w.err
	}
	if !w.wroteHdr {
		w.wroteHdr = true
		if _, err := w.w.Write(w.hdr); err != nil {
			w.err = fmt.Errorf("crypt: write the envelope header: %w", err)
			return w.err
		}
	}
	return nil
}

// emit writes one sealed chunk.
func (w *Writer) emit(b []byte) error {
	if _, err := w.w.Write(b); err != nil {
		w.err = err
		return err
	}
	w.next++
	return nil
}
