package kafkastore

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tidelog/tidelog/store"
)

// objectReader streams one complete copy back from its frames, in order,
// holding one fetch at a time. It checks every frame's headers against the
// index, and the total size and CRC-32C at the end: a damaged or vanished
// copy is an error, never a clean EOF.
type objectReader struct {
	ctx  context.Context // of the open call; it bounds every fetch
	src  *recordSource
	obj  *object
	fail func(error) error // wraps errors with the store and the object

	i   int    // next frame to read
	cur []byte // unread bytes of the current frame
	n   int64
	crc uint32
	err error // sticky: io.EOF or the failure
}

// openObject starts reading obj from topic. ctx bounds the reads, not just
// the open: the caller keeps it alive while reading.
func (s *Store) openObject(ctx context.Context, topic string, obj *object, op string) (io.ReadCloser, error) {
	src, err := s.openSource(topic, obj.offsets[0])
	if err != nil {
		return nil, s.errorf(op, err)
	}
	return &objectReader{ctx: ctx, src: src, obj: obj, fail: func(err error) error { return s.errorf(op, err) }}, nil
}

func (r *objectReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.advance()
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// advance loads the next frame into cur (it may be empty), or ends the
// object with io.EOF once every frame was read and the checksum holds.
func (r *objectReader) advance() error {
	if r.i == len(r.obj.offsets) {
		if r.n != r.obj.size || r.crc != r.obj.crc {
			return r.fail(fmt.Errorf("read %d bytes with CRC-32C %08x, the copy has %d with %08x: damaged",
				r.n, r.crc, r.obj.size, r.obj.crc))
		}
		return io.EOF
	}
	want := r.obj.offsets[r.i]
	for { // every record read is at a higher offset: this ends at want
		rec, err := r.src.next(r.ctx)
		if errors.Is(err, kerr.OffsetOutOfRange) {
			return r.fail(fmt.Errorf("frame at offset %d was deleted while reading: %w", want, store.ErrNotExist))
		}
		if err != nil {
			return r.fail(err)
		}
		if rec.Offset < want {
			continue // another object's frame
		}
		if rec.Offset > want {
			return r.fail(fmt.Errorf("frame at offset %d is gone: %w", want, store.ErrNotExist))
		}
		f, err := parseFrame(rec)
		if err != nil {
			return r.fail(err)
		}
		if f.attempt != r.obj.attempt || f.index != r.i {
			return r.fail(fmt.Errorf("record at offset %d is frame %d of %s, want frame %d of %s: damaged",
				rec.Offset, f.index, f.attempt, r.i, r.obj.attempt))
		}
		r.cur = rec.Value
		r.n += int64(len(rec.Value))
		r.crc = crc32.Update(r.crc, castagnoli, rec.Value)
		r.i++
		return nil
	}
}

// Close ends the reader's consumer.
func (r *objectReader) Close() error {
	r.src.close()
	return nil
}
