package snapshot

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/pierrec/lz4/v4"

	"github.com/tidelog/tidelog/store"
)

// FormatVersion is the snapshot format this package writes and reads
// (docs/snapshot-format.md). A manifest of another version is refused with
// ErrUnsupported rather than guessed at.
const FormatVersion = 1

// ManifestName is the file that makes a snapshot complete. It is written
// after every data file is durable, so its presence (and valid checksum)
// proves that all the files it lists were stored.
const ManifestName = store.SnapshotCommitFile

// dataSuffix ends every data file name: the content is raw BSON in one lz4 frame.
const dataSuffix = ".bson.lz4"

// maxDocSize bounds one document: MongoDB's 16 MiB plus the 16 KiB it allows
// internally. A reader checks a length prefix against it before allocating,
// so a damaged prefix cannot make it allocate gigabytes.
const maxDocSize = 16<<20 + 16<<10

// minDocSize is the smallest BSON document: length prefix and terminator.
const minDocSize = 5

// castagnoli is the CRC-32C table, as for segments.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// lz4Options are the frame settings of data files.
//
//   - Block checksums on: a reader rejects a damaged block before it hands
//     out any document decoded from it.
//   - Content checksum on: an xxHash32 of the uncompressed bytes, checked at
//     the end of the frame, catches codec bugs independently of the block
//     checksums (segments use their own raw CRC for this instead).
//   - 1 MiB blocks and the Fast level: copying is bound by the server and
//     the network, not by compression; larger blocks compress documents a
//     little better than the segments' 256 KiB.
//   - One goroutine per frame: files are already written in parallel, one
//     per worker.
func lz4Options() []lz4.Option {
	return []lz4.Option{
		lz4.BlockChecksumOption(true),
		lz4.ChecksumOption(true),
		lz4.BlockSizeOption(lz4.Block1Mb),
		lz4.CompressionLevelOption(lz4.Fast),
		lz4.ConcurrencyOption(1),
	}
}

// The start of an lz4 frame: magic (4 bytes), FLG, BD.
const (
	frameStart      = 6
	lz4FrameMagic   = 0x184D2204
	lz4FlgVersion   = 0xC0 // FLG bits 7-6: frame version, must be 01
	lz4FlgVersion01 = 0x40
	lz4FlgBlockSum  = 0x10 // FLG bit 4: block checksums
	lz4FlgDictID    = 0x01 // FLG bit 0: dictionary ID
)

// checkFrameStart checks what the format requires of the lz4 frame beyond
// what the lz4 reader checks: a standard frame whose blocks carry checksums.
// Without it, damage to the FLG byte that happened to match the descriptor's
// one-byte checksum could switch block checksums off unnoticed.
func checkFrameStart(p []byte) error {
	if len(p) < frameStart {
		return fmt.Errorf("file is %d bytes, shorter than an lz4 frame header", len(p))
	}
	if m := binary.LittleEndian.Uint32(p); m != lz4FrameMagic {
		return fmt.Errorf("not an lz4 frame (magic %08x)", m)
	}
	flg := p[4]
	switch {
	case flg&lz4FlgVersion != lz4FlgVersion01:
		return fmt.Errorf("lz4 frame version bits %#02x, want 01", flg>>6)
	case flg&lz4FlgBlockSum == 0:
		return fmt.Errorf("lz4 frame without block checksums")
	case flg&lz4FlgDictID != 0:
		return fmt.Errorf("lz4 frame with a dictionary ID")
	}
	return nil
}
