package dump

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
)

// maybeGunzip returns r itself, or a gzip reader over it when r starts with
// the gzip magic (1f 8b), so callers accept --gzip output transparently.
func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
		// Too short to be gzip (or empty): let the format reader report it.
		return br, nil
	}
	gz, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("gzip header: %w", err)
	}
	return gz, nil
}
