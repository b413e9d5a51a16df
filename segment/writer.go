package segment

import (
	"encoding/binary"
	"fmt"

	"github.com/pierrec/lz4/v4"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
)

// Writer builds segments of one stream in memory, one at a time. It is
// meant to be kept for the life of a capture loop: Start reuses the output
// buffer and the lz4 state, so that in steady state Append allocates
// nothing. A Writer is not safe for concurrent use.
//
// Life cycle: NewWriter (ready as if Start(Link{}) was called), Append...,
// Finish, then Start for the next segment. Append validates each entry before
// it touches the segment: a rejected entry (ErrInvalidEntry, ErrOutOfOrder)
// leaves the segment as it was and the caller may go on. Any other error is
// sticky until the next Start.
type Writer struct {
	stream string
	hdrLen int
	prev   Link
	keys   *crypt.Keyring // encrypt with its primary key; nil: plaintext
	chunk  uint32         // encrypting: chunk size; 0 is the default (tests set it)

	out   outBuffer   // header reservation, then the body, then the trailer
	plain outBuffer   // encrypting: the lz4 frame, sealed into out by Finish
	aad   []byte      // encrypting: the header as authenticated
	zw    *lz4.Writer // writes the lz4 frame into out, or plain
	stage []byte      // raw bytes not yet given to zw; less than one block

	count  int
	raw    int
	rawCRC uint32
	first  oplog.Timestamp
	last   oplog.Timestamp

	finished bool  // Finish succeeded; Append and Finish refuse until Start
	err      error // sticky failure, cleared by Start
	setupErr error // invalid stream name or lz4 options; never cleared
}

// outBuffer is the io.Writer the lz4 writer appends the body to.
type outBuffer struct{ b []byte }

func (o *outBuffer) Write(p []byte) (int, error) {
	o.b = append(o.b, p...)
	return len(p), nil
}

// NewWriter returns a Writer for stream's plaintext segments, started with a
// zero Link (the first segment of a chain). An invalid stream name makes
// Append fail.
func NewWriter(stream string) *Writer { return NewWriterWith(stream, WriterOptions{}) }

// NewWriterWith is NewWriter with options: with opts.Keys holding a key,
// every segment is encrypted.
func NewWriterWith(stream string, opts WriterOptions) *Writer {
	enc := opts.Keys.Len() > 0
	w := &Writer{stream: stream, hdrLen: headerSizeFor(stream, enc), zw: lz4.NewWriter(nil)}
	if enc {
		w.keys = opts.Keys
	}
	if err := checkStream(stream); err != nil {
		w.setupErr = fmt.Errorf("segment writer: %w", err)
	} else if err := w.zw.Apply(LZ4Options()...); err != nil {
		w.setupErr = fmt.Errorf("segment writer %s: lz4 options: %w", stream, err)
	}
	w.Start(Link{})
	return w
}

// Start begins a new segment whose predecessor is prev (zero for the first
// segment of a chain). It discards any unfinished segment and invalidates the
// bytes returned by the previous Finish.
func (w *Writer) Start(prev Link) {
	w.prev = prev
	w.count, w.raw, w.rawCRC = 0, 0, 0
	w.first, w.last = oplog.Timestamp{}, oplog.Timestamp{}
	w.finished = false
	w.err = w.setupErr
	// Reserve the header so that Finish fills it in place in front of the
	// body instead of copying the body behind it.
	if cap(w.out.b) < w.hdrLen {
		w.out.b = make([]byte, w.hdrLen, max(w.hdrLen, 1<<20))
	}
	w.out.b = w.out.b[:w.hdrLen]
	if w.stage == nil {
		w.stage = make([]byte, 0, blockSize)
	}
	w.stage = w.stage[:0]
	// Reset drops whatever an abandoned segment left in the lz4 writer and
	// keeps its options.
	if w.keys != nil {
		w.plain.b = w.plain.b[:0]
		w.zw.Reset(&w.plain)
		return
	}
	w.zw.Reset(&w.out)
}

