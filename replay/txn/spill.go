package txn

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// A spill file holds the buffered operations of one transaction that did not
// fit in the Buffer's memory budget, so that a transaction larger than memory
// (a large prepared transaction may wait a long time for its commit) is
// still applied whole.
//
// Format: records, each one BSON document (self-delimiting: its first four
// bytes are its little-endian length) followed by the CRC-32C of the
// document, little-endian. The file is private to one Buffer, written once
// front to back and read back in order at commit, possibly several times; it
// is removed when the transaction is released (next Add, or Close). The CRC
// turns a damaged temp file into an error instead of a wrong restore.
//
// A process that dies leaves its spill files behind, named
// tidelog-txn-*.spill in the spill directory; nothing reads them again.
type spillFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
	size int64 // bytes of complete records written
	n    int   // records written
}

const spillPattern = "tidelog-txn-*.spill"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func createSpill(dir string) (*spillFile, error) {
	f, err := os.CreateTemp(dir, spillPattern)
	if err != nil {
		return nil, fmt.Errorf("%w: create in %q: %w", ErrSpill, dir, err)
	}
	return &spillFile{path: f.Name(), f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// append writes one document. Writes are buffered; each flushes them.
func (s *spillFile) append(doc []byte) error {
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc32.Checksum(doc, castagnoli))
	if _, err := s.w.Write(doc); err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrSpill, s.path, err)
	}
	if _, err := s.w.Write(sum[:]); err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrSpill, s.path, err)
	}
	s.size += int64(len(doc)) + 4
	s.n++
	return nil
}

// each calls fn with every document in the order written. The document is
// valid only during the call. It stops at the first error of fn, returned as
// is, or when ctx is done.
func (s *spillFile) each(ctx context.Context, fn func(doc bson.Raw) error) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrSpill, s.path, err)
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, s.size), 64<<10)
	var buf []byte
	var off int64
	for i := 0; i < s.n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var lenb [4]byte
		if _, err := io.ReadFull(r, lenb[:]); err != nil {
			return s.corrupt(off, err)
		}
		n := int64(binary.LittleEndian.Uint32(lenb[:]))
		if n < 5 || n+4 > s.size-off {
			return s.corrupt(off, fmt.Errorf("record length %d", n))
		}
		if int64(cap(buf)) < n+4 {
			buf = make([]byte, n+4)
		}
		buf = buf[:n+4]
		copy(buf, lenb[:])
		if _, err := io.ReadFull(r, buf[4:]); err != nil {
			return s.corrupt(off, err)
		}
		if crc32.Checksum(buf[:n], castagnoli) != binary.LittleEndian.Uint32(buf[n:]) {
			return s.corrupt(off, errors.New("checksum mismatch"))
		}
		if err := fn(bson.Raw(buf[:n])); err != nil {
			return err
		}
		off += n + 4
	}
	return nil
}

func (s *spillFile) corrupt(off int64, err error) error {
	return fmt.Errorf("%w: read %s at offset %d: %w", ErrSpill, s.path, off, err)
}

// remove closes and deletes the file.
func (s *spillFile) remove() error {
	cerr := s.f.Close()
	if err := os.Remove(s.path); err != nil {
		return fmt.Errorf("%w: remove: %w", ErrSpill, err)
	}
	if cerr != nil {
		return fmt.Errorf("%w: close %s: %w", ErrSpill, s.path, cerr)
	}
	return nil
}
