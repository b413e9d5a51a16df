package segment

import (
	"encoding/binary"
	"fmt"

	"github.com/pierrec/lz4/v4"
)

// blockSize is the lz4 block size. The Writer hands the lz4 writer whole
// blocks, and the Reader asks for one block at a time, so that neither side
// copies data through the lz4 package's own block buffer.
const blockSize = 256 << 10

// LZ4Options returns the lz4 frame options the Writer compresses with, so
// that benchmarks and tools measure against exactly the same codec settings.
//
//   - Block checksums on: a reader verifies each block before it hands out
//     any entry decoded from it.
//   - Content checksum off: the trailer's raw CRC-32C already covers every
//     uncompressed byte, independently of the codec.
//   - 256 KiB blocks and the Fast level: the capture path must keep up with
//     the oplog; smaller blocks stay in cache and bound the writer's memory
//     to about two blocks plus the compressed output.
//   - One goroutine: the capture loop already runs alongside the network
//     reads, goroutines per block allocate on every block, and only a
//     synchronous lz4 writer compresses whole blocks straight from the
//     Writer's staging buffer instead of copying them first.
func LZ4Options() []lz4.Option {
	return []lz4.Option{
		lz4.BlockChecksumOption(true),
		lz4.ChecksumOption(false),
		lz4.BlockSizeOption(lz4.BlockSize(blockSize)),
		lz4.CompressionLevelOption(lz4.Fast),
		lz4.ConcurrencyOption(1),
	}
}

// The start of an lz4 frame: magic (4 bytes), FLG, BD.
const (
	lz4FrameStart   = 6
	lz4FrameMagic   = 0x184D2204
	lz4FlgVersion   = 0xC0 // FLG bits 7-6: frame version, must be 01
	lz4FlgBlockSum  = 0x10 // FLG bit 4: block checksums
	lz4FlgVersion01 = 0x40
)

// checkFrameStart checks what the segment format requires of the lz4 frame
// beyond what the lz4 reader checks: a standard (not legacy or skippable)
// frame whose blocks carry checksums. Without this, damage to the FLG byte
// that happened to match the descriptor's one-byte checksum could switch
// block checksums off.
func checkFrameStart(p []byte) error {
	if m := binary.LittleEndian.Uint32(p); m != lz4FrameMagic {
		return fmt.Errorf("body is not an lz4 frame (magic %08x)", m)
	}
	flg := p[4]
	if flg&lz4FlgVersion != lz4FlgVersion01 {
		return fmt.Errorf("lz4 frame version bits %#02x, want 01", flg>>6)
	}
	if flg&lz4FlgBlockSum == 0 {
		return fmt.Errorf("lz4 frame without block checksums")
	}
	return nil
}
