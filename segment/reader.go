package segment

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/pierrec/lz4/v4"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
)

// Reader streams the entries of one segment and verifies all of it. Memory
// is bounded by the largest entry plus the lz4 block buffers, whatever the
// segment's size.
//
// Contract: Next returns io.EOF only after the whole file was read and every
// check passed (lz4 block checksums, entry framing and ts order, first and
// last ts against the header, entry count, raw size, raw CRC, body size, file
// CRC, nothing after the trailer). Any damage, truncation included, yields an
// error matching ErrCorrupt, never io.EOF. Entries are handed out as soon as
// the lz4 block holding them verified, so a caller that must not act on a
// segment that later fails (e.g. the restore of a damaged tail) verifies it
// first or can undo. A Reader is not safe for concurrent use.
type Reader struct {
	name   string // for errors: the name given, else the header's
	src    source
	hdr    Header
	hdrLen int

	body  io.LimitedReader   // the body region of src
	dec   *crypt.ChunkReader // encrypted: opens body; nil for plaintext
	frm   io.LimitedReader   // encrypted: the lz4 frame part of dec's plaintext
	frame [lz4FrameStart]byte
	zr    *lz4.Reader
	raw   rawReader     // over zr
	raws  *bufio.Reader // over raw: entries are sliced out of its buffer
	skip  int           // bytes of raws still holding the last entry

	buf []byte // entries larger than raws's buffer; reused

	count   uint64
	rawSize uint64 // bytes of the entries handed out
	last    oplog.Timestamp

	info Info
	err  error // sticky: io.EOF once everything verified
}

// NewReader reads and verifies the header of the segment in r. If name is
// not empty it must be the name the header's range gives (Name(OpStart,
// OpEnd)); a mismatch is corruption, as it means the file was renamed or
// swapped. r should be positioned at the segment's first byte and end at its
// last; readers without ReadByte (files, network bodies) are buffered.
//
// NewReader reads plaintext segments only: an encrypted one fails with an
// error matching ErrKeyRequired. NewReaderWith takes keys.
func NewReader(r io.Reader, name string) (*Reader, error) {
	return NewReaderWith(r, name, ReaderOptions{})
}

// NewReaderWith is NewReader with options: keys for encrypted segments,
// and whether plaintext ones are refused. An encrypted segment's chunks
// are authenticated before any byte of them reaches the lz4 decoder, so
// no entry is ever decoded from unauthenticated bytes.
func NewReaderWith(r io.Reader, name string, opts ReaderOptions) (*Reader, error) {
	rd, hdr, err := openSegment(r, name)
	if err != nil {
		return nil, err
	}
	h := rd.hdr
	body := io.Reader(&rd.body)
	if h.Encrypted {
		c, err := crypt.NewCipher(opts.Keys, h.enc, crypt.InfoSegment, "segment "+rd.name)
		if err != nil {
			return nil, err
		}
		rd.dec = c.NewReader(&rd.body, hdr[:len(hdr)-4])
		// The lz4 reader must not see the raw CRC after the frame: it
		// would take it for the start of another frame.
		plain, _ := crypt.PlainSize(int64(h.BodySize), int(h.enc.ChunkSize)) // checked by parseHeader
		rd.frm = io.LimitedReader{R: rd.dec, N: plain - rawCRCSize}
		body = &rd.frm
	} else if opts.RequireEncryption {
		return nil, &crypt.NotEncryptedError{Object: "segment " + rd.name}
	}
	if k, err := io.ReadFull(body, rd.frame[:]); err != nil {
		return nil, rd.bodyErr(err, fmt.Sprintf("the lz4 frame start (%d of %d bytes)", k, lz4FrameStart))
	}
	if err := checkFrameStart(rd.frame[:]); err != nil {
		return nil, rd.corrupt(int64(rd.hdrLen), nil, "%v", err)
	}
	rd.zr = lz4.NewReader(io.MultiReader(bytes.NewReader(rd.frame[:]), body))
	rd.raw.r = rd.zr
	rd.raws = bufio.NewReaderSize(&rd.raw, 2*blockSize)
	return rd, nil
}

