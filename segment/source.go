package segment

import (
	"errors"
	"io"
)

// source wraps the reader a segment is read from. It counts the bytes
// consumed (the offsets in errors), extends the file CRC over them while sum
// is set, and remembers the first failure of the underlying reader so that an
// I/O error is never reported as corruption.
type source struct {
	r     io.Reader
	off   int64
	crc   uint32
	sum   bool
	eof   bool  // r returned io.EOF
	ioErr error // first error from r other than io.EOF
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n < 0 || n > len(p) {
		n, err = 0, errors.New("reader returned an invalid count")
	}
	if n > 0 {
		if s.sum {
			s.crc = crc32c(s.crc, p[:n])
		}
		s.off += int64(n)
	}
	switch {
	case err == io.EOF:
		s.eof = true
	case err != nil && s.ioErr == nil:
		s.ioErr = err
	}
	return n, err
}
