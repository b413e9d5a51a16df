package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/tidelog/tidelog/crypt"
	"github.com/tidelog/tidelog/oplog"
)

// Header is the decoded, verified header of a segment.
type Header struct {
	Version  uint16          // format version, FormatVersion
	Codec    uint8           // body codec, CodecLZ4Frame
	Stream   string          // replica set (stream) name
	OpStart  oplog.Timestamp // ts of the first entry
	OpEnd    oplog.Timestamp // ts of the last entry
	Count    uint64          // number of entries, at least 1
	RawSize  uint64          // bytes of concatenated BSON entries
	BodySize uint64          // bytes of the compressed body
	Prev     Link            // previous segment of the stream; zero starts a chain
	// Encrypted says the body is sealed (FlagEncrypted) with the master
	// key KeyID names; the header itself is plaintext, so catalogs and
	// structural checks need no key.
	Encrypted bool
	KeyID     crypt.KeyID
	enc       crypt.Params // when Encrypted: what decrypting needs
}

// Name is the name the segment must be stored under.
func (h Header) Name() string { return Name(h.OpStart, h.OpEnd) }

// FileSize is the size of the whole segment file, given the header length
// that ReadHeader returns; a catalog can know sizes without reading bodies.
func (h Header) FileSize(headerLen int64) uint64 {
	return uint64(headerLen) + h.BodySize + TrailerSize
}

// putHeader encodes h into b, which is exactly headerSizeFor(h.Stream,
// h.Encrypted) long, ending with the header CRC.
func putHeader(b []byte, h *Header) {
	le := binary.LittleEndian
	copy(b, headerMagic)
	le.PutUint16(b[offVersion:], h.Version)
	b[offCodec] = h.Codec
	b[offFlags] = 0
	if h.Encrypted {
		b[offFlags] = FlagEncrypted
		e := b[offStream+len(h.Stream):]
		e[encOffAlg] = h.enc.Alg
		le.PutUint32(e[encOffChunkSize:], h.enc.ChunkSize)
		copy(e[encOffKeyID:], h.enc.KeyID[:])
		copy(e[encOffSalt:], h.enc.Salt[:])
	}
	le.PutUint32(b[offHeaderLen:], uint32(len(b)))
	le.PutUint64(b[offOpStart:], h.OpStart.Uint64())
	le.PutUint64(b[offOpEnd:], h.OpEnd.Uint64())
	le.PutUint64(b[offCount:], h.Count)
	le.PutUint64(b[offRawSize:], h.RawSize)
	le.PutUint64(b[offBodySize:], h.BodySize)
	le.PutUint64(b[offPrevOpEnd:], h.Prev.OpEnd.Uint64())
	le.PutUint32(b[offPrevChecksum:], h.Prev.Checksum)
	le.PutUint16(b[offStreamLen:], uint16(len(h.Stream)))
	copy(b[offStream:], h.Stream)
	le.PutUint32(b[len(b)-4:], crc32c(0, b[:len(b)-4]))
}