// openSegment reads and verifies the header of the segment in r, checks it
// against name, and returns a Reader positioned at the body, with the
// header as stored.
func openSegment(r io.Reader, name string) (*Reader, []byte, error) {
	if _, ok := r.(io.ByteReader); !ok {
		r = bufio.NewReaderSize(r, 64<<10)
	}
	rd := &Reader{name: name, src: source{r: r, sum: true}}
	h, hdr, err := readHeader(&rd.src)
	if err != nil {
		return nil, nil, named(err, name)
	}
	if name == "" {
		rd.name = h.Name()
	} else if hn := h.Name(); hn != name {
		return nil, nil, rd.corrupt(offOpStart, nil, "named %s but its header covers %s to %s (renamed or swapped segment %s)",
			name, h.OpStart, h.OpEnd, hn)
	}
	rd.hdr, rd.hdrLen = h, len(hdr)
	rd.body = io.LimitedReader{R: &rd.src, N: int64(h.BodySize)}
	return rd, hdr, nil
}

// Header returns the verified header.
func (r *Reader) Header() Header { return r.hdr }

// Info describes the segment; it is complete only after Next returned io.EOF.
func (r *Reader) Info() Info { return r.info }

// Next returns the next entry. The entry is valid until the next call. After
// the last entry it verifies the rest of the file and returns io.EOF, or the
// error that tells what is wrong; errors are sticky.
func (r *Reader) Next() (bson.Raw, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.count == r.hdr.Count {
		r.err = r.finish()
		if r.err == nil {
			r.err = io.EOF
		}
		return nil, r.err
	}
	e, err := r.entry()
	if err != nil {
		r.err = err
		return nil, err
	}
	return e, nil
}

// entry reads, frames and checks the next entry. Entries that fit in the
// buffer of raws are handed out from it without a copy, one lz4 Read per
// block rather than two per entry; bigger ones are copied into r.buf.
func (r *Reader) entry() (bson.Raw, error) {
	where := r.where // formatted only on error paths
	if _, err := r.raws.Discard(r.skip); err != nil {
		return nil, r.bodyErr(err, where())
	}
	r.skip = 0
	p, err := r.raws.Peek(4)
	if err != nil {
		return nil, r.bodyErr(err, where())
	}
	n := binary.LittleEndian.Uint32(p)
	if n < minEntrySize || n > MaxEntrySize {
		return nil, r.corrupt(r.src.off, nil, "%s: BSON length %d not in [%d, %d]", where(), n, minEntrySize, MaxEntrySize)
	}
	if uint64(n) > r.hdr.RawSize-r.rawSize {
		return nil, r.corrupt(r.src.off, nil, "%s: BSON length %d overruns the raw size %d in the header", where(), n, r.hdr.RawSize)
	}
	var e []byte
	if int(n) <= r.raws.Size() {
		// Valid until the next read of raws, i.e. the next call.
		if e, err = r.raws.Peek(int(n)); err != nil {
			return nil, r.bodyErr(err, where())
		}
		r.skip = int(n)
	} else {
		if cap(r.buf) < int(n) {
			r.buf = make([]byte, 0, max(int(n), min(2*cap(r.buf), MaxEntrySize)))
		}
		e = r.buf[:n]
		if _, err := io.ReadFull(r.raws, e); err != nil {
			return nil, r.bodyErr(err, where())
		}
	}
	if e[n-1] != 0 {
		return nil, r.corrupt(r.src.off, nil, "%s: BSON document does not end with 0x00", where())
	}
	ts, err := entryTS(e)
	if err != nil {
		return nil, r.corrupt(r.src.off, err, "%s", where())
	}
	switch {
	case r.count == 0 && ts != r.hdr.OpStart:
		return nil, r.corrupt(r.src.off, nil, "%s: ts %s but the header's opStart is %s", where(), ts, r.hdr.OpStart)
	case r.count > 0 && !ts.After(r.last):
		return nil, r.corrupt(r.src.off, nil, "%s: ts %s is not after the previous entry's %s", where(), ts, r.last)
	case r.count+1 == r.hdr.Count && ts != r.hdr.OpEnd:
		return nil, r.corrupt(r.src.off, nil, "%s: last entry has ts %s but the header's opEnd is %s", where(), ts, r.hdr.OpEnd)
	case ts.After(r.hdr.OpEnd):
		return nil, r.corrupt(r.src.off, nil, "%s: ts %s is after the header's opEnd %s", where(), ts, r.hdr.OpEnd)
	}
	r.rawSize += uint64(n)
	r.count++
	r.last = ts
	return e, nil
}