// Append adds one raw BSON oplog entry. It returns an error wrapping
// ErrInvalidEntry if entry is not a well-formed BSON document (length prefix
// equal to len(entry), at least 5 and at most MaxEntrySize bytes, final 0x00,
// every element valid) with a non-zero timestamp ts, and one wrapping
// ErrOutOfOrder if ts is not strictly after the previous entry of the
// segment, or for the first entry, after the OpEnd of a non-zero prev Link.
// The Writer does not keep entry.
func (w *Writer) Append(entry []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.finished {
		return fmt.Errorf("segment writer %s: Append after Finish; call Start first", w.stream)
	}
	ts, err := checkEntry(entry)
	if err != nil {
		return fmt.Errorf("segment writer %s: entry %d: %w", w.stream, w.count, err)
	}
	if w.count > 0 && !ts.After(w.last) {
		return fmt.Errorf("segment writer %s: entry %d: ts %s is not after the previous entry's %s: %w",
			w.stream, w.count, ts, w.last, ErrOutOfOrder)
	}
	if w.count == 0 && !w.prev.IsZero() && !ts.After(w.prev.OpEnd) {
		return fmt.Errorf("segment writer %s: first entry: ts %s is not after the previous segment's end %s: %w",
			w.stream, ts, w.prev.OpEnd, ErrOutOfOrder)
	}
	if err := w.write(entry); err != nil {
		w.err = fmt.Errorf("segment writer %s: compressing entry %d: %w", w.stream, w.count, err)
		return w.err
	}
	w.raw += len(entry)
	if w.count == 0 {
		w.first = ts
	}
	w.last = ts
	w.count++
	return nil
}

// write hands p to the lz4 writer in whole blocks, staging the rest. The
// lz4 writer compresses a whole block passed to an empty buffer straight
// from the caller's memory, so this copies each byte once, and calls into
// lz4 once per block rather than once per entry. The raw CRC is computed
// over the same large chunks, which is faster than entry by entry.
func (w *Writer) write(p []byte) error {
	for len(p) > 0 {
		if len(w.stage) == 0 && len(p) >= blockSize {
			k := len(p) / blockSize * blockSize
			if err := w.compress(p[:k]); err != nil {
				return err
			}
			p = p[k:]
			continue
		}
		n := copy(w.stage[len(w.stage):blockSize], p)
		w.stage = w.stage[:len(w.stage)+n]
		p = p[n:]
		if len(w.stage) == blockSize {
			if err := w.compress(w.stage); err != nil {
				return err
			}
			w.stage = w.stage[:0]
		}
	}
	return nil
}

// compress passes raw bytes to the lz4 writer, which is done with b when
// Write returns (it compresses synchronously or copies), so b may be reused.
func (w *Writer) compress(b []byte) error {
	w.rawCRC = crc32c(w.rawCRC, b)
	_, err := w.zw.Write(b)
	return err
}

// checkEntry validates one raw entry as Append documents and returns its ts.
func checkEntry(entry []byte) (oplog.Timestamp, error) {
	n := len(entry)
	if n < minEntrySize || n > MaxEntrySize {
		return oplog.Timestamp{}, fmt.Errorf("%d bytes, not in [%d, %d]: %w", n, minEntrySize, MaxEntrySize, ErrInvalidEntry)
	}
	if l := binary.LittleEndian.Uint32(entry); l != uint32(n) {
		return oplog.Timestamp{}, fmt.Errorf("BSON length prefix %d but %d bytes: %w", l, n, ErrInvalidEntry)
	}
	if entry[n-1] != 0 {
		return oplog.Timestamp{}, fmt.Errorf("BSON document does not end with 0x00: %w", ErrInvalidEntry)
	}
	return entryTS(entry)
}

// Count is the number of entries appended to the current segment.
func (w *Writer) Count() int { return w.count }

// RawSize is the number of uncompressed bytes appended to the current
// segment; callers cut segments by it.
func (w *Writer) RawSize() int { return w.raw }

// OpStart is the ts of the first entry of the current segment (zero if none).
func (w *Writer) OpStart() oplog.Timestamp { return w.first }

// OpEnd is the ts of the last entry of the current segment (zero if none).
func (w *Writer) OpEnd() oplog.Timestamp { return w.last }

