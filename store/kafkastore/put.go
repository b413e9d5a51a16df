package kafkastore

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// streamWindow is how many frames of a streamed put may wait for their
// acknowledgement at once: memory stays a few frames whatever the size of
// the file, and producing overlaps the round trips.
const streamWindow = 4

// putBytes stores data as kind/name in stream's topic and returns once
// Kafka acknowledged every frame.
func (s *Store) putBytes(ctx context.Context, stream, kind, name string, data []byte) error {
	attempt, recs, err := s.frames(stream, kind, name, data)
	if err != nil {
		return err
	}
	defer s.track(attempt)()
	began := time.Now()
	first, err := s.produceAll(ctx, recs)
	if err != nil {
		return err
	}
	return s.checkNotCut(ctx, s.topic(stream), first, began)
}

// frames splits data into as many frames of kind/name as MaxMessageBytes
// requires, each carrying the count, size and CRC-32C of the whole, under a
// new attempt. The frames are slices of data, which is not copied.
func (s *Store) frames(stream, kind, name string, data []byte) (attempt string, recs []*kgo.Record, err error) {
	payload, err := s.payloadBytes(kind, name)
	if err != nil {
		return "", nil, err
	}
	if attempt, err = newAttempt(); err != nil {
		return "", nil, err
	}
	n := max(1, (len(data)+payload-1)/payload)
	f := frame{kind: kind, name: name, attempt: attempt, frames: n, size: int64(len(data)), crc: crc32.Checksum(data, castagnoli)}
	recs = make([]*kgo.Record, n)
	for i := range n {
		f.index = i
		recs[i] = f.record(s.topic(stream), data[i*payload:min((i+1)*payload, len(data))])
	}
	return attempt, recs, nil
}

// putStream stores r's bytes as kind/name in stream's topic without knowing
// their length: data frames as r yields them, then an empty final frame
// with the count, size and CRC-32C. Until that frame is acknowledged the
// copy is incomplete and never listed, so an interrupted put is invisible.
// It returns the number of bytes stored.
func (s *Store) putStream(ctx context.Context, stream, kind, name string, r io.Reader) (int64, error) {
	payload, err := s.payloadBytes(kind, name)
	if err != nil {
		return 0, err
	}
	attempt, err := newAttempt()
	if err != nil {
		return 0, err
	}
	defer s.track(attempt)()
	began := time.Now()
	topic := s.topic(stream)
	a := newAcks(streamWindow + 1)
	f := frame{kind: kind, name: name, attempt: attempt}
	var crc uint32
	for f.index = 0; ; f.index++ { // ends at r's EOF, a read error or ctx
		buf := make([]byte, payload) // kept by the client until acknowledged
		n, rerr := io.ReadFull(ctxReader{ctx, r}, buf)
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			return 0, rerr
		}
		if n == 0 {
			break
		}
		if a.pending == streamWindow {
			if err := a.wait(ctx, 1); err != nil {
				return 0, err
			}
		}
		f.size += int64(n)
		crc = crc32.Update(crc, castagnoli, buf[:n])
		a.produce(ctx, s.cl, f.record(topic, buf[:n]))
		if rerr != nil {
			f.index++
			break
		}
	}
	f.frames, f.crc = f.index+1, crc
	a.produce(ctx, s.cl, f.record(topic, nil))
	if err := a.wait(ctx, a.pending); err != nil {
		return 0, err
	}
	if err := s.checkNotCut(ctx, topic, a.first, began); err != nil {
		return 0, err
	}
	return f.size, nil
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