// where names the entry being read, for errors.
func (r *Reader) where() string {
	return fmt.Sprintf("entry %d of %d at raw byte %d", r.count+1, r.hdr.Count, r.rawSize)
}

// finish runs after the last entry: the lz4 frame must end, the totals must
// match the header, and the trailer must be intact and last.
func (r *Reader) finish() error {
	if _, err := r.raws.Discard(r.skip); err != nil {
		return r.bodyErr(err, "the end of the last entry")
	}
	r.skip = 0
	if p, err := r.raws.Peek(1); len(p) > 0 {
		return r.corrupt(r.src.off, nil, "raw data continues after the %d entries the header counts", r.hdr.Count)
	} else if err != io.EOF {
		return r.bodyErr(err, "past the last entry")
	}
	if r.rawSize != r.hdr.RawSize {
		return r.corrupt(r.src.off, nil, "entries hold %d raw bytes but the header says %d", r.rawSize, r.hdr.RawSize)
	}
	if r.dec != nil {
		if err := r.finishSealed(); err != nil {
			return err
		}
	}
	if r.body.N != 0 {
		return r.corrupt(r.src.off, nil, "lz4 frame ends %d bytes before the body's end", r.body.N)
	}
	rawCRC := r.raw.crc
	if r.dec != nil {
		rawCRC = 0 // in the sealed body, checked by finishSealed
	}
	info, err := r.trailer(rawCRC)
	if err != nil {
		return err
	}
	r.info = info
	return nil
}

// finishSealed reads what follows the lz4 frame in an encrypted body: the
// raw CRC, then the end of the final chunk.
func (r *Reader) finishSealed() error {
	if r.frm.N != 0 {
		return r.corrupt(r.src.off, nil, "lz4 frame ends %d bytes before the end of the encrypted body", r.frm.N)
	}
	var b [rawCRCSize]byte
	if _, err := io.ReadFull(r.dec, b[:]); err != nil {
		return r.bodyErr(err, "the raw CRC after the lz4 frame")
	}
	if got := binary.LittleEndian.Uint32(b[:]); got != r.raw.crc {
		return r.corrupt(r.src.off, nil, "raw CRC mismatch (stored %08x, computed %08x)", got, r.raw.crc)
	}
	var one [1]byte
	if k, err := io.ReadFull(r.dec, one[:]); k > 0 {
		return r.corrupt(r.src.off, nil, "data after the raw CRC in the encrypted body")
	} else if err != io.EOF {
		return r.bodyErr(err, "the end of the encrypted body")
	}
	return nil
}

// trailer reads and checks the trailer, which must end the file, and
// returns the segment's Info. rawCRC is what the trailer must hold.
func (r *Reader) trailer(rawCRC uint32) (Info, error) { return r.readTrailer(&rawCRC) }

// trailerAnyRawCRC is trailer without a check of the raw CRC field.
func (r *Reader) trailerAnyRawCRC() (Info, error) { return r.readTrailer(nil) }