// parseHeader decodes and checks a complete header b whose prefix has
// already been checked by headerLen. It returns a *CorruptError or an
// *UnsupportedError (with an empty Segment; the caller fills it in).
func parseHeader(b []byte) (Header, error) {
	le := binary.LittleEndian
	n := len(b)
	if want, got := le.Uint32(b[n-4:]), crc32c(0, b[:n-4]); want != got {
		return Header{}, &CorruptError{Offset: int64(n), Reason: fmt.Sprintf("header checksum mismatch (stored %08x, computed %08x)", want, got)}
	}
	// The checksum holds, so the fields are as written: an unknown value
	// comes from a newer writer, not from damage.
	if v := le.Uint16(b[offVersion:]); v != FormatVersion {
		return Header{}, &UnsupportedError{Feature: fmt.Sprintf("format version %d", v)}
	}
	if c := b[offCodec]; c != CodecLZ4Frame {
		return Header{}, &UnsupportedError{Feature: fmt.Sprintf("codec %d", c)}
	}
	flags := b[offFlags]
	if f := flags &^ FlagEncrypted; f != 0 {
		return Header{}, &UnsupportedError{Feature: fmt.Sprintf("header flags %#02x", f)}
	}
	corrupt := func(off int, format string, args ...any) (Header, error) {
		return Header{}, &CorruptError{Offset: int64(off), Reason: "header: " + fmt.Sprintf(format, args...)}
	}
	if n < minHeaderSize {
		return corrupt(offHeaderLen, "length %d is less than the %d bytes of a version-1 header", n, minHeaderSize)
	}
	sl := int(le.Uint16(b[offStreamLen:]))
	if offStream+sl > n-4 {
		return corrupt(offStreamLen, "stream name of %d bytes overruns the %d-byte header", sl, n)
	}
	h := Header{
		Version:  FormatVersion,
		Codec:    CodecLZ4Frame,
		Stream:   string(b[offStream : offStream+sl]),
		OpStart:  oplog.FromUint64(le.Uint64(b[offOpStart:])),
		OpEnd:    oplog.FromUint64(le.Uint64(b[offOpEnd:])),
		Count:    le.Uint64(b[offCount:]),
		RawSize:  le.Uint64(b[offRawSize:]),
		BodySize: le.Uint64(b[offBodySize:]),
		Prev: Link{
			OpEnd:    oplog.FromUint64(le.Uint64(b[offPrevOpEnd:])),
			Checksum: le.Uint32(b[offPrevChecksum:]),
		},
	}
	if flags&FlagEncrypted != 0 {
		if err := parseEncryption(b, offStream+sl, &h); err != nil {
			return Header{}, err
		}
	}
	// A header that passed its checksum but breaks these rules was not
	// written by a correct writer; treat it as corruption.
	if err := checkStream(h.Stream); err != nil {
		return corrupt(offStream, "%v", err)
	}
	if h.OpStart.IsZero() {
		return corrupt(offOpStart, "opStart is 0.0")
	}
	if h.OpEnd.Before(h.OpStart) {
		return corrupt(offOpEnd, "opEnd %s is before opStart %s", h.OpEnd, h.OpStart)
	}
	if h.Count == 0 || h.Count-1 > h.OpEnd.Uint64()-h.OpStart.Uint64() {
		return corrupt(offCount, "%d entries cannot have distinct ts in [%s, %s]", h.Count, h.OpStart, h.OpEnd)
	}
	if (h.Count == 1) != (h.OpStart == h.OpEnd) {
		return corrupt(offCount, "%d entries in [%s, %s]", h.Count, h.OpStart, h.OpEnd)
	}
	if h.RawSize/minEntrySize < h.Count || (h.Count <= math.MaxUint64/MaxEntrySize && h.RawSize > h.Count*MaxEntrySize) {
		return corrupt(offRawSize, "raw size %d does not fit %d entries of %d to %d bytes", h.RawSize, h.Count, minEntrySize, MaxEntrySize)
	}
	if h.BodySize < lz4FrameStart || h.BodySize > math.MaxInt64 {
		return corrupt(offBodySize, "body size %d is impossible", h.BodySize)
	}
	if h.Encrypted {
		// The sealed body holds the lz4 frame and the raw CRC; only some
		// sizes are made of whole chunks and a final one.
		plain, ok := crypt.PlainSize(int64(h.BodySize), int(h.enc.ChunkSize))
		if !ok || plain < lz4FrameStart+rawCRCSize {
			return corrupt(offBodySize, "body size %d is not a sealed body of %d-byte chunks", h.BodySize, h.enc.ChunkSize)
		}
	}
	if !h.Prev.IsZero() && !h.OpStart.After(h.Prev.OpEnd) {
		return corrupt(offPrevOpEnd, "previous segment ends at %s, not before opStart %s", h.Prev.OpEnd, h.OpStart)
	}
	return h, nil
}

