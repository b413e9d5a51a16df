package segment

import (
	"fmt"
	"hash/crc32"
	"unicode/utf8"

	"github.com/tidelog/tidelog/crypt"
)

// The on-disk layout; docs/segment-format.md is the specification and must
// change with this file. All integers are little-endian.
const (
	// FormatVersion is the only segment format version this code writes and reads.
	FormatVersion uint16 = 1
	// CodecLZ4Frame marks a body that is one lz4 frame with block checksums.
	CodecLZ4Frame uint8 = 1

	// MaxEntrySize bounds one raw oplog entry. MongoDB caps documents at
	// 16 MiB; oplog entries wrapping them (applyOps, o2) can exceed that a
	// little. Writers refuse larger entries and readers treat a larger length
	// as corruption, so a damaged length field never makes them allocate more.
	MaxEntrySize = 48 << 20
	// MaxStreamLen bounds the stream name in bytes.
	MaxStreamLen = 1024
	// TrailerSize is the fixed size of the trailer that ends every segment.
	TrailerSize = 24

	headerMagic  = "TIDESEG\x00"
	trailerMagic = "TIDEEND\x00"

	// Header field offsets. Bytes [0, prefixSize) mean the same in every
	// format version, as does the header CRC in the header's last 4 bytes;
	// readers rely on that to tell "newer version" from "corrupt".
	offVersion      = 8
	offCodec        = 10
	offFlags        = 11
	offHeaderLen    = 12
	prefixSize      = 16
	offOpStart      = 16
	offOpEnd        = 24
	offCount        = 32
	offRawSize      = 40
	offBodySize     = 48
	offPrevOpEnd    = 56
	offPrevChecksum = 64
	offStreamLen    = 68
	offStream       = 70

	// FlagEncrypted (header flags bit 0) marks an encrypted segment: the
	// header's extension area begins with the encryption block and the
	// body is sealed (docs/segment-format.md, docs/encryption.md). Readers
	// that predate it stop with ErrUnsupported, as for any unknown flag.
	FlagEncrypted uint8 = 1

	// The encryption block, at the start of the extension area (offsets
	// from there): algorithm, chunk size, key id, salt.
	encOffAlg       = 0
	encOffChunkSize = 1
	encOffKeyID     = 5
	encOffSalt      = encOffKeyID + crypt.KeyIDSize
	encBlockSize    = encOffSalt + crypt.SaltSize

	// minHeaderSize is the version-1 header with an empty stream name
	// (which is then rejected); maxHeaderSize bounds what a reader will
	// allocate for a header whose length field is damaged.
	minHeaderSize = offStream + 4
	maxHeaderSize = 64 << 10

	// minEntrySize is the smallest BSON document: length and terminator.
	minEntrySize = 5

	// Offsets within the trailer.
	offTrailerBodySize = 0
	offTrailerRawCRC   = 8
	offTrailerMagic    = 12
	offTrailerFileCRC  = 20
)

// headerSize is the length of the version-1 header for a stream name.
func headerSize(stream string) int { return minHeaderSize + len(stream) }

// headerSizeFor is headerSize, with the encryption block if encrypted.
func headerSizeFor(stream string, encrypted bool) int {
	if encrypted {
		return headerSize(stream) + encBlockSize
	}
	return headerSize(stream)
}

// rawCRCSize is the raw CRC-32C that follows the lz4 frame inside an
// encrypted body, where it cannot confirm a guess about the plaintext.
const rawCRCSize = 4

// crc32c extends crc with the CRC-32C (Castagnoli) of b. MakeTable returns
// the same cached table on every call for Castagnoli, which makes
// crc32.Update take its hardware-accelerated path.
func crc32c(crc uint32, b []byte) uint32 {
	return crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), b)
}

// checkStream returns why s cannot be a stream name, or nil.
func checkStream(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("stream name is empty")
	case len(s) > MaxStreamLen:
		return fmt.Errorf("stream name is %d bytes, more than %d", len(s), MaxStreamLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("stream name %q is not UTF-8", s)
	}
	return nil
}
