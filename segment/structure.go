package segment

import (
	"fmt"
	"io"
)

// VerifyStructure checks everything of the segment in r that needs no key
// and no decompression: the header (magic, CRC, fields, and for an
// encrypted segment the encryption block and a body size made of whole
// chunks), the name against the header's range, the body's length, the
// trailer (magic, body size, the raw CRC field that must be 0 when
// encrypted) and the file checksum over every byte, nothing after it. It
// returns the same Info as Verify, Encrypted and KeyID included.
//
// It is what `replayer verify` can say of an encrypted segment without the
// key: the bytes are the ones written, under the right name, in the right
// place of the chain. It cannot tell whether the sealed body
// authenticates, which needs the key (VerifyWith); for a plaintext segment
// it does not decompress or check entries (Verify does).
func VerifyStructure(r io.Reader, name string) (Info, error) {
	rd, _, err := openSegment(r, name)
	if err != nil {
		return Info{}, err
	}
	if !rd.hdr.Encrypted {
		var frame [lz4FrameStart]byte
		if k, err := io.ReadFull(&rd.body, frame[:]); err != nil {
			return Info{}, rd.bodyErr(err, fmt.Sprintf("the lz4 frame start (%d of %d bytes)", k, lz4FrameStart))
		}
		if err := checkFrameStart(frame[:]); err != nil {
			return Info{}, rd.corrupt(int64(rd.hdrLen), nil, "%v", err)
		}
	}
	if _, err := io.Copy(io.Discard, &rd.body); err != nil {
		return Info{}, rd.bodyErr(err, "the body")
	}
	if rd.body.N > 0 {
		return Info{}, rd.corrupt(rd.src.off, nil, "file truncated in the body (%d of %d bytes)", rd.hdr.BodySize-uint64(rd.body.N), rd.hdr.BodySize)
	}
	if rd.hdr.Encrypted {
		return rd.trailer(0)
	}
	// The raw CRC of a plaintext segment needs the entries: take it as
	// stored; the file checksum still covers it.
	return rd.trailerAnyRawCRC()
}
