package s3store

import (
	"context"
	"io"
)

// partSource yields an upload's bytes one part at a time. next returns up to
// size bytes and whether they are the last; the slice is valid until the
// next call. A source knows it is at its end when it returns the last part,
// so an object that fits one part is written with one PUT.
type partSource interface {
	next(ctx context.Context, size int64) (part []byte, last bool, err error)
}

// sliceParts serves a byte slice without copying it.
type sliceParts struct{ data []byte }

func (p *sliceParts) next(_ context.Context, size int64) ([]byte, bool, error) {
	if int64(len(p.data)) <= size {
		part := p.data
		p.data = nil
		return part, true, nil
	}
	part := p.data[:size]
	p.data = p.data[size:]
	return part, false, nil
}

// readerParts reads a stream of unknown length into one reused buffer,
// which grows only as far as the data does (a small file costs a small
// buffer, not a part). One byte is read ahead to tell a full last part from
// one that is followed by more.
type readerParts struct {
	r       io.Reader
	buf     []byte
	ahead   []byte // 0 or 1 byte read past the previous part
	err     error  // the reader's error, io.EOF at its end
	counted int64  // bytes taken from r
}

func (p *readerParts) next(ctx context.Context, size int64) ([]byte, bool, error) {
	p.buf = append(p.buf[:0], p.ahead...)
	p.ahead = p.ahead[:0]
	for int64(len(p.buf)) < size && p.err == nil {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if len(p.buf) == cap(p.buf) {
			grown := min(max(2*int64(cap(p.buf)), 64<<10), size)
			p.buf = append(make([]byte, 0, grown), p.buf...)
		}
		n, err := p.r.Read(p.buf[len(p.buf):min(int64(cap(p.buf)), size)])
		p.buf = p.buf[:len(p.buf)+n]
		p.counted += int64(n)
		p.err = err
	}
	if p.err != nil && p.err != io.EOF {
		return nil, false, p.err
	}
	if p.err == nil {
		var one [1]byte
		n, err := io.ReadFull(p.r, one[:])
		p.counted += int64(n)
		if n == 1 {
			p.ahead = append(p.ahead, one[0])
		}
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = io.EOF
		}
		p.err = err
		if err != nil && err != io.EOF {
			return nil, false, err
		}
	}
	return p.buf, len(p.ahead) == 0 && p.err == io.EOF, nil
}
