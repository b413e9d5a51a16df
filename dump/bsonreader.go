package dump

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MaxDocumentBytes bounds one document read from a dump: 16 MiB BSON
// documents plus room to spare (oplog entries carry a document and their
// own fields). A longer length prefix is damage, not data.
const MaxDocumentBytes = 48 << 20

// terminator is the archive's block terminator, 0xFFFFFFFF: a length no
// BSON document can have.
const terminator = 0xFFFFFFFF

// BSONReader reads concatenated BSON documents (a .bson file, an oplog
// stream) one at a time, reusing one buffer.
type BSONReader struct {
	r      *bufio.Reader
	source string
	off    int64 // offset of the next unread byte
	buf    []byte
}

// NewBSONReader reads concatenated BSON documents from r; source names r in
// errors.
func NewBSONReader(r io.Reader, source string) *BSONReader {
	return &BSONReader{r: bufio.NewReaderSize(r, 64<<10), source: source}
}

// Next returns the next document, valid until the following call (copy it
// to keep it). It returns io.EOF at a clean end, and a *ReadError for a
// truncated, oversized or malformed document.
func (b *BSONReader) Next() (bson.Raw, error) {
	doc, term, err := b.next()
	if err != nil {
		return nil, err
	}
	if term {
		return nil, b.errorf(b.off-4, nil, "length 0xFFFFFFFF (an archive terminator) in a BSON file")
	}
	return doc, nil
}

// Offset is the offset of the next unread byte: after Next, the end of the
// document it returned.
func (b *BSONReader) Offset() int64 { return b.off }

// next reads a document or an archive terminator. It returns io.EOF only
// when the stream ends exactly before the item.
func (b *BSONReader) next() (doc bson.Raw, isTerminator bool, err error) {
	start := b.off
	var head [4]byte
	n, err := io.ReadFull(b.r, head[:])
	b.off += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, false, io.EOF
		}
		return nil, false, b.errorf(start, err, "cannot read a length prefix")
	}
	size := binary.LittleEndian.Uint32(head[:])
	if size == terminator {
		return nil, true, nil
	}
	if size < 5 || size > MaxDocumentBytes {
		return nil, false, b.errorf(start, nil, fmt.Sprintf("document claims %d bytes (valid: 5 to %d)", size, MaxDocumentBytes))
	}
	err = b.fill(head, int(size))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, false, b.errorf(start, err, fmt.Sprintf("cannot read the document of %d bytes starting here", size))
	}
	doc = bson.Raw(b.buf)
	if err := doc.Validate(); err != nil {
		return nil, false, b.errorf(start, err, "malformed BSON document")
	}
	return doc, false, nil
}

// allocStep bounds how much fill allocates ahead of the bytes actually
// read, so that a damaged length prefix claiming megabytes costs no more
// than the stream really holds.
const allocStep = 1 << 20

// fill reads the document of size bytes whose length prefix is head into
// b.buf, growing the buffer as the bytes arrive.
func (b *BSONReader) fill(head [4]byte, size int) error {
	b.buf = append(b.buf[:0], head[:]...)
	for len(b.buf) < size {
		chunk := min(size-len(b.buf), allocStep)
		if cap(b.buf)-len(b.buf) < chunk {
			b.buf = append(b.buf, make([]byte, chunk)...)[:len(b.buf)]
		}
		n, err := io.ReadFull(b.r, b.buf[len(b.buf):len(b.buf)+chunk])
		b.buf = b.buf[:len(b.buf)+n]
		b.off += int64(n)
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *BSONReader) errorf(off int64, err error, what string) error {
	return &ReadError{Source: b.source, Offset: off, What: what, Err: err}
}