func (r *Reader) readTrailer(rawCRC *uint32) (Info, error) {
	start := r.src.off
	var t [TrailerSize]byte
	if k, err := io.ReadFull(&r.src, t[:offTrailerFileCRC]); err != nil {
		return Info{}, named(readErr(err, start+int64(k), "trailer"), r.name)
	}
	sum := r.src.crc
	r.src.sum = false // the file CRC does not cover itself
	if k, err := io.ReadFull(&r.src, t[offTrailerFileCRC:]); err != nil {
		return Info{}, named(readErr(err, start+offTrailerFileCRC+int64(k), "trailer"), r.name)
	}
	le := binary.LittleEndian
	if string(t[offTrailerMagic:offTrailerFileCRC]) != trailerMagic {
		return Info{}, r.corrupt(start+offTrailerMagic, nil, "trailer magic missing")
	}
	if got := le.Uint64(t[offTrailerBodySize:]); got != r.hdr.BodySize {
		return Info{}, r.corrupt(start+offTrailerBodySize, nil, "trailer body size %d but the header says %d", got, r.hdr.BodySize)
	}
	if got := le.Uint32(t[offTrailerRawCRC:]); rawCRC != nil && got != *rawCRC {
		if r.hdr.Encrypted {
			return Info{}, r.corrupt(start+offTrailerRawCRC, nil, "raw CRC field %08x in the trailer of an encrypted segment, where it must be 0", got)
		}
		return Info{}, r.corrupt(start+offTrailerRawCRC, nil, "raw CRC mismatch (stored %08x, computed %08x)", got, *rawCRC)
	}
	if got := le.Uint32(t[offTrailerFileCRC:]); got != sum {
		return Info{}, r.corrupt(start+offTrailerFileCRC, nil, "file checksum mismatch (stored %08x, computed %08x)", got, sum)
	}
	end := r.src.off
	var one [1]byte
	if k, err := io.ReadFull(&r.src, one[:]); k > 0 {
		return Info{}, r.corrupt(end, nil, "trailing bytes after the trailer")
	} else if err != io.EOF {
		return Info{}, named(fmt.Errorf("reading byte %d: %w", end, err), r.name)
	}
	h := r.hdr
	return Info{
		Name:      r.name,
		Stream:    h.Stream,
		OpStart:   h.OpStart,
		OpEnd:     h.OpEnd,
		Count:     h.Count,
		RawSize:   h.RawSize,
		Size:      uint64(end),
		Checksum:  sum,
		Prev:      h.Prev,
		Encrypted: h.Encrypted,
		KeyID:     h.KeyID,
	}, nil
}

// corrupt returns a *CorruptError for this segment.
func (r *Reader) corrupt(off int64, cause error, format string, args ...any) error {
	return &CorruptError{Segment: r.name, Offset: off, Reason: fmt.Sprintf(format, args...), Err: cause}
}

// bodyErr classifies an error met while reading the body (what: the thing
// being read): a failure of the underlying reader is an I/O error; running
// out of bytes, or anything the lz4 reader rejects, is corruption.
func (r *Reader) bodyErr(err error, what string) error {
	if r.src.ioErr != nil {
		return named(fmt.Errorf("reading byte %d: %w", r.src.off, r.src.ioErr), r.name)
	}
	var de *crypt.DamagedError
	switch {
	case r.src.eof && r.body.N > 0:
		return r.corrupt(r.src.off, nil, "file truncated in the body, reading %s", what)
	case r.dec != nil && errors.As(r.dec.Err(), &de):
		return r.corrupt(int64(r.hdrLen)+de.Offset, nil, "encrypted body: %s", de.Reason)
	case errors.Is(err, io.EOF):
		return r.corrupt(r.src.off, nil, "lz4 frame ends before %s", what)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return r.corrupt(r.src.off, nil, "lz4 frame does not end where the body does (header body size %d), reading %s",
			r.hdr.BodySize, what)
	}
	return r.corrupt(r.src.off, err, "lz4 body, reading %s", what)
}

// rawReader computes the raw CRC over the decompressed stream and asks the
// lz4 reader for at most one block per Read: given a whole block of room, the
// lz4 reader decompresses straight into the caller's buffer (here, that of
// Reader.raws) instead of into its own and copying.
type rawReader struct {
	r   io.Reader
	crc uint32
}

func (r *rawReader) Read(p []byte) (int, error) {
	if len(p) > blockSize {
		p = p[:blockSize]
	}
	n, err := r.r.Read(p)
	r.crc = crc32c(r.crc, p[:n])
	return n, err
}

// Verify reads the whole segment in r through a Reader, checking everything
// NewReader and Next check, and returns its Info. Like NewReader it reads
// plaintext segments only; VerifyWith takes keys.
func Verify(r io.Reader, name string) (Info, error) {
	return VerifyWith(r, name, ReaderOptions{})
}

// VerifyWith is Verify with options (keys, RequireEncryption).
func VerifyWith(r io.Reader, name string, opts ReaderOptions) (Info, error) {
	rd, err := NewReaderWith(r, name, opts)
	if err != nil {
		return Info{}, err
	}
	for {
		if _, err := rd.Next(); err == io.EOF {
			return rd.Info(), nil
		} else if err != nil {
			return Info{}, err
		}
	}
}