// parseEncryption decodes the encryption block at b[at:] into h. The header
// CRC already holds: an unknown algorithm or chunk size is unsupported.
func parseEncryption(b []byte, at int, h *Header) error {
	le := binary.LittleEndian
	if at+encBlockSize > len(b)-4 {
		return &CorruptError{Offset: int64(at), Reason: fmt.Sprintf("header: encrypted, but the %d-byte header has no room for the %d-byte encryption block", len(b), encBlockSize)}
	}
	e := b[at:]
	p := crypt.Params{Alg: e[encOffAlg], ChunkSize: le.Uint32(e[encOffChunkSize:])}
	copy(p.KeyID[:], e[encOffKeyID:])
	copy(p.Salt[:], e[encOffSalt:])
	if err := p.Check(); err != nil {
		var ue *crypt.UnsupportedError
		if errors.As(err, &ue) {
			return &UnsupportedError{Feature: ue.Feature}
		}
		return err
	}
	h.Encrypted, h.KeyID, h.enc = true, p.KeyID, p
	return nil
}

// headerLen checks the fixed prefix of a header and returns the header length.
func headerLen(p []byte) (int, error) {
	if string(p[:len(headerMagic)]) != headerMagic {
		return 0, &CorruptError{Offset: 0, Reason: "no segment magic: not a tidelog segment"}
	}
	n := binary.LittleEndian.Uint32(p[offHeaderLen:])
	if n < prefixSize+4 || n > maxHeaderSize {
		return 0, &CorruptError{Offset: offHeaderLen, Reason: fmt.Sprintf("header length %d outside [%d, %d]", n, prefixSize+4, maxHeaderSize)}
	}
	return int(n), nil
}

// ReadHeader reads and verifies only the header of a segment, and returns it
// with its length in bytes; r is left just after the header. It lets a
// catalog be built from a store listing without reading bodies. Errors are
// a *CorruptError, an *UnsupportedError, or an I/O error from r (wrapped).
func ReadHeader(r io.Reader) (Header, int64, error) {
	h, b, err := readHeader(r)
	if err != nil {
		return Header{}, 0, named(err, "")
	}
	return h, int64(len(b)), nil
}

// readHeader reads exactly the header from r and returns it decoded and as
// stored (an encrypted body authenticates the stored bytes).
func readHeader(r io.Reader) (Header, []byte, error) {
	var prefix [prefixSize]byte
	if k, err := io.ReadFull(r, prefix[:]); err != nil {
		return Header{}, nil, readErr(err, int64(k), "header")
	}
	n, err := headerLen(prefix[:])
	if err != nil {
		return Header{}, nil, err
	}
	b := make([]byte, n)
	copy(b, prefix[:])
	if k, err := io.ReadFull(r, b[prefixSize:]); err != nil {
		return Header{}, nil, readErr(err, int64(prefixSize+k), "header")
	}
	h, err := parseHeader(b)
	return h, b, err
}

// readErr turns an error of io.ReadFull on the file into a truncation
// (*CorruptError) or an I/O error. off is where reading stopped.
func readErr(err error, off int64, region string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &CorruptError{Offset: off, Reason: "file truncated in the " + region}
	}
	return fmt.Errorf("reading byte %d: %w", off, err)
}

// named gives err the segment's name: typed errors get it in their Segment
// field, others (I/O errors) a "segment NAME: " prefix.
func named(err error, segment string) error {
	var ce *CorruptError
	var ue *UnsupportedError
	switch {
	case errors.As(err, &ce):
		ce.Segment = segment
		return err
	case errors.As(err, &ue):
		ue.Segment = segment
		return err
	case segment == "":
		return fmt.Errorf("segment: %w", err)
	}
	return fmt.Errorf("segment %s: %w", segment, err)
}