// Finish completes the segment and returns its Info and its bytes. The bytes
// belong to the Writer and stay valid until the next Start. It fails if no
// entry was appended; the segment is then still open.
func (w *Writer) Finish() (Info, []byte, error) {
	if w.err != nil {
		return Info{}, nil, w.err
	}
	if w.finished {
		return Info{}, nil, fmt.Errorf("segment writer %s: Finish called twice; call Start first", w.stream)
	}
	if w.count == 0 {
		return Info{}, nil, fmt.Errorf("segment writer %s: Finish without entries; a segment holds at least one", w.stream)
	}
	if err := w.compress(w.stage); err != nil {
		w.err = fmt.Errorf("segment writer %s: compressing: %w", w.stream, err)
		return Info{}, nil, w.err
	}
	w.stage = w.stage[:0]
	if err := w.zw.Close(); err != nil {
		w.err = fmt.Errorf("segment writer %s: finishing the lz4 frame: %w", w.stream, err)
		return Info{}, nil, w.err
	}
	h := Header{
		Version:  FormatVersion,
		Codec:    CodecLZ4Frame,
		Stream:   w.stream,
		OpStart:  w.first,
		OpEnd:    w.last,
		Count:    uint64(w.count),
		RawSize:  uint64(w.raw),
		BodySize: uint64(len(w.out.b) - w.hdrLen),
		Prev:     w.prev,
	}
	rawCRC := w.rawCRC
	if w.keys != nil {
		if err := w.seal(&h); err != nil {
			w.err = fmt.Errorf("segment writer %s: %w", w.stream, err)
			return Info{}, nil, w.err
		}
		// The raw CRC went into the sealed body: in the clear it would
		// let anyone confirm a guess of the plaintext.
		rawCRC = 0
	} else {
		putHeader(w.out.b[:w.hdrLen], &h)
	}

	le := binary.LittleEndian
	b := le.AppendUint64(w.out.b, h.BodySize)
	b = le.AppendUint32(b, rawCRC)
	b = append(b, trailerMagic...)
	sum := crc32c(0, b)
	b = le.AppendUint32(b, sum)
	w.out.b = b
	w.finished = true

	return Info{
		Name:      h.Name(),
		Stream:    h.Stream,
		OpStart:   h.OpStart,
		OpEnd:     h.OpEnd,
		Count:     h.Count,
		RawSize:   h.RawSize,
		Size:      uint64(len(b)),
		Checksum:  sum,
		Prev:      h.Prev,
		Encrypted: h.Encrypted,
		KeyID:     h.KeyID,
	}, b, nil
}

// seal completes the header of an encrypted segment and seals the lz4
// frame, followed by the raw CRC, into the body: one pass over the
// compressed bytes, straight into the output buffer, with the header (all
// but its CRC) as the additional data of every chunk. The header cannot be
// written before the body is complete (it holds the counts and the body
// size), so neither can the first chunk be sealed.
func (w *Writer) seal(h *Header) error {
	p, err := crypt.NewParams(w.keys)
	if err != nil {
		return err
	}
	if w.chunk != 0 {
		p.ChunkSize = w.chunk
	}
	c, err := crypt.NewCipher(w.keys, p, crypt.InfoSegment, "segment "+h.Name())
	if err != nil {
		return err
	}
	w.plain.b = binary.LittleEndian.AppendUint32(w.plain.b, w.rawCRC)
	h.Encrypted, h.KeyID, h.enc = true, p.KeyID, p
	h.BodySize = uint64(crypt.SealedSize(int64(len(w.plain.b)), c.ChunkSize()))
	if need := w.hdrLen + int(h.BodySize) + TrailerSize; cap(w.out.b) < need {
		w.out.b = append(make([]byte, 0, need), w.out.b[:w.hdrLen]...)
	}
	hdr := w.out.b[:w.hdrLen]
	putHeader(hdr, h)
	// A copy: the AEAD contract forbids additional data overlapping dst.
	w.aad = append(w.aad[:0], hdr[:w.hdrLen-4]...)
	w.out.b = c.Seal(hdr, w.plain.b, w.aad)
	return nil
}
