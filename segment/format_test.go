package segment

import "testing"

// The CRC the format specifies, with the check value given in
// docs/segment-format.md.
func TestCRC32C(t *testing.T) {
	if got := crc32c(0, []byte("123456789")); got != 0xE3069283 {
		t.Fatalf("CRC-32C(123456789) = %08x", got)
	}
}

// The layout constants agree with docs/segment-format.md.
func TestLayout(t *testing.T) {
	if headerSize("rs0") != 74+3 || minHeaderSize != 74 || TrailerSize != 8+4+8+4 ||
		offTrailerFileCRC != TrailerSize-4 || len(headerMagic) != 8 || len(trailerMagic) != 8 {
		t.Fatal("layout constants changed; update docs/segment-format.md")
	}
}
